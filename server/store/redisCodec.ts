import type { ConversationRecord, MessageRecord, NewMessage, RoomRecord } from "./types";

/** Records <-> Redis hash fields and stream entries, for RedisStore (server/store/redis.ts). */

export type StreamEntry = [id: string, fields: string[]];

export const toObject = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) { out[flat[i]] = flat[i + 1]; }
  return out;
};

export const isEmpty = (hash: Record<string, string>) => Object.keys(hash).length === 0;

export function encodeRoom(record: RoomRecord): string[] {
  const fields: string[] = [
    "roomId", record.roomId,
    "kind", record.kind,
    "members", JSON.stringify(record.members),
    "customers", JSON.stringify(record.customers),
    "createdAt", String(record.createdAt),
    "lastActivityAt", String(record.lastActivityAt),
    "activeConversationId", record.activeConversationId ?? "",
    "lastSeq", String(record.lastSeq),
    "pastConversations", String(record.pastConversations),
  ];
  if (record.teamId !== undefined) { fields.push("teamId", record.teamId); }
  if (record.subject !== undefined) { fields.push("subject", record.subject); }
  return fields;
}

export function decodeRoom(hash: Record<string, string>): RoomRecord {
  const record: RoomRecord = {
    roomId: hash.roomId,
    kind: hash.kind as RoomRecord["kind"],
    members: JSON.parse(hash.members ?? "[]"),
    customers: JSON.parse(hash.customers ?? "[]"),
    createdAt: Number(hash.createdAt),
    lastActivityAt: Number(hash.lastActivityAt),
    activeConversationId: hash.activeConversationId || null,
    lastSeq: Number(hash.lastSeq ?? 0),
    pastConversations: Number(hash.pastConversations ?? 0),
  };
  if (hash.teamId !== undefined) { record.teamId = hash.teamId; }
  if (hash.subject !== undefined) { record.subject = hash.subject; }
  return record;
}

/** Counters (firstSeq, lastSeq, messageCount) come last so scripts can leave them out. */
export function encodeConversation(c: ConversationRecord, withCounters: boolean): string[] {
  const fields = [
    "id", c.id,
    "roomId", c.roomId,
    "state", c.state,
    "startedAt", String(c.startedAt),
    "endedAt", String(c.endedAt),
    "endReason", c.endReason,
    "endedBy", c.endedBy,
    "participants", JSON.stringify(c.participants),
    "channelSessions", JSON.stringify(c.channelSessions),
  ];
  if (withCounters) {
    fields.push("firstSeq", String(c.firstSeq), "lastSeq", String(c.lastSeq), "messageCount", String(c.messageCount));
  }
  return fields;
}

export function decodeConversation(hash: Record<string, string>): ConversationRecord {
  return {
    id: hash.id,
    roomId: hash.roomId,
    state: hash.state as ConversationRecord["state"],
    startedAt: Number(hash.startedAt),
    endedAt: Number(hash.endedAt),
    endReason: hash.endReason,
    endedBy: hash.endedBy,
    firstSeq: Number(hash.firstSeq ?? 0),
    lastSeq: Number(hash.lastSeq ?? 0),
    messageCount: Number(hash.messageCount ?? 0),
    participants: JSON.parse(hash.participants ?? "[]"),
    channelSessions: JSON.parse(hash.channelSessions ?? "[]"),
    ...(hash.csat ? { csat: JSON.parse(hash.csat) } : {}),
  };
}

export const encodeMessage = (m: NewMessage) => JSON.stringify({
  id: m.id, conversationId: m.conversationId, senderId: m.senderId, senderRole: m.senderRole,
  senderName: m.senderName, kind: m.kind, text: m.text, at: m.at,
  // optional parts of a message (attachments, rich content): absent when empty, so older rows read the same
  ...(m.attachments?.length ? { attachments: m.attachments } : {}), ...(m.rich ? { rich: m.rich } : {}),
});

export const seqOf = (entryId: string) => Number(entryId.slice(0, entryId.indexOf("-")));

export function decodeEntry([entryId, flat]: StreamEntry): MessageRecord {
  const fields = toObject(flat);
  return { ...JSON.parse(fields.d), seq: seqOf(entryId) };
}
