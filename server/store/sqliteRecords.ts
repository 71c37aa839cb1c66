import type { SqliteDb } from "./sqliteDb";
import type {
  AuditEntry, AuditQuery, CustomerExport, ErasureResult, PurgeResult, SearchHit, SearchQuery,
} from "./recordTypes";
import { ftsQuery, hit, redactMessage, removesWholeRoom, searchWords, stripCustomer, withoutCustomer } from "./recordRules";
import {
  CONVERSATION_COLUMNS, CONVERSATION_SELECT, ROOM_COLUMNS, conversationFromRow, decodeMessage, roomFromRow, type ConversationRow, type RoomRow,
} from "./sqlRows";
import type { RoomKind, RoomRecord } from "./types";

/*
 * The SQLite store's retention, erasure, export, search and audit (RoomStore's record
 * calls). Synchronous functions; every write runs in one transaction.
 */

const ROOM_TABLES = ["cc_rooms", "cc_conversations", "cc_messages", "cc_idle_deadlines", "cc_outbox", "cc_outbox_leases"];

function dropRoom(db: SqliteDb, roomId: string) {
  for (const table of ROOM_TABLES) { db.stmt(`DELETE FROM ${table} WHERE room_id = ?`).run(roomId); }
}

export function purgeEnded(db: SqliteDb, kind: RoomKind, endedBefore: number, limit: number): PurgeResult {
  const result: PurgeResult = { conversations: 0, messages: 0, rooms: 0 };
  if (!(limit > 0)) { return result; }
  return db.transaction(() => {
    const rows = db.stmt(`SELECT c.room_id, c.id FROM cc_conversations c JOIN cc_rooms r ON r.room_id = c.room_id
      WHERE c.state = 'ended' AND c.ended_at < ? AND r.kind = ? LIMIT ?`).all(endedBefore, kind, Math.floor(limit)) as { room_id: string; id: string }[];
    const rooms = new Set<string>();
    for (const row of rows) {
      result.messages += Number(db.stmt("DELETE FROM cc_messages WHERE room_id = ? AND conversation_id = ?").run(row.room_id, row.id).changes);
      db.stmt("DELETE FROM cc_conversations WHERE room_id = ? AND id = ?").run(row.room_id, row.id);
      result.conversations++;
      rooms.add(row.room_id);
    }
    for (const roomId of rooms) {
      const empty = db.stmt(`SELECT 1 FROM cc_rooms r WHERE r.room_id = ? AND r.active_conversation_id IS NULL AND r.last_activity_at < ?
        AND NOT EXISTS (SELECT 1 FROM cc_conversations c WHERE c.room_id = r.room_id)`).get(roomId, endedBefore);
      if (empty) { dropRoom(db, roomId); result.rooms++; }
    }
    return result;
  });
}

function roomsOf(db: SqliteDb, customerId: string): RoomRecord[] {
  return (db.stmt(`SELECT ${ROOM_COLUMNS} FROM cc_rooms r WHERE EXISTS (SELECT 1 FROM json_each(r.customers) WHERE value = ?)`)
    .all(customerId) as unknown as RoomRow[]).map(roomFromRow);
}

export const customerRooms = (db: SqliteDb, customerId: string) => roomsOf(db, customerId).map((r) => r.roomId);

function conversationsOf(db: SqliteDb, roomId: string) {
  return (db.stmt(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations WHERE room_id = ? ORDER BY started_at, id`)
    .all(roomId) as unknown as ConversationRow[]).map(conversationFromRow);
}

export function eraseCustomer(db: SqliteDb, customerId: string): ErasureResult {
  const r: ErasureResult = { rooms: 0, conversations: 0, messages: 0, redactedMessages: 0, roomsLeft: 0, channelSessions: 0, outboxEntries: 0 };
  return db.transaction(() => {
    // the customer's channel addresses (email, phone numbers) are personal data too
    db.stmt("DELETE FROM cc_channel_addresses WHERE customer_id = ?").run(customerId);
    for (const room of roomsOf(db, customerId)) {
      const conversations = conversationsOf(db, room.roomId);
      if (removesWholeRoom(room, customerId)) {
        r.rooms++;
        r.conversations += conversations.length;
        r.channelSessions += conversations.reduce((n, c) => n + c.channelSessions.length, 0);
        r.messages += Number((db.stmt("SELECT count(*) AS n FROM cc_messages WHERE room_id = ?").get(room.roomId) as { n: number }).n);
        r.outboxEntries += Number((db.stmt("SELECT count(*) AS n FROM cc_outbox WHERE room_id = ?").get(room.roomId) as { n: number }).n);
        dropRoom(db, room.roomId);
        continue;
      }
      r.roomsLeft++;
      const left = withoutCustomer(room, customerId);
      db.stmt("UPDATE cc_rooms SET customers = ?, members = ? WHERE room_id = ?").run(JSON.stringify(left.customers), JSON.stringify(left.members), room.roomId);
      for (const c of conversations) {
        r.channelSessions += stripCustomer(c, customerId);
        db.stmt("UPDATE cc_conversations SET participants = ?, channel_sessions = ? WHERE room_id = ? AND id = ?")
          .run(JSON.stringify(c.participants), JSON.stringify(c.channelSessions), c.roomId, c.id);
      }
    }
    // what they sent anywhere else keeps its place in the sequence, not its words
    const sent = db.stmt("SELECT room_id, seq, data FROM cc_messages WHERE sender_id = ?").all(customerId) as { room_id: string; seq: number; data: string }[];
    for (const row of sent) {
      const { seq: _seq, ...body } = redactMessage(decodeMessage(row.data, row.seq));
      db.stmt("UPDATE cc_messages SET data = ? WHERE room_id = ? AND seq = ?").run(JSON.stringify(body), row.room_id, row.seq);
      r.redactedMessages++;
    }
    return r;
  });
}

export function exportCustomer(db: SqliteDb, customerId: string): CustomerExport {
  const out: CustomerExport = { customerId, rooms: [], messagesElsewhere: [], channelSessions: [], channelAddresses: [] };
  const own = new Set<string>();
  for (const room of roomsOf(db, customerId)) {
    own.add(room.roomId);
    const conversations = conversationsOf(db, room.roomId).map((c) => ({
      ...c,
      messages: (db.stmt("SELECT seq, data FROM cc_messages WHERE room_id = ? AND conversation_id = ? ORDER BY seq").all(room.roomId, c.id) as { seq: number; data: string }[])
        .map((m) => decodeMessage(m.data, m.seq)),
    }));
    for (const c of conversations) { out.channelSessions.push(...c.channelSessions.filter((s) => s.customerId === customerId)); }
    out.rooms.push({ room, conversations });
  }
  const sent = db.stmt("SELECT room_id, seq, data FROM cc_messages WHERE sender_id = ? ORDER BY room_id, seq").all(customerId) as { room_id: string; seq: number; data: string }[];
  for (const row of sent) {
    if (!own.has(row.room_id)) { out.messagesElsewhere.push({ ...decodeMessage(row.data, row.seq), roomId: row.room_id }); }
  }
  // text compares byte-wise (BINARY) on UTF-8: code point order, as in the other stores
  out.channelAddresses = db.stmt("SELECT type, address FROM cc_channel_addresses WHERE customer_id = ? ORDER BY type, address")
    .all(customerId).map((r) => ({ type: String(r.type), address: String(r.address) }));
  return out;
}

export function searchMessages(db: SqliteDb, query: SearchQuery): SearchHit[] {
  const words = searchWords(query.q);
  if (words.length === 0 || !(query.limit > 0)) { return []; }
  const before = query.before === undefined || !Number.isFinite(query.before) ? Number.MAX_SAFE_INTEGER : query.before;
  const params: (string | number)[] = [ftsQuery(words), before];
  let scope = "";
  if (query.after) {
    scope += "AND (s.at < ? OR (s.at = ? AND (m.room_id > ? OR (m.room_id = ? AND m.seq < ?)))) ";
    const a = query.after;
    params.push(a.at, a.at, a.roomId, a.roomId, a.seq);
  }
  if (query.scope) {
    scope += `AND (coalesce(nullif(r.team_id, ''), ?) IN (SELECT value FROM json_each(?))
      OR EXISTS (SELECT 1 FROM json_each(r.members) WHERE value = ?))`;
    params.push(query.scope.defaultTeam, JSON.stringify(query.scope.teams), query.scope.memberId);
  }
  params.push(Math.floor(query.limit));
  const rows = db.stmt(`SELECT m.room_id, r.kind, m.seq, m.data FROM cc_message_search s
      JOIN cc_message_search_ids k ON k.id = s.rowid
      JOIN cc_messages m ON m.room_id = k.room_id AND m.seq = k.seq
      JOIN cc_rooms r ON r.room_id = m.room_id
    WHERE cc_message_search MATCH ? AND s.at < ? ${scope}
    ORDER BY s.at DESC, m.room_id, m.seq DESC LIMIT ?`).all(...params) as { room_id: string; kind: RoomKind; seq: number; data: string }[];
  return rows.map((row) => hit(row.room_id, row.kind, decodeMessage(row.data, row.seq)));
}

export function appendAudit(db: SqliteDb, e: Omit<AuditEntry, "id">): AuditEntry {
  const { lastInsertRowid } = db.stmt("INSERT INTO cc_audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)")
    .run(e.at, e.actor, e.action, e.subject, JSON.stringify(e.detail));
  return { ...e, id: String(lastInsertRowid) };
}

export function readAudit(db: SqliteDb, q: AuditQuery): AuditEntry[] {
  if (!(q.limit > 0)) { return []; }
  const rows = db.stmt(`SELECT id, at, actor, action, subject, detail FROM cc_audit
    WHERE (? IS NULL OR subject = ?) AND (? IS NULL OR action = ?) AND id < ? ORDER BY id DESC LIMIT ?`)
    .all(q.subject ?? null, q.subject ?? null, q.action ?? null, q.action ?? null, q.before ?? Number.MAX_SAFE_INTEGER, Math.floor(q.limit)) as any[];
  return rows.map((row) => ({ id: String(row.id), at: Number(row.at), actor: row.actor, action: row.action, subject: row.subject, detail: JSON.parse(row.detail) }));
}
