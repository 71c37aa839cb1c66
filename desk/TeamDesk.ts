import type { RoomContext } from "../conversation/context";
import { TeamDocuments } from "./teamDocuments";
import { who, type ChatClient } from "../conversation/context";
import { AgentState, LiveConversationState, RequestState, type TeamState } from "../schema/TeamState";
import type { Identity } from "../server/auth";
import { RequestError } from "../server/errors";
import { logger } from "../server/logger";
import { acceptRefusal } from "../server/policy/permissions";
import type { Payload } from "../server/policy/requests";
import type { QueuedRequest } from "../server/store/types";
import { callRoom } from "../server/cluster/roomCalls";
import type { AgentStatusRecord, LiveRecord } from "../server/store/types";
import { QueueFeed } from "./queueFeed";
import { addSample, followUpDue, isCustomerWaiting, offerLapsed } from "./queueRules";
import { pickAgent } from "./routing";

export interface LiveInfo {
  roomId: string;
  conversationId: string;
  customerId: string;
  startedAt: number;
  agents: string[];
}

/** The team room's context: its state is the team's. */
export interface TeamContext extends RoomContext {
  readonly state: TeamState;
}

/**
 * The team's desk, composed into the team room: the queue of conversation requests,
 * the agents' states and the team's live conversations. It lives in the team's one
 * actor in the cluster, so an accept race is decided here, in arrival order:
 * exactly one agent wins a request.
 */
export class TeamDesk {
  /** request id -> who accepted it, so a late accept learns who won */
  private accepted = new Map<string, string>();
  /**
   * Active conversations of each agent: the live conversations it is in, kept up to
   * date as they change (a full recount on every change was 4 % of the server's CPU
   * with 2,000 live conversations: docs/benchmarks.md).
   */
  private counts = new Map<string, number>();
  /** request id -> members who let its offer lapse (the next candidate gets it) */
  private passed = new Map<string, Set<string>>();
  /** recent times from queueing to accept of customer-waiting requests (the wait estimate) */
  private acceptMs: number[] = [];
  private feed!: QueueFeed;
  /** stored statuses of agents not back in this actor yet (each applied when its agent joins) */
  private storedStatus = new Map<string, AgentStatusRecord>();
  /** the queue, live conversations and agents' statuses in the store (desk/teamDocuments.ts) */
  private readonly documents: TeamDocuments;

  constructor(private readonly room: TeamContext) {
    this.documents = new TeamDocuments(room, () => this.storedStatus.values());
  }

  private get state() { return this.room.state; }
  private get teamId() { return this.room.record.teamId!; }

  /** A new team actor: the queue, the live conversations (with the agents' counts) and the agents' statuses from the store. */
  async load() {
    const { store, config } = this.room.services;
    for (const request of await store.loadQueue(this.teamId)) {
      this.state.requests.set(request.id, requestState(request));
    }
    for (const record of await store.loadLive(this.teamId)) { this.setLive(record); }
    for (const record of await store.loadAgents(this.teamId)) { this.storedStatus.set(record.userId, record); }
    this.feed = new QueueFeed(this.teamId, () => this.room.isLive());
    this.feed.snapshot = () => this.state.requests.values();
    const tick = Math.max(50, Math.min(1_000, config.requestEscalateMs, config.offerTimeoutMs / 4));
    this.room.clock.setInterval(() => this.tick(), tick);
    this.queueChanged();
  }

  dispose() { this.feed?.dispose(); }

  /** What keeps the team's actor alive besides a conversation. */
  busy() {
    return this.state.requests.size > 0 || this.state.live.size > 0;
  }

  joined(client: ChatClient) {
    const identity = who(client);
    let agent = this.state.agents.get(identity.sub);
    if (!agent) {
      agent = new AgentState();
      agent.userId = identity.sub;
      agent.name = identity.name;
      agent.role = identity.role;
      agent.maxConversations = this.room.services.config.agentMaxConversations;
      // an agent away or not_ready before the team actor restarted is so again
      const stored = this.storedStatus.get(identity.sub);
      if (stored) { agent.status = stored.status; agent.reason = stored.reason; this.storedStatus.delete(identity.sub); }
      this.state.agents.set(identity.sub, agent);
    }
    agent.connected = true;
    agent.activeConversations = this.counts.get(identity.sub) ?? 0;
    this.offerAll();
    this.queueChanged();
  }

  left(client: ChatClient) {
    const userId = who(client).sub;
    const agent = this.state.agents.get(userId);
    if (agent && !this.room.clients.some((c) => c !== client && who(c).sub === userId)) { agent.connected = false; }
    this.queueChanged();
  }

  // --- calls from customer-room actors (desk/CustomerDesk.ts) -------------------

  enqueue(request: QueuedRequest) {
    if (this.state.requests.has(request.id)) { return true; }
    this.state.requests.set(request.id, requestState(request));
    this.room.updateAutoDispose();
    this.offer(this.state.requests.get(request.id)!);
    this.persistQueue();
    this.queueChanged();
    logger.info({ roomId: this.room.roomId, requestId: request.id, kind: request.kind, forRoom: request.roomId }, "request queued");
    return true;
  }

  /**
   * The conversation's agents left for good (AGENT_DISCONNECT_MS): they no longer
   * hold it, and it goes back to the front of the queue (desk/queueRules.ts).
   */
  requeue(request: QueuedRequest, gone: string[]) {
    const live = this.state.live.get(request.roomId);
    if (live && live.conversationId === request.conversationId) {
      for (const userId of gone) {
        const at = live.agents.indexOf(userId);
        if (at >= 0) { live.agents.splice(at, 1); this.count(userId, -1); }
      }
      this.persistLive();
    }
    this.dropRequests((r) => r.roomId === request.roomId && isCustomerWaiting(r));
    return this.enqueue(request);
  }

  /** A customer room's new actor resumed a queued conversation: it needs its place again. */
  placeWanted(roomId: string) {
    this.feed?.forget(roomId);
    this.queueChanged();
    return true;
  }

  conversationStarted(info: LiveInfo) {
    this.dropLive(info.roomId);
    this.setLive(info);
    this.persistLive();
    this.room.updateAutoDispose();
    return true;
  }

  private setLive(info: LiveInfo | LiveRecord) {
    const live = new LiveConversationState();
    live.roomId = info.roomId;
    live.conversationId = info.conversationId;
    live.customerId = info.customerId;
    live.startedAt = info.startedAt;
    this.state.live.set(info.roomId, live);
    for (const userId of info.agents) { this.addToLive(live, userId); }
  }

  conversationEnded(roomId: string, conversationId: string) {
    const live = this.state.live.get(roomId);
    if (live && live.conversationId === conversationId) { this.dropLive(roomId); this.persistLive(); }
    const dropped = this.dropRequests((r) => r.roomId === roomId && r.conversationId === conversationId);
    if (dropped) { this.persistQueue(); }
    this.room.updateAutoDispose();
    this.offerAll();
    this.queueChanged();
    return true;
  }

  staffJoined(roomId: string, conversationId: string, userId: string, role: string) {
    const live = this.state.live.get(roomId);
    if (live && live.conversationId === conversationId && !live.agents.includes(userId)) { this.addToLive(live, userId); this.persistLive(); }
    if (role === "agent" || role === "supervisor") {
      // a human came in: the room's open requests for anyone (not named ones) are served
      const dropped = this.dropRequests((r) => r.roomId === roomId && isCustomerWaiting(r) && !r.targetUserId);
      if (dropped) { this.persistQueue(); this.queueChanged(); }
    } else if (role === "bot") {
      const dropped = this.dropRequests((r) => r.roomId === roomId && r.forBot && !r.targetUserId);
      if (dropped) { this.persistQueue(); this.queueChanged(); }
    }
    return true;
  }

  // --- requests from the team's clients ---------------------------------------

  async accept(identity: Identity, payload: Payload<"accept">) {
    const request = this.state.requests.get(payload.requestId);
    if (!request) {
      const winner = this.accepted.get(payload.requestId);
      throw new RequestError(winner ? "already_accepted" : "unknown_request_id",
        winner ? `request already accepted by ${winner === identity.sub ? "you" : winner}` : "no such request in this team's queue");
    }
    const refusal = acceptRefusal(identity, request);
    if (refusal) { throw new RequestError("forbidden", refusal); }
    const agent = this.state.agents.get(identity.sub);
    if (identity.role === "agent" && agent && agent.activeConversations >= agent.maxConversations) {
      throw new RequestError("at_capacity", `already in ${agent.activeConversations} conversations (max ${agent.maxConversations})`);
    }
    // decided synchronously: nothing can interleave between the check and the delete
    this.state.requests.delete(request.id);
    this.passed.delete(request.id);
    this.accepted.set(request.id, identity.sub);
    if (isCustomerWaiting(request)) { addSample(this.acceptMs, Date.now() - request.createdAt); }
    const live = this.state.live.get(request.roomId);
    if (live && !live.agents.includes(identity.sub)) { this.addToLive(live, identity.sub); this.persistLive(); }
    this.persistQueue();
    this.queueChanged();
    this.room.updateAutoDispose();
    logger.info({ roomId: this.room.roomId, requestId: request.id, by: identity.sub }, "request accepted");
    if (request.kind === "transfer" || request.kind === "conference") {
      // the room may belong to another team: its member list lets the accepting agent in
      // with AGENT_TEAM_SCOPED (docs/desk.md); additive, so the room's actor may run anywhere.
      // Not fenced, on purpose: this is another room's write, whose owner epoch belongs to
      // that room's actor (this team room holds none for it), and the store merges the ids
      // into the stored list in one step, so it cannot undo or be undone by the owner's writes.
      await this.room.services.store.addMembers(request.roomId, [identity.sub])
        .catch((e) => logger.warn({ err: e?.message, roomId: request.roomId }, "could not grant the accepting agent the room"));
    }
    return {
      requestId: request.id, kind: request.kind, roomId: request.roomId, roomKind: request.roomKind,
      customerId: request.customerId, conversationId: request.conversationId,
    };
  }

  setStatus(identity: Identity, payload: Payload<"status">) {
    const agent = this.state.agents.get(identity.sub);
    if (!agent) { throw new RequestError("forbidden", "not in this team's room"); }
    agent.status = payload.status;
    // a reason belongs to not_ready; any change of status clears missed_offer
    agent.reason = payload.status === "not_ready" ? (payload.reason ?? "") : "";
    // an agent may lower its own maximum, never raise it over the configured one
    if (payload.maxConversations !== undefined) { agent.maxConversations = Math.min(payload.maxConversations, this.room.services.config.agentMaxConversations); }
    this.persistAgents();
    this.offerAll();
    this.queueChanged();
    return { maxConversations: agent.maxConversations };
  }

  // --- routing ------------------------------------------------------------------

  private addToLive(live: LiveConversationState, userId: string) {
    if (live.agents.includes(userId)) { return; }
    live.agents.push(userId);
    this.count(userId, +1);
  }

  private dropLive(roomId: string) {
    const live = this.state.live.get(roomId);
    if (!live) { return; }
    for (const userId of live.agents) { this.count(userId, -1); }
    this.state.live.delete(roomId);
  }

  private dropRequests(match: (request: RequestState) => boolean): boolean {
    let changed = false;
    for (const [id, request] of this.state.requests) {
      if (match(request)) { this.state.requests.delete(id); this.passed.delete(id); changed = true; }
    }
    return changed;
  }

  private count(userId: string, delta: number) {
    const n = Math.max(0, (this.counts.get(userId) ?? 0) + delta);
    if (n === 0) { this.counts.delete(userId); } else { this.counts.set(userId, n); }
    const agent = this.state.agents.get(userId);
    if (agent) { agent.activeConversations = n; }
  }

  /** Offers a request to the member routing picks (desk/routing.ts). */
  private offer(request: RequestState) {
    const chosen = pickAgent(request, this.state.agents.values(), this.passed.get(request.id));
    if (!chosen || request.offeredTo === chosen.userId) { return; }
    request.offeredTo = chosen.userId;
    request.offeredAt = Date.now();
    for (const client of this.room.clients) {
      if (who(client).sub === chosen.userId) { client.send("offer", request.toJSON()); }
    }
  }

  private offerAll() {
    for (const request of this.state.requests.values()) { if (!request.offeredTo) { this.offer(request); } }
  }

  /** The desk's clock: lapsed offers, follow-ups, escalations. */
  private tick() {
    // a duplicate actor (started by a concurrent call, then discarded) does nothing
    if (!this.room.isLive()) { return; }
    this.lapseOffers();
    this.followUps();
    this.escalate();
    // pushes only what changed, or was not applied yet
    this.queueChanged();
  }

  /**
   * An offer not accepted within OFFER_TIMEOUT_MS goes to the next candidate; the
   * member who let it lapse is not_ready (missed_offer) until it changes its status.
   */
  private lapseOffers() {
    const now = Date.now();
    let statusChanged = false;
    for (const request of this.state.requests.values()) {
      if (!request.offeredTo || !offerLapsed(request.offeredAt, now, this.room.services.config.offerTimeoutMs)) { continue; }
      const lapsed = request.offeredTo;
      const passed = this.passed.get(request.id) ?? new Set<string>();
      passed.add(lapsed);
      this.passed.set(request.id, passed);
      request.offeredTo = "";
      request.offeredAt = 0;
      const agent = this.state.agents.get(lapsed);
      if (agent && agent.status === "available") { agent.status = "not_ready"; agent.reason = "missed_offer"; statusChanged = true; }
      logger.info({ roomId: this.room.roomId, requestId: request.id, lapsed }, "offer lapsed");
      this.offer(request);
    }
    if (statusChanged) { this.persistAgents(); }
  }

  /** Customers waiting past QUEUE_MAX_WAIT_MS move to a follow-up: kept in the queue, flagged, told. */
  private followUps() {
    const now = Date.now();
    let changed = false;
    for (const request of this.state.requests.values()) {
      if (!followUpDue(request, now, this.room.services.config.queueMaxWaitMs)) { continue; }
      request.followUp = true;
      changed = true;
      callRoom(request.roomId, request.roomKind as QueuedRequest["roomKind"], "followUp", [request.conversationId])
        .catch((e) => logger.warn({ err: e?.message, roomId: request.roomId }, "could not tell the customer about the follow-up"));
    }
    if (changed) { this.persistQueue(); this.queueChanged(); }
  }

  /** Positions and waits to the waiting customers, after every change of the queue or its agents. */
  private queueChanged() {
    if (!this.feed) { return; }
    const serving = [...this.state.agents.values()].filter((a) => a.connected && a.role === "agent" && a.status === "available").length;
    this.feed.update(this.state.requests.values(), this.acceptMs, serving);
  }

  private escalate() {
    const now = Date.now();
    let changed = false;
    for (const request of this.state.requests.values()) {
      if (!request.escalated && now - request.createdAt >= this.room.services.config.requestEscalateMs) {
        request.escalated = true;
        changed = true;
        for (const client of this.room.clients) {
          if (who(client).role === "supervisor") { client.send("escalated", request.toJSON()); }
        }
        logger.info({ roomId: this.room.roomId, requestId: request.id }, "request escalated");
      }
    }
    if (changed) { this.persistQueue(); }
    this.offerAll();
  }

  private persistQueue() { this.documents.changed("queue"); }
  private persistLive() { this.documents.changed("live"); }
  private persistAgents() { this.documents.changed("agents"); }
}

function requestState(request: QueuedRequest): RequestState {
  // every field of a queued request is a field of its state
  return Object.assign(new RequestState(), { ...request, followUp: !!request.followUp });
}
