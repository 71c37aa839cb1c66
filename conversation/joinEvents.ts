import { logger } from "../server/logger";
import type { RoomContext, RoomHooks } from "./context";
import type { ConversationHost } from "./requests";

/** A participant whose joinedAt is this recent joined now; an older one reconnected (a node restart resumed it). */
const NEW_JOIN_MS = 5_000;
/** conversation:user pairs this actor announced: a quick reload within NEW_JOIN_MS is no new join either */
const announced = new WeakMap<RoomContext, Set<string>>();

/**
 * "Alice joined the conversation" in the transcript, with the display name the
 * agent's token carries, when an agent or a bot becomes a participant: the customer
 * sees who is answering, and the history keeps it. A reconnection is no new join.
 * Supervisors are left out: a barge-in writes its own event (desk/actions.ts).
 * Off unless TRANSCRIPT_JOIN_EVENTS=true: the lines are part of every transcript,
 * its seqs and its webhooks, which an operator turns on knowingly.
 */
export const joinEvents: RoomHooks = {
  onStaffJoined(room: RoomContext, staff) {
    if (!room.services.config.transcriptJoinEvents || (staff.role !== "agent" && staff.role !== "bot")) { return; }
    const participant = room.state.conversation?.participants.get(staff.userId);
    if (!participant || room.state.conversation?.id !== staff.conversationId || Date.now() - participant.joinedAt > NEW_JOIN_MS) { return; }
    const seen = announced.get(room) ?? new Set<string>();
    announced.set(room, seen);
    const key = `${staff.conversationId}:${staff.userId}`;
    if (seen.has(key)) { return; }
    seen.add(key);
    const host = room as ConversationHost;
    const identity = { sub: participant.userId, role: participant.role as "agent" | "bot", name: participant.name, teams: [] };
    // after the join's own serial step: the event is stored in order with the messages
    void host.serial(async () => {
      if (host.state.conversation?.id !== staff.conversationId) { return; }
      await host.conversation.transcript.event(identity, `${participant.name} joined the conversation`);
    }).catch((err) => logger.warn({ err: err?.message, roomId: room.roomId }, "could not store the join event"));
  },
};
