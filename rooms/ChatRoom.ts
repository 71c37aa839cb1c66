import { randomUUID } from "node:crypto";
import { CloseCode, matchMaker, Room, type AuthContext, type Client, type MessageContext } from "@colyseus/core";
import { StateView } from "@colyseus/schema";
import {
  ChannelSessionState, ChatState, ConversationState, MessageState, ParticipantState,
} from "../schema/ChatState";
import { mayJoinAnother } from "../server/agentRooms";
import { AuthError, type Identity } from "../server/auth";
import { getServices } from "../server/context";
import { RequestError } from "../server/errors";
import { logger } from "../server/logger";
import { metrics } from "../server/metrics";
import { may, resolveJoin, seesNotes, type ResolvedJoin } from "../server/permissions";
import { checkCreation, privateRoomCreated } from "../server/privateRooms";
import { refusalOf } from "../server/admission";
import { budgetClassOf, overBudgetMessage, processBudgets } from "../server/budgets";
import { closeIfSlowReader, enterRequest, isClosing, leaveRequest } from "../server/connectionGuard";
import { checkText, parseRequest, type Payload, type RequestType } from "../server/requests";
import { RoomTokens } from "../server/tokenExpiry";
import type {
  ChannelSessionRecord, ConversationRecord, MessageRecord, ParticipantRecord, QueuedRequest, RoomKind, RoomRecord,
} from "../server/store/types";
import { callTeam, setTeamResume, type TeamCall } from "./teamLink";

/** Set on `options` by onAuth; a client's own value is always overwritten. */
const JOIN_KEY = "__join";

interface ClientData {
  channel: { type: string; address: string } | null;
  /** dropped and waiting for a reconnection */
  dropped: boolean;
  /** a supervisor monitoring silently: no participant, notes (whispers) only */
  monitor: boolean;
}

export type ChatClient = Client<{ userData: ClientData; auth: Identity }>;

/** onAuth and onJoin set these before any handler can run. */
export const who = (client: ChatClient): Identity => client.auth as Identity;
const data = (client: ChatClient) => client.userData as ClientData;
const STAFF_ROLES = new Set(["agent", "supervisor", "bot"]);

/**
 * Verifies the token, applies the permission table and fixes the room id for the
 * matchmaker, before any room is found or
 * created. Colyseus calls a static onAuth unbound, so each room kind passes its name.
 */
export async function authenticate(roomName: RoomKind, token: string, options: any): Promise<Identity> {
  const { verifier, store, config, agentRooms } = getServices();
  const identity = await verifier.verify(token);
  if (options === null || typeof options !== "object" || Array.isArray(options)) { throw new AuthError("invalid_options", "join options must be an object"); }
  const budgets = processBudgets(config);
  if (!budgets.take(identity.sub, "join")) { throw new AuthError("rate_limited", overBudgetMessage("join", budgets.rates)); }
  const resolved = await resolveJoin(roomName, identity, options, store);
  if (identity.role === "agent" && roomName !== "team" && resolved.roomId && !(await mayJoinAnother(agentRooms, identity.sub, resolved.roomId, config.maxRoomsPerAgent))) {
    throw new AuthError("too_many_rooms", `an agent is in at most ${config.maxRoomsPerAgent} customer rooms at once`);
  }
  // `roomId` is reserved by the matchmaker, so the room definitions filter on `roomKey`
  // (no room id: a joinById, checked by the room found; a create then fails in onCreate)
  options.roomKey = resolved.roomId || `unresolved-${randomUUID()}`;
  options[JOIN_KEY] = resolved;
  return identity;
}

/** Join options under which an actor starts for a room without a client (the sweeper). */
export function resumeOptions(roomId: string, kind: RoomKind, create: RoomRecord | null = null) {
  const resolved: ResolvedJoin = { roomId, kind, create, channel: null, monitor: false };
  return { roomKey: roomId, [JOIN_KEY]: resolved };
}
setTeamResume(resumeOptions);

/**
 * The room actor: holds one room's active conversation in its state and is the
 * only writer of that room's record while it lives. All mutations run one after
 * the other (`serial`), so seqs, conversation starts and ends never interleave.
 */
export class ChatRoom extends Room<{ state: ChatState; client: ChatClient }> {
  state = new ChatState();

  protected kind!: RoomKind;
  protected record!: RoomRecord;
  private queue: Promise<unknown> = Promise.resolve();
  /** open connections (including dropped ones awaiting reconnection) per user id */
  private connections = new Map<string, number>();
  private lastActivityAt = 0;
  private idleTimerArmed = false;
  private deadlineWritten = 0;
  private participantsDirty = false;
  /** a connection lives no longer than its token (server/tokenExpiry.ts) */
  private tokens = new RoomTokens(this);

  protected get services() { return getServices(); }
  protected get store() { return this.services.store; }
  protected get config() { return this.services.config; }

  async onCreate(options: any) {
    const resolved: ResolvedJoin | undefined = options?.[JOIN_KEY];
    if (resolved && !resolved.roomId) { throw new AuthError("invalid_options", "customers must be 1..20 ids"); }
    if (!resolved?.roomId) { throw new Error("rooms are created by authenticated joins only"); }
    this.roomId = resolved.roomId;
    this.kind = resolved.kind;

    if (this.config.actorStartDelayMs > 0) {
      // fault injection (tests only): an actor whose start is slow, as with a huge history
      await new Promise((resolve) => setTimeout(resolve, this.config.actorStartDelayMs));
    }
    const existing = await this.store.getRoom(resolved.roomId);
    if (!existing && resolved.create && resolved.limitFor) { await checkCreation(resolved.limitFor, this.config, this.store); }
    this.record = existing ?? (resolved.create ? await this.store.createRoom(resolved.create) : null)!;
    if (!this.record) { throw new AuthError("room_not_found", `room ${resolved.roomId} does not exist`); }
    if (!existing && this.kind === "private") { await privateRoomCreated(this.store, this.config, this.roomId, resolved.limitFor); }

    this.state.roomId = this.roomId;
    this.state.kind = this.kind;
    this.state.lastSeq = this.record.lastSeq;
    await this.resumeConversation();
    // Colyseus disposes an empty actor (no clients, no reserved or reconnection
    // seats) only while this is on: an active conversation keeps its actor alive.
    this.updateAutoDispose();

    this.registerHandlers();
    // Messages are pushed at once (broadcastPatch in send); the periodic patch only
    // carries typing, reads and joins, and at 50 ms it was the largest cost of an
    // idle room (30 % of CPU with 2,000 rooms: docs/benchmarks.md).
    this.patchRate = this.config.patchRateMs;
    metrics.rooms.inc({ kind: this.kind });
    this.clock.setInterval(() => this.serial(() => this.flushParticipants()).catch(() => {}), 2_000);
    logger.info({ roomId: this.roomId, kind: this.kind, conversationId: this.record.activeConversationId }, "room actor started");
  }

  /** Loads the active conversation a previous actor left behind, if any. */
  private async resumeConversation() {
    const conversationId = this.record.activeConversationId;
    if (!conversationId) { return; }
    const stored = await this.store.getConversation(this.roomId, conversationId);
    if (!stored) { return; }
    const conversation = this.conversationStateFrom(stored);
    const recent = await this.store.readMessages(this.roomId, conversationId, {
      limit: this.config.stateMessageWindow, includeNotes: true,
    });
    for (const message of recent) {
      (message.kind === "note" ? conversation.notes : conversation.messages).push(messageState(message));
    }
    this.state.conversation = conversation;
    metrics.activeConversations.inc();
    this.lastActivityAt = Math.max(this.record.lastActivityAt, stored.startedAt);
    // When the deadline already passed (no actor was alive to end it), the timer
    // fires at once, but only after this actor won its registration: a duplicate
    // started by a concurrent join is discarded and must not have written anything.
    this.armIdleTimer();
  }

  /** What keeps this actor alive with nobody in it (the team room adds its queue). */
  protected mustStayAlive(): boolean {
    return !!this.state.conversation;
  }

  protected updateAutoDispose() {
    this.autoDispose = !this.mustStayAlive();
  }

  /** True once the matchmaker has registered this actor as the room's one actor. */
  protected isLive() {
    return matchMaker.getLocalRoomById(this.roomId) === this;
  }

  // --- joining and leaving ---------------------------------------------------

  async onJoin(client: ChatClient, options: any) {
    const identity = who(client);
    let resolved: ResolvedJoin = options?.[JOIN_KEY];
    if (resolved?.roomId !== this.roomId) {
      // joinById: the matchmaker resolved the room, so check membership against it
      if (this.kind !== "private") { throw new AuthError("forbidden", `join ${this.kind} rooms through joinOrCreate`); }
      resolved = await resolveJoin("private", identity, { ...options, roomId: this.roomId }, this.store);
      if (identity.role === "agent" && !(await mayJoinAnother(this.services.agentRooms, identity.sub, this.roomId, this.config.maxRoomsPerAgent))) {
        throw new AuthError("too_many_rooms", `an agent is in at most ${this.config.maxRoomsPerAgent} customer rooms at once`);
      }
    }
    client.userData = {
      channel: resolved.channel,
      dropped: false,
      monitor: resolved.monitor,
    };
    this.tokens.joined(client);
    if (seesNotes(identity)) {
      client.view = new StateView();
      if (this.state.conversation) { showNotes(client.view, this.state.conversation); }
    }
    this.connections.set(identity.sub, (this.connections.get(identity.sub) ?? 0) + 1);
    metrics.connections.inc();
    if (identity.role === "agent" && this.kind !== "team") {
      await this.services.agentRooms.add(identity.sub, this.roomId).catch((e) => logger.warn({ err: e?.message, roomId: this.roomId }, "could not count the agent's room"));
    }

    await this.serial(async () => {
      if (this.kind === "private" && !this.record.members.includes(identity.sub)) {
        await this.store.addMembers(this.roomId, [identity.sub]);
        this.record.members.push(identity.sub);
      }
      const conversation = this.state.conversation;
      if (!conversation || resolved.monitor) { return; }
      this.attend(conversation, client);
      this.touch();
      await this.saveConversation();
      if (identity.role !== "customer") { this.tellTeam("staffJoined", this.roomId, conversation.id, identity.sub, identity.role); }
    });
  }

  async onDrop(client: ChatClient, code?: number) {
    if (!this.tokens.mayReconnect(client)) { return; } // closed for its expired token: onLeave follows
    // Colyseus' frame limit and undecodable frames (4002): no seat is kept, or the
    // socket stays open, unread, for the whole grace period
    if (code === CloseCode.WITH_ERROR) { return; }
    data(client).dropped = true;
    this.setConnected(who(client).sub, false);
    try {
      await this.allowReconnection(client, this.config.reconnectGraceSeconds);
    } catch {
      // grace period over: onLeave follows
    }
  }

  onReconnect(client: ChatClient) {
    data(client).dropped = false;
    this.setConnected(who(client).sub, true);
    this.tokens.reconnected(client);
  }

  async onLeave(client: ChatClient) {
    const userId = who(client).sub;
    this.tokens.left(client);
    metrics.connections.dec();
    const remaining = (this.connections.get(userId) ?? 1) - 1;
    if (remaining > 0) { this.connections.set(userId, remaining); } else { this.connections.delete(userId); }
    if (remaining === 0 && who(client).role === "agent" && this.kind !== "team") {
      this.services.agentRooms.remove(userId, this.roomId).catch((e) => logger.warn({ err: e?.message, roomId: this.roomId }, "could not uncount the agent's room"));
    }

    await this.serial(async () => {
      const conversation = this.state.conversation;
      if (conversation) {
        const now = Date.now();
        if (remaining === 0) {
          const participant = conversation.participants.get(userId);
          if (participant) { participant.leftAt = now; participant.connected = false; participant.typing = false; }
        }
        const channel = client.userData?.channel;
        if (channel && !this.clients.some((c) => c !== client && who(c).sub === userId && sameChannel(c.userData?.channel, channel))) {
          for (const session of conversation.channelSessions.values()) {
            if (session.customerId === userId && session.state === "active" && sameChannel(session, channel)) {
              session.state = "ended"; session.endedAt = now;
            }
          }
        }
        await this.saveConversation();
      }
    });
  }

  async onDispose() {
    await this.serial(() => this.flushParticipants()).catch((e) =>
      logger.error({ err: e, roomId: this.roomId }, "flush on dispose failed"));
    if (this.kind) { metrics.rooms.dec({ kind: this.kind }); }
    if (this.state.conversation) { metrics.activeConversations.dec(); }
    logger.info({ roomId: this.roomId }, "room actor disposed");
  }

  /**
   * SIGTERM: the conversation is not ended, it moves. Flush what only this actor
   * holds, then close every client with SERVER_SHUTDOWN so it joins again and lands
   * on a surviving node, where a new actor resumes the room from the store.
   */
  onBeforeShutdown() {
    this.serial(() => this.flushParticipants())
      .catch((e) => logger.error({ err: e, roomId: this.roomId }, "flush on shutdown failed"))
      .finally(() => this.disconnect(CloseCode.SERVER_SHUTDOWN).catch(() => {}));
  }

  /**
   * Called by the cluster's sweeper (server/sweeper.ts) through remoteRoomCall when
   * the stored idle deadline of this room has passed: the actor decides with its
   * own, exact, activity clock, and rewrites the deadline when it is not due yet.
   */
  async sweepIdle(): Promise<boolean> {
    return this.serial(async () => {
      if (!this.state.conversation) { await this.sweepWithoutConversation(); return false; }
      if (Date.now() - this.lastActivityAt >= this.config.conversationIdleMs) {
        await this.endConversation("idle", "system", this.idleDeadline());
        return true;
      }
      this.deadlineWritten = 0;
      this.touchDeadline();
      return false;
    });
  }

  /** A due deadline without a conversation: an unused private room with someone in it waits another period. */
  private async sweepWithoutConversation() {
    if (this.kind === "private" && this.state.lastSeq === 0) {
      await this.store.setIdleDeadline(this.roomId, Date.now() + this.config.privateRoomUnusedMs);
    } else {
      await this.store.clearIdleDeadline(this.roomId);
    }
  }

  onUncaughtException(error: Error, method: string) {
    logger.error({ err: error, roomId: this.roomId, method }, "uncaught exception in room");
  }

  // --- requests ---------------------------------------------------------------

  protected registerHandlers() {
    this.handle("send", (client, payload) => this.sendMessage(client, payload));
    this.handle("transfer", (client, payload) => this.transfer(client, payload));
    this.handle("invite", (client, payload) => this.invite(client, payload));
    this.handle("handover", (client, payload) => this.handover(client, payload));
    this.handle("barge", (client) => this.barge(client));
    this.handle("read", (client, payload) => this.read(client, payload));
    this.handle("typing", (client, payload) => this.typing(client, payload));
    this.handle("history", (client, payload) => this.history(client, payload));
    this.handle("conversations", (client, payload) => this.conversations(client, payload));
    this.handle("end", (client, payload) => this.end(client, payload));
    this.handle("refresh", (client, payload) => this.tokens.refresh(client, payload.token, this.services.verifier));
    // unknown types: a request gets Colyseus' own "no_handler" error; a plain send gets
    // this, within the user's signal budget (past it, silence: an answer would amplify)
    this.onMessage("*", (client: ChatClient, type: string | number) => {
      if (isClosing(client) || !processBudgets(this.config).take(who(client).sub, budgetClassOf(String(type)))) { return; }
      client.send("error", { code: "unknown_request", message: `unknown message type "${String(type).slice(0, 64)}"` });
    });
    // a backstop well above the budgets, for a runaway client: Colyseus closes it (4002)
    this.maxMessagesPerSecond = this.config.maxFramesPerSecond;
    // answers and patches to a client that does not read pile up in its send buffer
    this.clock.setInterval(() => {
      for (const client of this.clients) { closeIfSlowReader(client, this.config.maxBufferedBytes, { roomId: this.roomId, userId: who(client)?.sub }); }
    }, 1_000);
  }

  /**
   * Registers a request handler: the payload is validated here (not by Colyseus'
   * `validate`, whose failure on a plain `send` disconnects the client), and every
   * failure becomes a rejection `{ code, message }` while the connection stays open.
   * Before any work: the connection's in-flight cap, the user's budget (server/budgets.ts)
   * and the connection's send buffer (server/connectionGuard.ts).
   */
  protected handle<T extends RequestType>(type: T, fn: (client: ChatClient, payload: Payload<T>) => Promise<unknown> | unknown) {
    const { config } = this;
    this.onMessage(type, async (client: ChatClient, raw: unknown, ctx: MessageContext) => {
      if (closeIfSlowReader(client, config.maxBufferedBytes, { roomId: this.roomId, userId: who(client).sub })) { return; }
      const timer = metrics.requests.startTimer({ type });
      const refusal = refusalOf(client, who(client).sub, type, raw, config);
      if (refusal) {
        timer({ outcome: refusal.code });
        // a plain send over a limit gets no answer: the answers would be the flood's amplifier
        return ctx?.id === undefined ? undefined : ctx.reject(refusal);
      }
      enterRequest(client);
      try {
        if (payloadBytes(raw) > config.maxRequestBytes) {
          throw new RequestError("payload_too_large", `${type}: payload over ${config.maxRequestBytes} bytes`);
        }
        const answer = await fn(client, parseRequest(type, raw));
        timer({ outcome: "ok" });
        return answer;
      } catch (e) {
        const reason = e instanceof RequestError ? e.toReason() : internalReason(e, this.roomId, type);
        timer({ outcome: reason.code });
        if (ctx?.id === undefined) {
          if (!isClosing(client)) { client.send("error", { type, ...reason }); }
          return;
        }
        return ctx.reject(reason);
      } finally {
        leaveRequest(client);
      }
    });
  }

  private async sendMessage(client: ChatClient, payload: Payload<"send">) {
    const identity = who(client);
    const kind = payload.kind ?? "text";
    if (kind === "note" && !may(identity, "note")) { throw new RequestError("forbidden", "only agents and supervisors write notes"); }
    if (kind !== "note" && data(client).monitor) { throw new RequestError("forbidden", "a monitoring supervisor whispers (notes) only; barge in to write to the customer"); }
    return this.storeMessage(identity, payload.id, kind, checkText(payload.text, this.config.maxTextCodePoints));
  }

  /**
   * An application's message, posted through the HTTP API (server/appApi.ts) and
   * routed here, to the room's one actor, by a remote room call: it is sequenced,
   * stored and delivered like any message, and the app becomes a participant.
   */
  async postFromApp(identity: Identity, payload: { id: string; text: string }) {
    const text = checkText(payload.text, this.config.maxTextCodePoints);
    return this.storeMessage(identity, payload.id, "text", text, true);
  }

  private storeMessage(identity: Identity, id: string, kind: "text" | "note", text: string, fromApp = false) {
    return this.serial(async () => {
      const conversation = this.state.conversation ?? await this.startConversation();
      if (fromApp && !conversation.participants.has(identity.sub)) {
        const participant = new ParticipantState();
        Object.assign(participant, { userId: identity.sub, role: identity.role, name: identity.name, joinedAt: Date.now() });
        conversation.participants.set(identity.sub, participant);
        this.participantsDirty = true;
      }
      const { message, duplicate } = await this.storeCall(() => this.store.appendMessage(this.roomId, {
        id, conversationId: conversation.id, senderId: identity.sub, senderRole: identity.role,
        senderName: identity.name, kind, text, at: Date.now(),
      }));
      if (!duplicate) {
        this.services.webhooks.emit({ id: `${this.roomId}:${message.seq}`, type: "message.stored", roomId: this.roomId, conversationId: conversation.id, at: message.at, data: message });
        metrics.messages.inc({ kind });
        this.addToWindow(conversation, message);
        this.state.lastSeq = message.seq;
        this.touch();
        // deliver now instead of at the next patch tick
        this.broadcastPatch();
      }
      return { seq: message.seq };
    });
  }

  private read(client: ChatClient, payload: Payload<"read">) {
    const participant = this.state.conversation?.participants.get(who(client).sub);
    if (!participant) { throw new RequestError("no_active_conversation", "no active conversation to read in"); }
    const seq = Math.min(payload.seq, this.state.lastSeq);
    if (seq > participant.readSeq) { participant.readSeq = seq; this.participantsDirty = true; }
    this.touch();
    return {};
  }

  private typing(client: ChatClient, payload: Payload<"typing">) {
    const participant = this.state.conversation?.participants.get(who(client).sub);
    if (!participant) { throw new RequestError("no_active_conversation", "no active conversation to type in"); }
    participant.typing = payload.typing;
    this.touch();
    return {};
  }

  private async history(client: ChatClient, payload: Payload<"history">) {
    const limit = this.pageLimit(payload.limit);
    const conversationId = payload.conversationId
      ?? this.state.conversation?.id
      ?? (await this.storeCall(() => this.store.listConversations(this.roomId, { limit: 1 })))[0]?.id;
    if (!conversationId) { return { conversationId: null, messages: [] }; }
    if (conversationId !== this.state.conversation?.id
      && !(await this.storeCall(() => this.store.getConversation(this.roomId, conversationId)))) {
      throw new RequestError("unknown_conversation", `no conversation ${conversationId} in this room`);
    }
    const messages = await this.storeCall(() => this.store.readMessages(this.roomId, conversationId, {
      before: payload.before, after: payload.after, limit, includeNotes: seesNotes(who(client)),
    }));
    return { conversationId, messages };
  }

  private async conversations(client: ChatClient, payload: Payload<"conversations">) {
    const limit = this.pageLimit(payload.limit);
    const conversations = await this.storeCall(() => this.store.listConversations(this.roomId, { before: payload.before, limit }));
    return { conversations };
  }

  private async end(client: ChatClient, payload: Payload<"end">) {
    if (!may(who(client), "end")) { throw new RequestError("forbidden", "only agents and supervisors end conversations"); }
    if (data(client).monitor) { throw new RequestError("forbidden", "a monitoring supervisor barges in before it ends the conversation"); }
    return this.serial(async () => {
      if (!this.state.conversation) { throw new RequestError("no_active_conversation", "no active conversation to end"); }
      await this.endConversation(payload?.reason || "ended_by_agent", who(client).sub);
      return {};
    });
  }

  private pageLimit(limit: number | undefined) {
    if (limit === undefined) { return this.config.historyPageDefault; }
    if (limit > this.config.historyPageMax) {
      throw new RequestError("invalid_payload", `limit must be at most ${this.config.historyPageMax}`);
    }
    return limit;
  }

  // --- conversations ----------------------------------------------------------

  private async startConversation(): Promise<ConversationState> {
    const now = Date.now();
    const conversation = new ConversationState();
    conversation.id = `conv-${randomUUID()}`;
    conversation.startedAt = now;
    for (const client of this.clients) {
      if (!client.userData?.dropped && !client.userData?.monitor) { this.attend(conversation, client); }
    }
    await this.storeCall(() => this.store.startConversation({
      ...this.conversationRecord(conversation), state: "active",
    }));
    this.record.activeConversationId = conversation.id;
    this.state.conversation = conversation;
    this.updateAutoDispose();
    metrics.activeConversations.inc();
    for (const client of this.clients) { if (client.view) { showNotes(client.view, conversation); } }
    this.lastActivityAt = now;
    this.armIdleTimer();
    logger.info({ roomId: this.roomId, conversationId: conversation.id }, "conversation started");
    this.services.webhooks.emit({ id: `${conversation.id}:started`, type: "conversation.started", roomId: this.roomId, conversationId: conversation.id, at: now, data: this.conversationRecord(conversation) });
    this.deskOnStart(conversation);
    return conversation;
  }

  private async endConversation(reason: string, endedBy: string, endedAt = Date.now()) {
    const conversation = this.state.conversation;
    if (!conversation) { return; }
    for (const participant of conversation.participants.values()) {
      if (!participant.leftAt) { participant.leftAt = endedAt; }
      participant.typing = false;
    }
    for (const session of conversation.channelSessions.values()) {
      if (session.state === "active") { session.state = "ended"; session.endedAt = endedAt; }
    }
    await this.storeCall(() => this.store.endConversation({
      ...this.conversationRecord(conversation), state: "ended", endedAt, endReason: reason, endedBy,
    }));
    this.services.webhooks.emit({
      id: `${conversation.id}:ended`, type: "conversation.ended", roomId: this.roomId, conversationId: conversation.id, at: endedAt,
      data: { ...this.conversationRecord(conversation), state: "ended", endedAt, endReason: reason, endedBy },
    });
    this.participantsDirty = false;
    this.record.activeConversationId = null;
    this.record.pastConversations++;
    this.state.conversation = undefined;
    metrics.activeConversations.dec();
    this.broadcast("conversation_ended", { conversationId: conversation.id, reason });
    logger.info({ roomId: this.roomId, conversationId: conversation.id, reason }, "conversation ended");
    this.updateAutoDispose();
    this.tellTeam("conversationEnded", this.roomId, conversation.id);
  }

  // --- the agent desk: queue, transfer, conference, supervision, bots ----------

  /** Customer rooms belong to a team: the room's, else the configured default. */
  protected get teamId(): string | null {
    if (this.kind === "team") { return this.record.teamId ?? null; }
    return this.record.teamId || this.config.defaultTeam;
  }

  /** Fire-and-forget call to the team's actor; failures are logged, never block a chat. */
  protected tellTeam(method: TeamCall, ...args: unknown[]) {
    const teamId = this.teamId;
    if (this.kind === "team" || !teamId) { return; }
    callTeam(teamId, method, ...args).catch(() => { /* logged by callTeam */ });
  }

  private deskOnStart(conversation: ConversationState) {
    if (this.kind === "team") { return; }
    const customerId = this.record.customers[0] ?? "";
    this.tellTeam("conversationStarted", {
      roomId: this.roomId, conversationId: conversation.id, customerId, startedAt: conversation.startedAt,
      agents: [...conversation.participants.values()].filter((p) => p.role !== "customer").map((p) => p.userId),
    });
    const served = [...conversation.participants.values()].some((p) => STAFF_ROLES.has(p.role) && p.connected);
    if (!served) {
      const forBot = this.config.botTeams.includes(this.teamId ?? "");
      this.tellTeam("enqueue", this.request("new", { forBot }));
    }
  }

  private request(kind: QueuedRequest["kind"], fields: Partial<QueuedRequest> = {}): QueuedRequest {
    return {
      id: `req-${randomUUID()}`, kind, roomId: this.roomId, roomKind: this.kind,
      customerId: this.record.customers[0] ?? "", conversationId: this.state.conversation?.id ?? "",
      targetUserId: "", fromUserId: "", reason: "", forBot: false, createdAt: Date.now(), escalated: false,
      ...fields,
    };
  }

  /** An event in the transcript (transfer, conference, barge-in, handover), sequenced like any message. */
  private async appendEvent(client: ChatClient, text: string) {
    const conversation = this.state.conversation;
    if (!conversation) { throw new RequestError("no_active_conversation", "no active conversation"); }
    const identity = who(client);
    const { message } = await this.storeCall(() => this.store.appendMessage(this.roomId, {
      id: `evt-${randomUUID()}`, conversationId: conversation.id, senderId: identity.sub, senderRole: identity.role,
      senderName: identity.name, kind: "event", text, at: Date.now(),
    }));
    this.services.webhooks.emit({ id: `${this.roomId}:${message.seq}`, type: "message.stored", roomId: this.roomId, conversationId: conversation.id, at: message.at, data: message });
    this.addToWindow(conversation, message);
    this.state.lastSeq = message.seq;
    this.touch();
    this.broadcastPatch();
    return message.seq;
  }

  private requireDesk(client: ChatClient, action: "transfer" | "invite" | "handover" | "barge") {
    if (this.kind === "team") { throw new RequestError("forbidden", `${action} is for customer rooms`); }
    if (!may(who(client), action)) { throw new RequestError("forbidden", `${action}: not allowed for ${who(client).role}`); }
    if (!this.state.conversation) { throw new RequestError("no_active_conversation", `${action}: no active conversation`); }
  }

  /** Hands the conversation to another agent or team: a request in that team's queue. */
  private async transfer(client: ChatClient, payload: Payload<"transfer">) {
    this.requireDesk(client, "transfer");
    if (!payload.toUserId && !payload.toTeamId) { throw new RequestError("invalid_payload", "transfer: toUserId or toTeamId is required"); }
    return this.serial(async () => {
      const request = this.request("transfer", {
        targetUserId: payload.toUserId ?? "", fromUserId: who(client).sub, reason: payload.reason ?? "",
      });
      const team = payload.toTeamId ?? this.teamId!;
      await callTeam(team, "enqueue", request).catch(() => { throw new RequestError("unavailable", "the team's queue is unreachable, retry"); });
      const to = payload.toUserId ? `agent ${payload.toUserId}` : `team ${team}`;
      const seq = await this.appendEvent(client, `${who(client).name} transferred the conversation to ${to}${payload.reason ? `: ${payload.reason}` : ""}`);
      return { requestId: request.id, seq };
    });
  }

  /** Conference: asks a second agent to join. */
  private async invite(client: ChatClient, payload: Payload<"invite">) {
    this.requireDesk(client, "invite");
    return this.serial(async () => {
      const request = this.request("conference", { targetUserId: payload.userId, fromUserId: who(client).sub, reason: payload.reason ?? "" });
      await callTeam(payload.teamId ?? this.teamId!, "enqueue", request).catch(() => { throw new RequestError("unavailable", "the team's queue is unreachable, retry"); });
      const seq = await this.appendEvent(client, `${who(client).name} invited agent ${payload.userId} to the conversation`);
      return { requestId: request.id, seq };
    });
  }

  /** A bot hands the conversation over to a human agent of the team. */
  private async handover(client: ChatClient, payload: Payload<"handover">) {
    this.requireDesk(client, "handover");
    return this.serial(async () => {
      const request = this.request("handover", { fromUserId: who(client).sub, reason: payload?.reason ?? "" });
      await callTeam(this.teamId!, "enqueue", request).catch(() => { throw new RequestError("unavailable", "the team's queue is unreachable, retry"); });
      const seq = await this.appendEvent(client, `${who(client).name} handed the conversation over to an agent${payload?.reason ? `: ${payload.reason}` : ""}`);
      return { requestId: request.id, seq };
    });
  }

  /** A monitoring supervisor takes part: becomes a participant the customer sees. */
  private async barge(client: ChatClient) {
    this.requireDesk(client, "barge");
    if (!data(client).monitor) { throw new RequestError("invalid_payload", "barge: already taking part"); }
    return this.serial(async () => {
      data(client).monitor = false;
      this.attend(this.state.conversation!, client);
      await this.saveConversation();
      const seq = await this.appendEvent(client, `${who(client).name} (supervisor) joined the conversation`);
      this.tellTeam("staffJoined", this.roomId, this.state.conversation!.id, who(client).sub, "supervisor");
      return { seq };
    });
  }

  /** Adds a client's user to the conversation and opens its channel session. */
  private attend(conversation: ConversationState, client: ChatClient) {
    const identity = who(client);
    const now = Date.now();
    let participant = conversation.participants.get(identity.sub);
    if (!participant) {
      participant = new ParticipantState();
      participant.userId = identity.sub;
      participant.role = identity.role;
      participant.name = identity.name;
      participant.joinedAt = now;
      conversation.participants.set(identity.sub, participant);
    }
    participant.leftAt = 0;
    participant.connected = true;

    const channel = client.userData?.channel;
    if (channel) {
      const open = [...conversation.channelSessions.values()].some((s) =>
        s.customerId === identity.sub && s.state === "active" && sameChannel(s, channel));
      if (!open) {
        const session = new ChannelSessionState();
        session.id = `chs-${randomUUID()}`;
        session.customerId = identity.sub;
        session.type = channel.type;
        session.address = channel.address;
        session.startedAt = now;
        session.state = "active";
        conversation.channelSessions.set(session.id, session);
      }
    }
    this.participantsDirty = true;
  }

  private setConnected(userId: string, connected: boolean) {
    const participant = this.state.conversation?.participants.get(userId);
    if (!participant) { return; }
    const others = this.clients.some((c) => who(c).sub === userId && !c.userData?.dropped);
    participant.connected = connected || others;
    if (!participant.connected) { participant.typing = false; }
  }

  protected addToWindow(conversation: ConversationState, message: MessageRecord) {
    const list = message.kind === "note" ? conversation.notes : conversation.messages;
    const item = messageState(message);
    list.push(item);
    // elements of a @view collection are visible only once added to a view
    if (message.kind === "note") { for (const client of this.clients) { client.view?.add(item); } }
    while (list.length > this.config.stateMessageWindow) { list.shift(); }
  }

  // --- idle timer -------------------------------------------------------------

  /** Activity by an attendee: pushes the idle deadline back. */
  private touch() {
    this.lastActivityAt = Date.now();
    this.touchDeadline();
  }

  private touchDeadline() {
    const deadline = this.lastActivityAt + this.config.conversationIdleMs;
    // the stored deadline may lag by a little; writing it on every message would double the writes
    if (deadline - this.deadlineWritten >= Math.min(1_000, this.config.conversationIdleMs / 10)) {
      this.deadlineWritten = deadline;
      this.store.setIdleDeadline(this.roomId, deadline).catch((e) =>
        logger.warn({ err: e, roomId: this.roomId }, "could not store idle deadline"));
    }
  }

  /** An idle conversation ends at its deadline, whenever the ending runs. */
  private idleDeadline() {
    return this.lastActivityAt + this.config.conversationIdleMs;
  }

  /** One timer per conversation: on firing it re-arms itself for the remaining time. */
  private armIdleTimer() {
    if (this.idleTimerArmed) { return; }
    this.idleTimerArmed = true;
    const check = () => {
      this.idleTimerArmed = false;
      if (!this.state.conversation) { return; }
      const remaining = this.idleDeadline() - Date.now();
      if (remaining > 0 || !this.isLive()) {
        this.idleTimerArmed = true;
        this.clock.setTimeout(check, Math.max(remaining, 50));
        return;
      }
      this.serial(async () => {
        if (this.state.conversation && Date.now() - this.lastActivityAt >= this.config.conversationIdleMs) {
          await this.endConversation("idle", "system", this.idleDeadline());
        } else {
          this.armIdleTimer();
        }
      }).catch((e) => {
        // storage unavailable: try again shortly rather than leave the conversation open forever
        logger.error({ err: e, roomId: this.roomId }, "idle end failed");
        this.idleTimerArmed = true;
        this.clock.setTimeout(check, 1_000);
      });
    };
    this.clock.setTimeout(check, Math.max(0, this.lastActivityAt + this.config.conversationIdleMs - Date.now()));
  }

  // --- storage ----------------------------------------------------------------

  /** Runs mutations of this room one at a time, in arrival order. */
  protected serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Store failures become a clear, retryable rejection instead of an internal error. */
  protected async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e: any) {
      metrics.storageErrors.inc();
      logger.error({ err: e, roomId: this.roomId }, "storage call failed");
      throw new RequestError("unavailable", "storage is unavailable, retry shortly");
    }
  }

  private async saveConversation() {
    const conversation = this.state.conversation;
    if (!conversation) { return; }
    await this.storeCall(() => this.store.saveConversation({ ...this.conversationRecord(conversation), state: "active" }));
    this.participantsDirty = false;
  }

  private async flushParticipants() {
    if (this.participantsDirty) { await this.saveConversation(); }
  }

  private conversationRecord(conversation: ConversationState): ConversationRecord {
    return {
      id: conversation.id,
      roomId: this.roomId,
      state: "active",
      startedAt: conversation.startedAt,
      endedAt: 0, endReason: "", endedBy: "",
      firstSeq: 0, lastSeq: 0, messageCount: 0,
      participants: [...conversation.participants.values()].map((p): ParticipantRecord => ({
        userId: p.userId, role: p.role as ParticipantRecord["role"], name: p.name,
        joinedAt: p.joinedAt, leftAt: p.leftAt, readSeq: p.readSeq,
      })),
      channelSessions: [...conversation.channelSessions.values()].map((s): ChannelSessionRecord => ({
        id: s.id, customerId: s.customerId, type: s.type, address: s.address,
        startedAt: s.startedAt, endedAt: s.endedAt, state: s.state as ChannelSessionRecord["state"],
      })),
    };
  }

  private conversationStateFrom(record: ConversationRecord): ConversationState {
    const conversation = new ConversationState();
    conversation.id = record.id;
    conversation.startedAt = record.startedAt;
    for (const p of record.participants) {
      const participant = new ParticipantState();
      Object.assign(participant, { userId: p.userId, role: p.role, name: p.name, joinedAt: p.joinedAt, leftAt: p.leftAt, readSeq: p.readSeq });
      participant.connected = false;
      conversation.participants.set(p.userId, participant);
    }
    for (const s of record.channelSessions) {
      const session = new ChannelSessionState();
      Object.assign(session, s);
      conversation.channelSessions.set(s.id, session);
    }
    return conversation;
  }
}

/** Makes the conversation's notes, present and past, visible to one staff client. */
function showNotes(view: StateView, conversation: ConversationState) {
  view.add(conversation.notes);
  for (const note of conversation.notes) { view.add(note); }
}

function messageState(message: MessageRecord): MessageState {
  const state = new MessageState();
  state.seq = message.seq;
  state.id = message.id;
  state.senderId = message.senderId;
  state.senderRole = message.senderRole;
  state.senderName = message.senderName;
  state.kind = message.kind;
  state.text = message.text;
  state.at = message.at;
  return state;
}

/** Size of a decoded payload; a structure too deep to serialise counts as too large. */
function payloadBytes(raw: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(raw) ?? "");
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function sameChannel(a: { type: string; address: string } | null | undefined, b: { type: string; address: string }) {
  return !!a && a.type === b.type && a.address === b.address;
}

function internalReason(e: unknown, roomId: string, type: string) {
  logger.error({ err: e, roomId, request: type }, "request failed");
  return { code: "internal", message: "internal error" };
}

export class ContactCenterRoom extends ChatRoom {
  static async onAuth(token: string, options: any, _context: AuthContext) { return authenticate("contact_center", token, options); }
}

export class PrivateRoom extends ChatRoom {
  static async onAuth(token: string, options: any, _context: AuthContext) { return authenticate("private", token, options); }
}
