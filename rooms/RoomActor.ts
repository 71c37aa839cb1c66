import { CloseCode, matchMaker, Room } from "@colyseus/core";
import type { ChatClient, ClientData, HookName, RoomContext, RoomHooks } from "../conversation/context";
import { who } from "../conversation/context";
import { Conversation } from "../conversation/Conversation";
import type { ChatState } from "../schema/ChatState";
import type { TeamState } from "../schema/TeamState";
import type { Identity } from "../server/auth";
import { resolvedJoin } from "../server/cluster/joinOptions";
import { AuthError } from "../server/errors";
import { logger } from "../server/logger";
import { metrics } from "../server/metrics";
import type { ResolvedJoin } from "../server/policy/permissions";
import { checkCreation } from "../server/policy/privateRooms";
import { RoomTokens } from "../server/policy/tokenExpiry";
import type { RequestTable } from "../server/policy/requestTable";
import type { Services } from "../server/services";
import type { RoomKind, RoomRecord, RoomWriter } from "../server/store/types";
import { asJoinRefusal, refuseJoin } from "./auth";
import { fireHook, metricsHooks, webhookHooks } from "./hooks";
import { RoomOwnership } from "./ownership";
import { guardConnections, registerRequests } from "./pipeline";

/**
 * The thin room actor: Colyseus' hooks, the serial queue and the hook fan-out.
 * What a room does is composed in: the conversation (conversation/), the desk
 * (desk/), the request table, the extensions listening to the named hooks. It is
 * the only writer of its room's record while it lives; all mutations run one after
 * the other (`serial`), so seqs, conversation starts and ends never interleave.
 * "The only writer" is enforced (docs/cluster.md, Fencing): it writes through
 * `writer`, fenced with its owner epoch, and stops serving (`fence`) as soon as it
 * learns that a newer actor owns the room.
 */
export abstract class RoomActor<S extends ChatState | TeamState = ChatState | TeamState>
  extends Room<{ state: S; client: ChatClient }> implements RoomContext {
  /** installed by the room definitions (rooms/definitions.ts) */
  abstract readonly services: Services;
  kind!: RoomKind;
  record!: RoomRecord;
  conversation!: Conversation;
  private ownership: RoomOwnership | undefined;
  private unsubscribeLapse = () => {};
  /** a duplicate the matchmaker discarded was never registered: it writes nothing, not even at dispose */
  private wasRegistered = false;
  protected extensions: RoomHooks[] = [metricsHooks, webhookHooks];
  private queue: Promise<unknown> = Promise.resolve();
  /** open connections (including dropped ones awaiting reconnection) per user id */
  private connections = new Map<string, number>();
  /** a connection lives no longer than its token (server/policy/tokenExpiry.ts) */
  private tokens = new RoomTokens(this);

  /** The requests this room answers. */
  protected abstract requests(): RequestTable<this, ChatClient>;
  /** The room's record was just created (not found in the store). */
  protected async created(_resolved: ResolvedJoin): Promise<void> {}
  /** Feature start-up once the record and the conversation are loaded. */
  protected async started(): Promise<void> {}
  /** A join by room id (the matchmaker found the room): only private rooms allow it. */
  protected async joinById(_identity: Identity, _options: unknown): Promise<ResolvedJoin> {
    throw new AuthError("forbidden", `join ${this.kind} rooms through joinOrCreate`);
  }
  /** A client is let in, before it attends the conversation. */
  protected async admit(_client: ChatClient): Promise<void> {}
  /** After a client joined and attended the conversation. */
  protected joined(_client: ChatClient): void {}
  /** After a client's connection left for good (`remaining`: the user's other connections). */
  protected left(_client: ChatClient, _remaining: number): void {}
  /** The stored idle deadline is due and no conversation is active. */
  protected async dueWithoutConversation(): Promise<void> {
    await this.writer.clearIdleDeadline();
  }

  /** The room's fenced writes (rooms/ownership.ts). */
  get writer(): RoomWriter {
    if (!this.ownership) { throw new Error("the room writes only once it owns its room (onCreate)"); }
    return this.ownership.writer;
  }

  async onCreate(options: any) {
    const resolved = resolvedJoin(options);
    if (resolved && !resolved.roomId) { await refuseJoin("invalid_options", "customers must be 1..20 ids"); }
    if (!resolved?.roomId) { throw new Error("rooms are created by authenticated joins only"); }
    this.roomId = resolved.roomId;
    this.kind = resolved.kind;
    const { config, store } = this.services;
    // a process without its lease starts no actor (rooms/ownership.ts): refused before it
    // writes anything (the room record), with the retryable code, not a failed start
    if (!this.services.lease.valid()) { await refuseJoin("unavailable", "this process does not hold its lease"); }

    if (config.actorStartDelayMs > 0) {
      // fault injection (tests only): an actor whose start is slow, as with a huge history
      await new Promise((resolve) => setTimeout(resolve, config.actorStartDelayMs));
    }
    const existing = await store.getRoom(resolved.roomId);
    if (!existing && resolved.create && resolved.limitFor) { await asJoinRefusal(() => checkCreation(resolved.limitFor!, config, store)); }
    // not fenced: it writes only when no room exists, and an owner epoch exists only once it does
    this.record = existing ?? (resolved.create ? await store.createRoom(resolved.create) : null)!;
    if (!this.record) { await refuseJoin("room_not_found", `room ${resolved.roomId} does not exist`); }
    // take the room before reading it: an older actor (a frozen or cut-off process) can write no more
    const ownership = new RoomOwnership(store, this.roomId, this.services.lease, (reason) => this.stopServing(reason), () => this.listed());
    this.ownership = ownership;
    const epoch = await asJoinRefusal(() => ownership.activate()); // the lease may lapse meanwhile: `unavailable`
    (this as any)._listing.metadata = { ...(this as any)._listing.metadata, epoch: String(epoch) };
    this.unsubscribeLapse = this.services.lease.onLapse(() => this.fence("the process lease lapsed"));
    if (existing) { this.record = (await store.getRoom(this.roomId)) ?? this.record; }
    if (!existing) { await this.created(resolved); }

    this.state.roomId = this.roomId;
    this.state.kind = this.kind;
    this.state.lastSeq = this.record.lastSeq;
    this.conversation = new Conversation(this);
    this.fire("onActorStarted");
    await this.conversation.resume();
    await this.started();
    // Colyseus disposes an empty actor (no clients, no reserved or reconnection
    // seats) only while this is on: an active conversation keeps its actor alive.
    this.updateAutoDispose();

    registerRequests(this, { ...this.requests(), ...this.connectionRequests() }, config, this.services.budgets);
    guardConnections(this, config);
    // Messages are pushed at once (broadcastPatch in the transcript); the periodic
    // patch only carries typing, reads and joins, and at 50 ms it was the largest
    // cost of an idle room (30 % of CPU with 2,000 rooms: docs/benchmarks.md).
    this.patchRate = config.patchRateMs;
    this.clock.setInterval(() => this.serial(() => this.conversation.flush()).catch(() => {}), 2_000);
    logger.info({ roomId: this.roomId, kind: this.kind, conversationId: this.record.activeConversationId }, "room actor started");
  }

  /** What every room answers about the connection itself. */
  private connectionRequests(): RequestTable<this, ChatClient> {
    return {
      refresh: { run: ({ room, client, payload }) => room.tokens.refresh(client, payload.token, room.services.verifier) },
    };
  }

  // --- RoomContext ----------------------------------------------------------------

  /** Runs mutations of this room one at a time, in arrival order. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  fire(hook: HookName, ...args: unknown[]) {
    fireHook(this, this.extensions, hook, args);
  }

  /** What keeps this actor alive with nobody in it (the team room adds its queue). */
  protected mustStayAlive(): boolean {
    return !!this.conversation?.active;
  }

  updateAutoDispose() {
    this.autoDispose = !this.mustStayAlive();
  }

  isLive() {
    return !this.ownership?.fenced && matchMaker.getLocalRoomById(this.roomId) === this;
  }

  // --- fencing (docs/cluster.md) ------------------------------------------------

  /** The matchmaker registered this actor as the room's (server/wiring/app.ts): take the room for good. */
  registered() {
    this.wasRegistered = true;
    if (!this.services.lease.valid()) { this.fence("the process lease lapsed during the start"); }
    if (this.ownership?.fenced) { this.stopServing("fenced during the start"); return; }
    this.ownership?.takeOver();
  }

  /** The matchmaker lists this very actor as its room's (this process, this activation). */
  private async listed(): Promise<boolean> {
    const mine = (this as any)._listing;
    const listing = await matchMaker.driver.findOne({ roomId: this.roomId });
    return !!listing && listing.processId === mine.processId && listing.metadata?.epoch === mine.metadata?.epoch;
  }

  /** This actor no longer owns its room (a refused write, a lapsed lease, its listing gone). */
  fence(reason: string) {
    this.ownership?.fence(reason);
  }

  /**
   * Stops serving at once: no timer runs, nothing more is written (the dispose
   * flush is skipped), and every client is closed with 4001 so that it joins the
   * room again, which lands on the room's current actor. The listing is removed
   * only if it is still this actor's (AtomicRedisDriver).
   */
  private stopServing(reason: string) {
    logger.warn({ roomId: this.roomId, reason }, "room actor fenced: it no longer owns the room; its clients rejoin the current actor");
    metrics.fencedActors.inc();
    this.clock.clear();
    this.unsubscribeLapse();
    if ((this as any)._internalState === 0) { return; } // still in onCreate: its next write fails, and so does the start
    this.disconnect(CloseCode.SERVER_SHUTDOWN).catch(() => {});
  }

  // --- joining and leaving ---------------------------------------------------

  async onJoin(client: ChatClient, options: any) {
    const identity = who(client);
    let resolved: ResolvedJoin | undefined = resolvedJoin(options);
    if (resolved?.roomId !== this.roomId) {
      // joinById: the matchmaker resolved the room, so check membership against it
      resolved = await asJoinRefusal(() => this.joinById(identity, options));
    }
    const { config } = this.services;
    const userData: ClientData = {
      channel: resolved.channel,
      dropped: false,
      monitor: resolved.monitor,
      fresh: !this.state.conversation,
    };
    client.userData = userData;
    this.tokens.joined(client);
    this.connections.set(identity.sub, (this.connections.get(identity.sub) ?? 0) + 1);
    metrics.connections.inc();
    await this.admit(client);
    await this.conversation.join(client);
    this.joined(client);
  }

  async onDrop(client: ChatClient, code?: number) {
    if (!this.tokens.mayReconnect(client)) { return; } // closed for its expired token: onLeave follows
    // Colyseus' frame limit and undecodable frames (4002): no seat is kept, or the
    // socket stays open, unread, for the whole grace period
    if (code === CloseCode.WITH_ERROR) { return; }
    client.userData!.dropped = true;
    this.conversation.setConnected(who(client).sub, false);
    try {
      await this.allowReconnection(client, this.services.config.reconnectGraceSeconds);
    } catch {
      // grace period over: onLeave follows
    }
  }

  onReconnect(client: ChatClient) {
    client.userData!.dropped = false;
    this.conversation.setConnected(who(client).sub, true);
    this.tokens.reconnected(client);
  }

  async onLeave(client: ChatClient) {
    const userId = who(client).sub;
    this.tokens.left(client);
    metrics.connections.dec();
    const remaining = (this.connections.get(userId) ?? 1) - 1;
    if (remaining > 0) { this.connections.set(userId, remaining); } else { this.connections.delete(userId); }
    if (this.ownership?.fenced) { return; } // the room's current actor keeps its participants
    await this.serial(() => this.conversation.leave(client, remaining));
    this.left(client, remaining);
  }

  async onDispose() {
    this.unsubscribeLapse();
    if (this.wasRegistered && !this.ownership?.fenced) {
      await this.serial(() => this.conversation?.flush() ?? Promise.resolve()).catch((e) =>
        logger.error({ err: e, roomId: this.roomId }, "flush on dispose failed"));
    }
    if (this.kind) { this.fire("onActorDisposed"); }
    logger.info({ roomId: this.roomId }, "room actor disposed");
  }

  /**
   * SIGTERM: the conversation is not ended, it moves. Flush what only this actor
   * holds, then close every client with SERVER_SHUTDOWN so it joins again and lands
   * on a surviving node, where a new actor resumes the room from the store.
   */
  onBeforeShutdown() {
    this.serial(() => this.conversation.flush())
      .catch((e) => logger.error({ err: e, roomId: this.roomId }, "flush on shutdown failed"))
      .finally(() => this.disconnect(CloseCode.SERVER_SHUTDOWN).catch(() => {}));
  }

  /**
   * Called by the cluster's sweeper (server/cluster/sweeper.ts) through
   * remoteRoomCall when the stored idle deadline of this room has passed: the actor
   * decides with its own, exact, activity clock, and rewrites the deadline when it
   * is not due yet.
   */
  async sweepIdle(): Promise<boolean> {
    return this.serial(async () => {
      if (!this.conversation.active) { await this.dueWithoutConversation(); return false; }
      if (this.conversation.idle.isDue()) {
        await this.conversation.end(this.conversation.idle.reason(), "system", this.conversation.idle.deadline());
        return true;
      }
      this.conversation.idle.rewriteDeadline();
      return false;
    });
  }

  onUncaughtException(error: Error, method: string) {
    logger.error({ err: error, roomId: this.roomId, method }, "uncaught exception in room");
  }
}
