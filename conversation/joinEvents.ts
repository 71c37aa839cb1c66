import type { Identity } from "../server/auth";
import { logger } from "../server/logger";
import type { RoomContext, RoomHooks } from "./context";
import type { ConversationHost } from "./requests";

/** A participant whose joinedAt is this recent joined now; an older one reconnected (a node restart resumed it). */
const NEW_JOIN_MS = 5_000;
/** conversation:user pairs this actor announced: a quick reload within NEW_JOIN_MS is no new join either */
const announced = new WeakMap<RoomContext, Set<string>>();

/**
 * "Alice joined the conversation" in the transcript, with the display name the
 * agent's token carries, when an agent or a bot becomes a participant, and "Alice left
 * the conversation" when the one announced leaves for good: the customer sees who is
 * answering, and the history keeps it. A reconnection is no new join.
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
    const identity = { sub: participant.userId, role: participant.role as "agent" | "bot", name: participant.name, teams: [] };
    store(room, identity, staff.conversationId, `${participant.name} joined the conversation`);
  },

  /** "<name> left the conversation" once an announced agent's or bot's last connection is gone for good (a transfer, a closed console). */
  onStaffLeft(room: RoomContext, staff) {
    const key = `${staff.conversationId}:${staff.userId}`;
    if (!room.services.config.transcriptJoinEvents || !announced.get(room)?.has(key)) { return; }
    announced.get(room)!.delete(key);
    const participant = room.state.conversation?.participants.get(staff.userId);
    if (!participant) { return; }
    const identity = { sub: participant.userId, role: participant.role as "agent" | "bot", name: participant.name, teams: [] };
    store(room, identity, staff.conversationId, `${participant.name} left the conversation`);
  },
};

/** After the current serial step: the event is stored in order with the messages, and only in its own conversation. */
function store(room: RoomContext, identity: Identity, conversationId: string, text: string) {
  const host = room as ConversationHost;
  void host.serial(async () => {
    if (host.state.conversation?.id !== conversationId) { return; }
    await host.conversation.transcript.event(identity, text);
  }).catch((err) => logger.warn({ err: err?.message, roomId: room.roomId }, "could not store an attendance event"));
}
