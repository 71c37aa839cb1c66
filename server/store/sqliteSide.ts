import type { SqliteDb } from "./sqliteDb";
import type { OutboxEntry } from "./types";

/*
 * The SQLite store's tables beside the room record: idle deadlines, leases, team
 * queues and the webhook outbox. Plain synchronous functions on the database; the
 * store (sqlite.ts) runs them in its call wrapper.
 */

export function setIdleDeadline(db: SqliteDb, roomId: string, deadline: number) {
  db.stmt("INSERT INTO cc_idle_deadlines (room_id, deadline) VALUES (?, ?) ON CONFLICT (room_id) DO UPDATE SET deadline = excluded.deadline").run(roomId, deadline);
}

export function clearIdleDeadline(db: SqliteDb, roomId: string) {
  db.stmt("DELETE FROM cc_idle_deadlines WHERE room_id = ?").run(roomId);
}

/** Earliest deadline first. */
export function dueIdleDeadlines(db: SqliteDb, now: number, limit: number): string[] {
  if (!(limit > 0)) { return []; }
  return (db.stmt("SELECT room_id FROM cc_idle_deadlines WHERE deadline <= ? ORDER BY deadline, room_id LIMIT ?")
    .all(now, Math.floor(limit)) as { room_id: string }[]).map((r) => r.room_id);
}

export function claim(db: SqliteDb, name: string, ttlMs: number): boolean {
  const now = Date.now();
  return db.stmt("INSERT INTO cc_leases (name, until) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET until = excluded.until WHERE cc_leases.until <= ?")
    .run(name, now + ttlMs, now).changes === 1;
}

/**
 * A team's queue, live conversations, agents' statuses and canned replies: each one
 * JSON document per team, replaced whole (an empty list removes the row), as in the
 * PostgreSQL store. `TEAM_DOCS` names each document's table and column: constants,
 * never input.
 */
export const TEAM_DOCS = {
  queue: ["cc_team_queues", "requests"],
  live: ["cc_team_live", "live"],
  agents: ["cc_team_agents", "agents"],
  canned: ["cc_team_canned", "replies"],
} as const;
export type TeamDoc = keyof typeof TEAM_DOCS;

export function saveTeamDoc(db: SqliteDb, doc: TeamDoc, teamId: string, list: unknown[]) {
  const [table, column] = TEAM_DOCS[doc];
  if (list.length === 0) { db.stmt(`DELETE FROM ${table} WHERE team_id = ?`).run(teamId); return; }
  db.stmt(`INSERT INTO ${table} (team_id, ${column}) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET ${column} = excluded.${column}`)
    .run(teamId, JSON.stringify(list));
}

export function loadTeamDoc<T>(db: SqliteDb, doc: TeamDoc, teamId: string): T[] {
  const [table, column] = TEAM_DOCS[doc];
  const row = db.stmt(`SELECT ${column} AS doc FROM ${table} WHERE team_id = ?`).get(teamId) as { doc: string } | undefined;
  return row ? JSON.parse(row.doc) : [];
}

export function appendOutbox(db: SqliteDb, roomId: string, payloads: string[]) {
  if (payloads.length === 0) { return; }
  db.transaction(() => insertOutbox(db, roomId, payloads));
}

/** Inside the caller's transaction: with the record the events announce (RoomStore's `events`). */
export function insertOutbox(db: SqliteDb, roomId: string, payloads: string[]) {
  for (const payload of payloads) { db.stmt("INSERT INTO cc_outbox (room_id, payload) VALUES (?, ?)").run(roomId, payload); }
}

export function readOutbox(db: SqliteDb, roomId: string, limit: number): OutboxEntry[] {
  if (!(limit > 0)) { return []; }
  return (db.stmt("SELECT id, payload FROM cc_outbox WHERE room_id = ? ORDER BY id LIMIT ?").all(roomId, Math.floor(limit)) as { id: number; payload: string }[])
    .map((r) => ({ id: String(r.id), payload: r.payload }));
}

export function removeOutbox(db: SqliteDb, roomId: string, entryIds: string[]) {
  // an id that is no row id cannot be in the outbox
  const ids = entryIds.filter((id) => /^\d{1,15}$/.test(id));
  if (ids.length === 0) { return; }
  db.transaction(() => {
    for (const id of ids) { db.stmt("DELETE FROM cc_outbox WHERE room_id = ? AND id = ?").run(roomId, Number(id)); }
  });
}

export function pendingOutboxes(db: SqliteDb, limit: number): string[] {
  if (!(limit > 0)) { return []; }
  return (db.stmt("SELECT DISTINCT room_id FROM cc_outbox LIMIT ?").all(Math.floor(limit)) as { room_id: string }[]).map((r) => r.room_id);
}

export function leaseOutbox(db: SqliteDb, roomId: string, owner: string, ttlMs: number): boolean {
  const now = Date.now();
  return db.stmt(`INSERT INTO cc_outbox_leases (room_id, owner, until) VALUES (?, ?, ?) ON CONFLICT (room_id) DO UPDATE
    SET owner = excluded.owner, until = excluded.until WHERE cc_outbox_leases.owner = excluded.owner OR cc_outbox_leases.until <= ?`)
    .run(roomId, owner, now + Math.max(1, Math.ceil(ttlMs)), now).changes === 1;
}

export function releaseOutbox(db: SqliteDb, roomId: string, owner: string) {
  db.stmt("DELETE FROM cc_outbox_leases WHERE room_id = ? AND owner = ?").run(roomId, owner);
}

export function resolveChannelAddress(db: SqliteDb, type: string, address: string, customerId: string): string {
  db.stmt("INSERT INTO cc_channel_addresses (type, address, customer_id) VALUES (?, ?, ?) ON CONFLICT (type, address) DO NOTHING").run(type, address, customerId);
  return (db.stmt("SELECT customer_id FROM cc_channel_addresses WHERE type = ? AND address = ?").get(type, address) as { customer_id: string }).customer_id;
}

export function linkChannelAddress(db: SqliteDb, type: string, address: string, customerId: string) {
  db.stmt("INSERT INTO cc_channel_addresses (type, address, customer_id) VALUES (?, ?, ?) ON CONFLICT (type, address) DO UPDATE SET customer_id = excluded.customer_id")
    .run(type, address, customerId);
}
