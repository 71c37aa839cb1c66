import { randomUUID } from "node:crypto";
import type { Delayed } from "@colyseus/timer";
import type { RoomContext, RoomHooks } from "../conversation/context";
import { who } from "../conversation/context";
import type { Conversation } from "../conversation/Conversation";
import type { ConversationState } from "../schema/ChatState";
import { absenceDue, HOLDING_ROLES } from "../conversation/lifecycleRules";
import type { Identity } from "../server/auth";
import { callTeam, type TeamCall } from "../server/cluster/roomCalls";
import { logger } from "../server/logger";
import type { ConversationRecord, QueuedRequest } from "../server/store/types";

/** The customer room as the desk link sees it. */
export interface CustomerDeskRoom extends RoomContext {
  readonly conversation: Conversation;
}

/** The desk itself, as the sender of its transcript events (requeue, follow-up). */
const DESK: Identity = { sub: "desk", role: "app", name: "Desk", teams: [] };

/**
 * A customer room's side of the agent desk: the room belongs to a team (its own,
 * else DEFAULT_TEAM), and tells that team's room what happens (a conversation
 * starts and waits for someone, staff come in, it ends) through the room hooks.
 * It also keeps the conversation's holder honest: a holder gone for
 * AGENT_DISCONNECT_MS (measured from its last connection closing) puts the
 * conversation back at the front of the team's queue (docs/desk.md).
 * Telling is fire-and-forget: a team room that is unreachable never blocks a chat.
 */
export class CustomerDesk implements RoomHooks {
  /** when the last staff connection of the active conversation closed (0: someone is there) */
  private absentSince = 0;
  private absenceTimer: Delayed | null = null;

  constructor(private readonly room: CustomerDeskRoom) {}

  /** Customer rooms belong to a team: the room's, else the configured default. */
  get teamId(): string {
    return this.room.record.teamId || this.room.services.config.defaultTeam;
  }

  /** Fire-and-forget call to the team's actor; failures are logged by callTeam. */
  tell(method: TeamCall, ...args: unknown[]) {
    callTeam(this.teamId, method, ...args).catch(() => { /* logged by callTeam */ });
  }

  /** A request for the team's queue about this room's active conversation. */
  request(kind: QueuedRequest["kind"], fields: Partial<QueuedRequest> = {}): QueuedRequest {
    const { room } = this;
    return {
      id: `req-${randomUUID()}`, kind, roomId: room.roomId, roomKind: room.kind,
      customerId: room.record.customers[0] ?? "", conversationId: room.conversation.active?.id ?? "",
      targetUserId: "", fromUserId: "", reason: "", forBot: false, createdAt: Date.now(), escalated: false,
      ...fields,
    };
  }

  // --- hooks -------------------------------------------------------------------

  onConversationStarted(room: RoomContext, conversation: ConversationRecord) {
    this.tell("conversationStarted", {
      roomId: room.roomId, conversationId: conversation.id, customerId: room.record.customers[0] ?? "",
      startedAt: conversation.startedAt,
      agents: conversation.participants.filter((p) => p.role !== "customer").map((p) => p.userId),
    });
    const served = [...(this.room.conversation.active?.participants.values() ?? [])]
      .some((p) => HOLDING_ROLES.has(p.role) && p.connected);
    if (!served) {
      const forBot = room.services.config.botTeams.includes(this.teamId);
      this.tell("enqueue", this.request("new", { forBot }));
    }
  }

  /**
   * The room's actor starts (after the conversation's resume): a queued conversation
   * asks the team for its place again, one whose agent is not here starts its window.
   */
  actorStarted() {
    if (this.room.conversation.active?.status === "queued") { this.tell("placeWanted", this.room.roomId); }
    this.onAttendanceChanged();
  }

  onConversationEnded(room: RoomContext, conversation: ConversationRecord) {
    this.present();
    this.tell("conversationEnded", room.roomId, conversation.id);
  }

  onStaffJoined(room: RoomContext, staff: { conversationId: string; userId: string; role: string }) {
    this.tell("staffJoined", room.roomId, staff.conversationId, staff.userId, staff.role);
  }

  /** Someone connected, dropped, left or came back: is a holder still there? */
  onAttendanceChanged() {
    const conversation = this.room.conversation.active;
    if (!conversation || this.room.kind !== "contact_center") { return; }
    const connected = this.connectedStaff(conversation);
    if (connected) {
      if (conversation.status === "on_hold") {
        conversation.status = connected.role === "bot" ? "bot" : "active";
        if (!this.inRoom(conversation.holder)) { conversation.holder = connected.userId; }
        this.room.conversation.idle.reschedule();
      }
      this.present();
      return;
    }
    // nobody holds it (queued), or the window already runs
    if (!conversation.holder || this.absentSince) { return; }
    // the last staff connection closed: the window runs from now, customers' activity does not reset it
    this.absentSince = Date.now();
    if (conversation.status === "active" || conversation.status === "bot") {
      conversation.status = "on_hold";
      this.room.conversation.idle.reschedule();
    }
    const wait = this.room.services.config.agentDisconnectMs;
    this.absenceTimer = this.room.clock.setTimeout(() => this.absenceOver(), wait);
  }

  /** A staff participant in the conversation with a live connection (monitors do not count). */
  private connectedStaff(conversation: ConversationState) {
    return [...conversation.participants.values()]
      .find((p) => HOLDING_ROLES.has(p.role) && !p.leftAt && p.connected && this.inRoom(p.userId));
  }

  private inRoom(userId: string) {
    return this.room.clients.some((c) => who(c).sub === userId && !c.userData?.dropped && !c.userData?.monitor);
  }

  private present() {
    this.absentSince = 0;
    this.absenceTimer?.clear();
    this.absenceTimer = null;
  }

  /** AGENT_DISCONNECT_MS later: nobody came back, so the conversation is requeued. */
  private absenceOver() {
    this.absenceTimer = null;
    const { room } = this;
    if (!room.isLive()) { this.absenceTimer = room.clock.setTimeout(() => this.absenceOver(), 250); return; }
    room.serial(async () => {
      const conversation = room.conversation.active;
      if (!conversation || !this.absentSince) { return; }
      if (!absenceDue(this.absentSince, Date.now(), room.services.config.agentDisconnectMs)) {
        // the room's clock fires a little early at times: wait for the rest of the window
        const rest = this.absentSince + room.services.config.agentDisconnectMs - Date.now();
        this.absenceTimer = room.clock.setTimeout(() => this.absenceOver(), Math.max(10, rest));
        return;
      }
      // someone took part meanwhile without a join (a supervisor's barge-in)
      if (this.connectedStaff(conversation)) { this.present(); return; }
      this.absentSince = 0;
      const now = Date.now();
      const gone: string[] = [];
      for (const p of conversation.participants.values()) {
        if (!HOLDING_ROLES.has(p.role)) { continue; }
        if (!p.leftAt) { p.leftAt = now; }
        p.connected = false; p.typing = false; gone.push(p.userId);
      }
      Object.assign(conversation, { status: "queued", holder: "" });
      room.conversation.markDirty();
      await room.conversation.flush();
      room.conversation.idle.reschedule();
      const request = this.request("requeue", { reason: "agent_disconnected" });
      this.tell("requeue", request, gone);
      await room.conversation.transcript.event(DESK, "The agent left; the conversation is back in the queue, at its front");
      logger.info({ roomId: room.roomId, conversationId: conversation.id, gone }, "conversation requeued");
    }).catch((e) => logger.error({ err: e, roomId: room.roomId }, "requeue failed"));
  }

  // --- calls from the team's actor (desk/TeamDesk.ts) ------------------------------

  /**
   * The customer's place in the queue changed. Under the room's serial queue, like
   * every mutation: a change made while the conversation's start was still being
   * written was lost in the first patch.
   */
  queueUpdate(conversationId: string, position: number, estimatedWaitMs: number, followUp: boolean) {
    return this.room.serial(async () => {
      const conversation = this.room.conversation.active;
      if (!conversation || conversation.id !== conversationId) { return false; }
      // answered either way: a conversation already held needs no position
      if (conversation.status !== "queued") { return true; }
      Object.assign(conversation, { queuePosition: position, estimatedWaitMs });
      // a new actor of the room learns here that its customer waits for a follow-up
      if (followUp && !conversation.followUp) { void this.followUp(conversationId).catch(() => {}); }
      return true;
    });
  }

  /** Waited past QUEUE_MAX_WAIT_MS: the customer is told an agent will answer here later. */
  async followUp(conversationId: string) {
    return this.room.serial(async () => {
      const conversation = this.room.conversation.active;
      if (!conversation || conversation.id !== conversationId || conversation.followUp) { return false; }
      conversation.followUp = true;
      await this.room.conversation.transcript.event(DESK,
        "All agents are busy. You do not need to wait: an agent will answer here as soon as possible. You may leave your email address.");
      return true;
    });
  }
}
