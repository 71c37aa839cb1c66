import type pg from "pg";
import type {
  AuditEntry, AuditQuery, CustomerExport, ErasureResult, PurgeResult, SearchHit, SearchQuery,
} from "./recordTypes";
import { hit, redactMessage, removesWholeRoom, searchWords, stripCustomer, withoutCustomer } from "./recordRules";
import {
  CONVERSATION_COLUMNS, CONVERSATION_SELECT, ROOM_COLUMNS, conversationFromRow, decodeMessage, roomFromRow, type ConversationRow, type RoomRow,
} from "./sqlRows";
import type { RoomKind, RoomRecord } from "./types";

/*
 * The PostgreSQL store's retention, erasure, export, search and audit. Writes run in
 * one transaction each (the store's `tx`); rooms are locked FOR UPDATE, in room id
 * order, as the append function locks them, so an erasure and a batch cannot deadlock.
 */

type Q = Pick<pg.PoolClient, "query">;
const ROOM_TABLES = ["cc_rooms", "cc_conversations", "cc_messages", "cc_idle_deadlines", "cc_outbox", "cc_outbox_leases"];

async function dropRoom(c: Q, roomId: string) {
  for (const table of ROOM_TABLES) { await c.query(`DELETE FROM ${table} WHERE room_id = $1`, [roomId]); }
}

export async function purgeEnded(c: Q, kind: RoomKind, endedBefore: number, limit: number): Promise<PurgeResult> {
  const result: PurgeResult = { conversations: 0, messages: 0, rooms: 0 };
  if (!(limit > 0)) { return result; }
  const { rows } = await c.query(`SELECT c.room_id, c.id FROM cc_conversations c JOIN cc_rooms r ON r.room_id = c.room_id
    WHERE c.state = 'ended' AND c.ended_at < $1 AND r.kind = $2 ORDER BY c.room_id LIMIT $3`, [endedBefore, kind, Math.floor(limit)]);
  const rooms = [...new Set(rows.map((r) => r.room_id as string))].sort();
  if (rooms.length > 0) { await c.query("SELECT 1 FROM cc_rooms WHERE room_id = ANY($1::text[]) ORDER BY room_id FOR UPDATE", [rooms]); }
  for (const row of rows) {
    result.messages += (await c.query("DELETE FROM cc_messages WHERE room_id = $1 AND conversation_id = $2", [row.room_id, row.id])).rowCount ?? 0;
    // re-checked under the room lock: an ended conversation never becomes active again, but stay exact
    result.conversations += (await c.query("DELETE FROM cc_conversations WHERE room_id = $1 AND id = $2 AND state = 'ended'", [row.room_id, row.id])).rowCount ?? 0;
  }
  for (const roomId of rooms) {
    const { rowCount } = await c.query(`SELECT 1 FROM cc_rooms r WHERE r.room_id = $1 AND r.active_conversation_id IS NULL AND r.last_activity_at < $2
      AND NOT EXISTS (SELECT 1 FROM cc_conversations c WHERE c.room_id = r.room_id)`, [roomId, endedBefore]);
    if (rowCount) { await dropRoom(c, roomId); result.rooms++; }
  }
  return result;
}

async function roomsOf(c: Q, customerId: string, lock = false): Promise<RoomRecord[]> {
  // a scan of the rooms (no index on customers): erasure and export are rare
  const { rows } = await c.query<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM cc_rooms WHERE customers::jsonb ? $1 ORDER BY room_id ${lock ? "FOR UPDATE" : ""}`, [customerId]);
  return rows.map(roomFromRow);
}

export const customerRooms = async (c: Q, customerId: string) => (await roomsOf(c, customerId)).map((r) => r.roomId);

async function conversationsOf(c: Q, roomId: string) {
  const { rows } = await c.query<ConversationRow>(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations WHERE room_id = $1 ORDER BY started_at, id`, [roomId]);
  return rows.map(conversationFromRow);
}

export async function eraseCustomer(c: Q, customerId: string): Promise<ErasureResult> {
  const r: ErasureResult = { rooms: 0, conversations: 0, messages: 0, redactedMessages: 0, roomsLeft: 0, channelSessions: 0, outboxEntries: 0 };
  // the customer's channel addresses (email, phone numbers) are personal data too
  await c.query("DELETE FROM cc_channel_addresses WHERE customer_id = $1", [customerId]);
  for (const room of await roomsOf(c, customerId, true)) {
    const conversations = await conversationsOf(c, room.roomId);
    if (removesWholeRoom(room, customerId)) {
      r.rooms++;
      r.conversations += conversations.length;
      r.channelSessions += conversations.reduce((n, conv) => n + conv.channelSessions.length, 0);
      r.messages += Number((await c.query("SELECT count(*) AS n FROM cc_messages WHERE room_id = $1", [room.roomId])).rows[0].n);
      r.outboxEntries += Number((await c.query("SELECT count(*) AS n FROM cc_outbox WHERE room_id = $1", [room.roomId])).rows[0].n);
      await dropRoom(c, room.roomId);
      continue;
    }
    r.roomsLeft++;
    const left = withoutCustomer(room, customerId);
    await c.query("UPDATE cc_rooms SET customers = $2, members = $3 WHERE room_id = $1", [room.roomId, JSON.stringify(left.customers), JSON.stringify(left.members)]);
    for (const conv of conversations) {
      r.channelSessions += stripCustomer(conv, customerId);
      await c.query("UPDATE cc_conversations SET participants = $3, channel_sessions = $4 WHERE room_id = $1 AND id = $2",
        [conv.roomId, conv.id, JSON.stringify(conv.participants), JSON.stringify(conv.channelSessions)]);
    }
  }
  const { rows } = await c.query("SELECT room_id, seq, data FROM cc_messages WHERE sender_id = $1 ORDER BY room_id, seq", [customerId]);
  for (const row of rows) {
    const { seq: _seq, ...body } = redactMessage(decodeMessage(row.data, row.seq));
    await c.query("UPDATE cc_messages SET data = $3 WHERE room_id = $1 AND seq = $2", [row.room_id, row.seq, JSON.stringify(body)]);
    r.redactedMessages++;
  }
  return r;
}

export async function exportCustomer(c: Q, customerId: string): Promise<CustomerExport> {
  const out: CustomerExport = { customerId, rooms: [], messagesElsewhere: [], channelSessions: [], channelAddresses: [] };
  const own = new Set<string>();
  for (const room of await roomsOf(c, customerId)) {
    own.add(room.roomId);
    const conversations = [];
    for (const conv of await conversationsOf(c, room.roomId)) {
      const { rows } = await c.query("SELECT seq, data FROM cc_messages WHERE room_id = $1 AND conversation_id = $2 ORDER BY seq", [room.roomId, conv.id]);
      conversations.push({ ...conv, messages: rows.map((m) => decodeMessage(m.data, m.seq)) });
      out.channelSessions.push(...conv.channelSessions.filter((s) => s.customerId === customerId));
    }
    out.rooms.push({ room, conversations });
  }
  const { rows } = await c.query("SELECT room_id, seq, data FROM cc_messages WHERE sender_id = $1 ORDER BY room_id, seq", [customerId]);
  for (const row of rows) {
    if (!own.has(row.room_id)) { out.messagesElsewhere.push({ ...decodeMessage(row.data, row.seq), roomId: row.room_id }); }
  }
  // COLLATE "C": code point order on UTF-8, as in the other stores (not the database's locale)
  const addresses = await c.query(`SELECT type, address FROM cc_channel_addresses WHERE customer_id = $1
    ORDER BY type COLLATE "C", address COLLATE "C"`, [customerId]);
  out.channelAddresses = addresses.rows.map((r) => ({ type: r.type, address: r.address }));
  return out;
}

export async function searchMessages(c: Q, query: SearchQuery): Promise<SearchHit[]> {
  const words = searchWords(query.q);
  if (words.length === 0 || !(query.limit > 0)) { return []; }
  const before = query.before === undefined || !Number.isFinite(query.before) ? Number.MAX_SAFE_INTEGER : Math.ceil(query.before);
  const params: unknown[] = [words.join(" "), before];
  let scope = "";
  // room ids compare byte-wise (COLLATE "C"), as in SQLite and JavaScript, so a cursor means the same everywhere
  const $ = (value: unknown) => { params.push(value); return `$${params.length}`; };
  if (query.after) {
    const a = query.after;
    scope += `AND (m.sent_at < ${$(a.at)} OR (m.sent_at = ${$(a.at)} AND (m.room_id COLLATE "C" > ${$(a.roomId)} OR (m.room_id = ${$(a.roomId)} AND m.seq < ${$(a.seq)})))) `;
  }
  if (query.scope) {
    scope += `AND (coalesce(nullif(r.team_id, ''), ${$(query.scope.defaultTeam)}) = ANY(${$(query.scope.teams)}::text[]) OR r.members::jsonb ? ${$(query.scope.memberId)})`;
  }
  params.push(Math.floor(query.limit));
  const { rows } = await c.query(`SELECT m.room_id, r.kind, m.seq, m.data FROM cc_messages m JOIN cc_rooms r ON r.room_id = m.room_id
    WHERE m.search @@ plainto_tsquery('simple', $1) AND m.sent_at < $2 ${scope}
    ORDER BY m.sent_at DESC, m.room_id COLLATE "C", m.seq DESC LIMIT $${params.length}`, params);
  return rows.map((row) => hit(row.room_id, row.kind, decodeMessage(row.data, row.seq)));
}

export async function appendAudit(c: Q, e: Omit<AuditEntry, "id">): Promise<AuditEntry> {
  const { rows } = await c.query("INSERT INTO cc_audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    [e.at, e.actor, e.action, e.subject, JSON.stringify(e.detail)]);
  return { ...e, id: String(rows[0].id) };
}

export async function readAudit(c: Q, q: AuditQuery): Promise<AuditEntry[]> {
  if (!(q.limit > 0)) { return []; }
  const { rows } = await c.query(`SELECT id, at, actor, action, subject, detail FROM cc_audit
    WHERE ($1::text IS NULL OR subject = $1) AND ($2::text IS NULL OR action = $2) AND id < $3 ORDER BY id DESC LIMIT $4`,
  [q.subject ?? null, q.action ?? null, q.before ?? Number.MAX_SAFE_INTEGER, Math.floor(q.limit)]);
  return rows.map((row) => ({ id: String(row.id), at: Number(row.at), actor: row.actor, action: row.action, subject: row.subject, detail: JSON.parse(row.detail) }));
}
