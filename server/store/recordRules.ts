import type { ConversationRecord, MessageRecord, RoomKind, RoomRecord } from "./types";
import type { SearchCursor, SearchHit, SearchQuery } from "./recordTypes";

/*
 * The rules every store applies the same way when it erases a customer or searches
 * transcripts; pure, so the stores differ only in how they read and write.
 */

/** A room goes whole when the customer is its only customer; else they are removed from it. */
export const removesWholeRoom = (room: Pick<RoomRecord, "customers">, customerId: string) =>
  room.customers.length > 0 && room.customers.every((c) => c === customerId);

/** What stays of an erased customer's message: its place in the sequence, not its words nor their name. */
export const redactMessage = <M extends Pick<MessageRecord, "text" | "senderName">>(m: M): M => ({ ...m, text: "", senderName: "" });

/** Removes the customer's channel sessions and blanks their participant name; returns how many sessions went. */
export function stripCustomer(conversation: ConversationRecord, customerId: string): number {
  const before = conversation.channelSessions.length;
  conversation.channelSessions = conversation.channelSessions.filter((s) => s.customerId !== customerId);
  for (const p of conversation.participants) { if (p.userId === customerId) { p.name = ""; } }
  return before - conversation.channelSessions.length;
}

export function withoutCustomer(room: RoomRecord, customerId: string): RoomRecord {
  return { ...room, customers: room.customers.filter((c) => c !== customerId), members: room.members.filter((m) => m !== customerId) };
}

/** The words of a search: letters and digits, lower-cased; at most 16 of them. */
export function searchWords(q: string): string[] {
  return [...new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []))].slice(0, 16);
}

/** An FTS5 query matching every word as a phrase (no operator of the user reaches FTS5). */
export const ftsQuery = (words: string[]) => words.map((w) => `"${w.replace(/"/g, '""')}"`).join(" AND ");

/** True when a hit comes after the cursor in search order (at desc, roomId asc, seq desc). */
export const afterCursor = (h: SearchCursor, c: SearchCursor | undefined) =>
  !c || h.at < c.at || (h.at === c.at && (h.roomId > c.roomId || (h.roomId === c.roomId && h.seq < c.seq)));

/** A stored message as a search hit. */
export const hit = (roomId: string, roomKind: RoomKind, m: MessageRecord): SearchHit => ({
  roomId, roomKind, conversationId: m.conversationId, seq: m.seq, senderId: m.senderId, senderRole: m.senderRole, kind: m.kind, text: m.text, at: m.at,
});

export function roomInScope(room: Pick<RoomRecord, "teamId" | "members">, scope: SearchQuery["scope"]): boolean {
  if (!scope) { return true; }
  return scope.teams.includes(room.teamId || scope.defaultTeam) || room.members.includes(scope.memberId);
}
