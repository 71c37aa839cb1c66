import { randomUUID } from "node:crypto";
import type { RoomContext, RoomHooks } from "../conversation/context";
import { callTeam, type TeamCall } from "../server/cluster/roomCalls";
import type { ConversationRecord, QueuedRequest } from "../server/store/types";

/**
 * A customer room's side of the agent desk: the room belongs to a team (its own,
 * else DEFAULT_TEAM), and tells that team's room what happens (a conversation
 * starts and waits for someone, staff come in, it ends) through the room hooks.
 * Telling is fire-and-forget: a team room that is unreachable never blocks a chat.
 */
export class CustomerDesk implements RoomHooks {
  constructor(private readonly room: RoomContext) {}

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
      customerId: room.record.customers[0] ?? "", conversationId: room.state.conversation?.id ?? "",
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
    const served = [...(room.state.conversation?.participants.values() ?? [])]
      .some((p) => STAFF_ROLES.has(p.role) && p.connected);
    if (!served) {
      const forBot = room.services.config.botTeams.includes(this.teamId);
      this.tell("enqueue", this.request("new", { forBot }));
    }
  }

  onConversationEnded(room: RoomContext, conversation: ConversationRecord) {
    this.tell("conversationEnded", room.roomId, conversation.id);
  }

  onStaffJoined(room: RoomContext, staff: { conversationId: string; userId: string; role: string }) {
    this.tell("staffJoined", room.roomId, staff.conversationId, staff.userId, staff.role);
  }
}

const STAFF_ROLES = new Set(["agent", "supervisor", "bot"]);
