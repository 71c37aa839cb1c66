import { Client, type Room } from "@colyseus/sdk";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { fetchMissed } from "./catchUp";
import type { ConnectionEvents, ConnectionOptions } from "./connectionTypes";
import { SeqDelivery, windowAbove, windowHasGap } from "./delivery";
import { Emitter } from "./emitter";
import { ChatError, isFatalJoin, isTransient, toChatError } from "./errors";
import { Outbox } from "./outbox";
import { CLOSE, type Answer, type Payload, type RequestType, type RoomName, type ServerEvents } from "./protocol";
import { expiresWithin } from "./token";

export type { ConnectionEvents, ConnectionOptions } from "./connectionTypes";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One logical connection to one room, over as many SDK rooms (sockets) as it takes:
 * typed requests, messages delivered once in seq order, rejoin through any node after
 * an abnormal close, gap-free catch-up and unsent messages kept until acknowledged.
 * docs/client.md describes the guarantees.
 */
export class ChatConnection<R extends RoomName = RoomName> extends Emitter<ConnectionEvents> {
  room!: Room<any>;
  private token: string;
  private nextUrl = 0;
  private readonly delivery: SeqDelivery;
  private readonly outbox = new Outbox();
  private lastConversationId: string | undefined;
  private primed = false;
  private connectedNow = false;
  private closedFor: ChatError | undefined;
  private epoch = 0;
  private pumping = false;
  private catchingUp: Promise<number> | undefined;
  private catchUpEpoch = 0;
  private waiters: Array<() => void> = [];
  private readonly backoff: BackoffOptions;
  private joinOptions: object;

  private constructor(private readonly opts: ConnectionOptions<R>) {
    super();
    if (opts.urls.length === 0) { throw new Error("ChatConnection needs at least one url"); }
    this.token = opts.token;
    this.joinOptions = opts.options;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.delivery = new SeqDelivery((m) => {
      if (m.conversationId) { this.lastConversationId = m.conversationId; }
      this.emit("message", m);
    });
  }

  /** Joins (the first time; a refusal rejects with a ChatError) and returns the connection. */
  static async join<R extends RoomName>(opts: ConnectionOptions<R>): Promise<ChatConnection<R>> {
    const connection = new ChatConnection(opts);
    connection.attach(await connection.joinOnce(opts.urls[0]));
    // the window the join brought is delivered after the caller has had its turn to add listeners
    setTimeout(() => { if (!connection.primed && connection.room.state?.roomId !== undefined) { connection.onState(connection.room.state); } }, 0);
    return connection;
  }

  get connected(): boolean { return this.connectedNow; }
  get lastSeq(): number { return this.delivery.lastSeq; }
  get state(): any { return this.room.state; }
  get roomId(): string { return this.room.roomId; }
  /** messages typed and not yet acknowledged */
  get unsent(): number { return this.outbox.size; }

  /** A request; waits while the connection is being restored; rejects with a ChatError. */
  async request<T extends RequestType>(type: T, payload: Payload<T>): Promise<Answer<T>> {
    await this.whenConnected();
    try {
      return await this.room.request(type as any, payload as any, { timeout: this.opts.requestTimeoutMs ?? 10_000 }) as Answer<T>;
    } catch (e) {
      throw toChatError(e, type);
    }
  }

  /**
   * Stores a message. It is kept until acknowledged and sent again with the same `id`
   * after a rejoin (the server stores an id once), so nothing typed is lost; messages
   * go one at a time, so they are stored in the order they were typed.
   */
  send(text: string, extra: { id?: string; kind?: "text" | "note" } = {}): Promise<{ seq: number }> {
    if (this.closedFor) { return Promise.reject(this.closedFor); }
    const id = extra.id ?? `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
    return new Promise((resolve, reject) => {
      this.outbox.add({ id, text, kind: extra.kind, attempts: 0, resolve, reject });
      void this.pump();
    });
  }

  read(seq: number) { return this.request("read", { seq }); }
  typing(typing: boolean) { return this.request("typing", { typing }); }
  history(payload: Payload<"history"> = {}) { return this.request("history", payload); }
  conversations(payload: Payload<"conversations"> = {}) { return this.request("conversations", payload); }
  end(reason?: string) { return this.request("end", reason === undefined ? {} : { reason }); }
  transfer(payload: Payload<"transfer">) { return this.request("transfer", payload); }
  invite(payload: Payload<"invite">) { return this.request("invite", payload); }
  handover(reason?: string) { return this.request("handover", reason === undefined ? {} : { reason }); }
  barge() { return this.request("barge", {}); }
  accept(requestId: string) { return this.request("accept", { requestId }); }
  status(payload: Payload<"status">) { return this.request("status", payload); }
  /** An agent starts a conversation on purpose (an outbound follow-up); a `send` with none is refused. */
  start() { return this.request("start", {}); }
  followUp(email: string) { return this.request("follow_up", { email }); }

  /** Replaces the connection's token (`refresh`); later rejoins use it too. */
  async refresh(token: string): Promise<Answer<"refresh">> {
    const answer = await this.request("refresh", { token });
    this.token = token;
    this.emit("token_refreshed", answer);
    return answer;
  }

  /** Leaves for good: no rejoin; unsent messages are rejected with `closed`. */
  async leave(): Promise<void> {
    if (this.closedFor) { return; }
    this.finish(CLOSE.CONSENTED, "left", new ChatError("closed", "the connection was left"));
    if (this.room.connection.isOpen) { await this.room.leave().catch(() => {}); }
  }

  private async joinOnce(url: string): Promise<Room<any>> {
    const client = new Client(url);
    client.auth.token = this.token;
    try {
      const room = await client.joinOrCreate(this.opts.room, this.joinOptions as any);
      // a private room is created by its first join: joining again with those options would create another
      if (this.opts.room === "private") { this.joinOptions = { roomId: room.roomId }; }
      return room;
    } catch (e) {
      throw toChatError(e);
    }
  }

  private attach(room: Room<any>): void {
    const epoch = ++this.epoch;
    this.room = room;
    // the SDK would retry the dead address for ~56 s; a new join through any node is as fast after a blip
    room.reconnection.enabled = false;
    room.onStateChange((state) => { if (epoch === this.epoch) { this.onState(state); } });
    room.onLeave((code, reason) => { if (epoch === this.epoch) { void this.onClose(code, reason); } });
    room.onMessage("conversation_ended", (p: ServerEvents["conversation_ended"]) => this.emit("conversation_ended", p));
    room.onMessage("offer", (p: ServerEvents["offer"]) => this.emit("offer", p));
    room.onMessage("escalated", (p: ServerEvents["escalated"]) => this.emit("escalated", p));
    room.onMessage("error", (p: ServerEvents["error"]) => this.emit("error", new ChatError(p.code, p.message, p.type)));
    room.onMessage("token_expiring", (p: ServerEvents["token_expiring"]) => { this.emit("token_expiring", p); void this.renewToken(); });
    room.onMessage("*", () => {}); // types this library does not know yet are not an error
    this.connectedNow = true;
    for (const wake of this.waiters.splice(0)) { wake(); }
  }

  private onState(state: any): void {
    this.emit("state", state);
    const conversation = state?.conversation;
    if (!this.primed) {
      // the first join shows the state's window; older messages come through history()
      if (state?.roomId === undefined) { return; }
      this.primed = true;
      this.delivery.offer(windowAbove(conversation?.messages, conversation?.id, 0).fresh);
      return;
    }
    const { fresh, oldest } = windowAbove(conversation?.messages, conversation?.id, this.delivery.lastSeq);
    if (!this.delivery.isHolding && oldest !== undefined && windowHasGap([oldest], this.delivery.lastSeq)) {
      void this.catchUp(this.epoch).then(() => this.pump(), (e) => { if (this.connectedNow) { this.emit("error", toChatError(e, "history")); void this.pump(); } });
    }
    if (fresh.length > 0) { this.delivery.offer(fresh); }
  }

  /** Holds live messages, fetches the missed ones, then delivers all in seq order. */
  private async catchUp(epoch: number): Promise<number> {
    // at once, before any await: a live message delivered now would move lastSeq past the missed ones
    this.delivery.hold();
    // one of an older socket fails on its own (its requests were rejected at the close)
    while (this.catchingUp && this.catchUpEpoch !== epoch) { await this.catchingUp.catch(() => {}); }
    if (this.catchingUp) { return this.catchingUp; }
    this.catchUpEpoch = epoch;
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          const missed = await fetchMissed((type, payload) => this.requestNow(type, payload, epoch), this.delivery.lastSeq, this.lastConversationId, this.opts.pageSize ?? 100);
          if (epoch !== this.epoch) { throw new ChatError("disconnected", "the connection was replaced", "history"); }
          this.delivery.offer(missed);
          break;
        } catch (e) {
          const error = toChatError(e);
          if (epoch !== this.epoch || error.code === "disconnected") { throw error; } // the next socket's catch-up takes over
          if (!isTransient(error.code)) {
            // the server will not say: go on live rather than hold messages for ever
            this.delivery.release();
            throw error;
          }
          // the query budget is small (docs/protocol.md): wait for it rather than give up
          await sleep(backoffDelay(attempt, { ...this.backoff, baseMs: 500 }));
        }
      }
      const state = this.room.state;
      if (state?.conversation) { this.delivery.offer(windowAbove(state.conversation.messages, state.conversation.id, this.delivery.lastSeq).fresh); }
      return this.delivery.release();
    };
    this.catchingUp = run().finally(() => { this.catchingUp = undefined; });
    return this.catchingUp;
  }

  /** A request on this socket only: a catch-up for one room must not outlive it. */
  private async requestNow<T extends RequestType>(type: T, payload: Payload<T>, epoch: number): Promise<Answer<T>> {
    if (epoch !== this.epoch || !this.connectedNow || !this.room.connection.isOpen) { throw new ChatError("disconnected", "the connection was replaced or is closing", type); }
    try {
      return await this.room.request(type as any, payload as any, { timeout: this.opts.requestTimeoutMs ?? 10_000 }) as Answer<T>;
    } catch (e) {
      throw toChatError(e, type);
    }
  }

  private async onClose(code: number, reason?: string): Promise<void> {
    this.connectedNow = false;
    if (this.closedFor) { return; }
    if (code === CLOSE.CONSENTED) {
      this.finish(code, reason ?? "left", new ChatError("closed", "the server ended the connection"));
      return;
    }
    const expired = code === CLOSE.TOKEN_EXPIRED && !/no more retries/i.test(reason ?? "");
    if (expired && !this.opts.getToken) {
      this.finish(code, "token_expired", new ChatError("auth_expired", "the token expired and no getToken() was given to renew it"));
      return;
    }
    this.emit("lost", { code, reason });
    await this.rejoin(Date.now(), code, expired);
  }

  /** Joins again through any node, with backoff and jitter, until it works or cannot. */
  private async rejoin(lostAt: number, lostCode: number, needToken: boolean): Promise<void> {
    for (let attempt = 0; !this.closedFor; attempt++) {
      const url = this.opts.urls[++this.nextUrl % this.opts.urls.length];
      let room: Room<any>;
      try {
        if (this.opts.getToken && (needToken || expiresWithin(this.token, 30))) { this.token = await this.opts.getToken(); needToken = false; }
        room = await this.joinOnce(url);
      } catch (e) {
        const error = toChatError(e);
        if (error.code === "auth_expired" && this.opts.getToken) { needToken = true; }
        if ((error.code === "auth_expired" && !this.opts.getToken) || isFatalJoin(error.code)) {
          this.finish(error.code === "auth_expired" ? CLOSE.TOKEN_EXPIRED : lostCode, error.code, error);
          return;
        }
        // a refused connection is a dead node: the next address at once; anything else waits
        const delayMs = error.code === "unreachable" && attempt < this.opts.urls.length - 1 ? 0 : backoffDelay(attempt, this.backoff);
        this.emit("retrying", { attempt: attempt + 1, delayMs, error });
        await sleep(delayMs);
        continue;
      }
      if (this.closedFor) { void room.leave().catch(() => {}); return; }
      this.attach(room);
      this.emit("rejoined", { attempts: attempt + 1 });
      const epoch = this.epoch;
      let missed: number;
      try {
        missed = await this.catchUp(epoch);
      } catch (e) {
        // this socket dropped too: its close handler rejoins
        if (epoch !== this.epoch || !this.connectedNow) { return; }
        this.emit("error", toChatError(e, "history"));
        missed = this.delivery.release();
      }
      this.emit("recovered", { missed });
      this.emit("back", { downMs: Date.now() - lostAt, attempts: attempt + 1 });
      void this.pump();
      return;
    }
  }

  private async renewToken(): Promise<void> {
    if (!this.opts.getToken) { return; }
    try {
      await this.refresh(await this.opts.getToken());
    } catch (e) {
      this.emit("error", toChatError(e, "refresh"));
    }
  }

  /** Sends the unsent messages, oldest first, one at a time, while connected. */
  private async pump(): Promise<void> {
    if (this.pumping) { return; }
    this.pumping = true;
    try {
      while (this.connectedNow && !this.catchingUp && this.outbox.head) {
        const entry = this.outbox.head;
        entry.attempts++;
        try {
          const { seq } = await this.requestNow("send", { id: entry.id, text: entry.text, ...(entry.kind ? { kind: entry.kind } : {}) }, this.epoch);
          this.outbox.ack(seq);
        } catch (e) {
          const error = toChatError(e, "send");
          // the socket closes: the rejoin sends it again; a timeout on an open one: at once, same id
          if (error.code === "disconnected") { entry.attempts--; break; }
          if (error.code === "timeout") { entry.attempts--; continue; }
          if (isTransient(error.code) && entry.attempts < (this.opts.maxSendAttempts ?? 8)) {
            await sleep(backoffDelay(entry.attempts, this.backoff));
            continue;
          }
          this.outbox.fail(error);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private whenConnected(): Promise<void> {
    if (this.closedFor) { return Promise.reject(this.closedFor); }
    if (this.connectedNow) { return Promise.resolve(); }
    return new Promise((resolve, reject) => this.waiters.push(() => (this.closedFor ? reject(this.closedFor) : resolve())));
  }

  private finish(code: number, reason: string, error: ChatError): void {
    if (this.closedFor) { return; }
    this.closedFor = error;
    this.connectedNow = false;
    this.epoch++;
    this.outbox.drain(error);
    for (const wake of this.waiters.splice(0)) { wake(); }
    this.emit("closed", { code, reason, error: code === CLOSE.CONSENTED ? undefined : error });
  }
}
