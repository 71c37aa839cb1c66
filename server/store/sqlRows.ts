import type { ConversationRecord, MessageRecord, NewMessage, RoomRecord } from "./types";

/*
 * Row <-> record mapping shared by the SQL stores (sqlite.ts, postgres.ts): both use
 * the same tables and columns (see their migrations). Lists (members, participants,
 * channel sessions) are JSON text: they are always read and written whole.
 * A message's body is JSON text too: JSON escapes control characters, so a text with
 * U+0000 (which PostgreSQL's text type refuses) is stored byte for byte.
 */

export interface RoomRow {
  room_id: string; kind: string; members: string; customers: string;
  team_id: string | null; subject: string | null; created_at: number | string;
  last_activity_at: number | string; active_conversation_id: string | null;
  last_seq: number | string; past_conversations: number | string;
}

export interface ConversationRow {
  room_id: string; id: string; state: string; started_at: number | string; ended_at: number | string;
  end_reason: string; ended_by: string; first_seq: number | string; last_seq: number | string;
  message_count: number | string; participants: string; channel_sessions: string;
  /** JSON of the CsatRecord, null until rated (migration 3) */
  csat?: string | null;
}

export function roomFromRow(row: RoomRow): RoomRecord {
  const record: RoomRecord = {
    roomId: row.room_id,
    kind: row.kind as RoomRecord["kind"],
    members: JSON.parse(row.members),
    customers: JSON.parse(row.customers),
    createdAt: Number(row.created_at),
    lastActivityAt: Number(row.last_activity_at),
    activeConversationId: row.active_conversation_id ?? null,
    lastSeq: Number(row.last_seq),
    pastConversations: Number(row.past_conversations),
  };
  if (row.team_id !== null) { record.teamId = row.team_id; }
  if (row.subject !== null) { record.subject = row.subject; }
  return record;
}

/** Column values in the order of ROOM_COLUMNS. */
export const roomValues = (r: RoomRecord) => [
  r.roomId, r.kind, JSON.stringify(r.members), JSON.stringify(r.customers), r.teamId ?? null, r.subject ?? null,
  r.createdAt, r.lastActivityAt, r.activeConversationId, r.lastSeq, r.pastConversations,
];
export const ROOM_COLUMNS = "room_id, kind, members, customers, team_id, subject, created_at, last_activity_at, active_conversation_id, last_seq, past_conversations";

export function conversationFromRow(row: ConversationRow): ConversationRecord {
  return {
    id: row.id,
    roomId: row.room_id,
    state: row.state as ConversationRecord["state"],
    startedAt: Number(row.started_at),
    endedAt: Number(row.ended_at),
    endReason: row.end_reason,
    endedBy: row.ended_by,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    messageCount: Number(row.message_count),
    participants: JSON.parse(row.participants),
    channelSessions: JSON.parse(row.channel_sessions),
    ...(row.csat ? { csat: JSON.parse(row.csat) } : {}),
  };
}

/** Column values in the order of CONVERSATION_COLUMNS. */
export const conversationValues = (c: ConversationRecord) => [
  c.roomId, c.id, c.state, c.startedAt, c.endedAt, c.endReason, c.endedBy, c.firstSeq, c.lastSeq, c.messageCount,
  JSON.stringify(c.participants), JSON.stringify(c.channelSessions),
];
export const CONVERSATION_COLUMNS = "room_id, id, state, started_at, ended_at, end_reason, ended_by, first_seq, last_seq, message_count, participants, channel_sessions";
/** What a read selects: the written columns and the rating, which only `rateConversation` writes. */
export const CONVERSATION_SELECT = `${CONVERSATION_COLUMNS}, csat`;

export const encodeMessage = (m: NewMessage) => JSON.stringify({
  id: m.id, conversationId: m.conversationId, senderId: m.senderId, senderRole: m.senderRole,
  senderName: m.senderName, kind: m.kind, text: m.text, at: m.at,
  // optional parts of a message (attachments, rich content): absent when empty, so older rows read the same
  ...(m.attachments?.length ? { attachments: m.attachments } : {}), ...(m.rich ? { rich: m.rich } : {}),
});

export const decodeMessage = (data: string, seq: number | string): MessageRecord => ({ ...JSON.parse(data), seq: Number(seq) });
