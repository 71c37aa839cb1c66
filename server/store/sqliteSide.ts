import type { SqliteDb } from "./sqliteDb";
import type { AgentStatusRecord, CannedReply, LiveRecord, OutboxEntry, QueuedRequest } from "./types";

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

export function saveQueue(db: SqliteDb, teamId: string, requests: QueuedRequest[]) {
  if (requests.length === 0) { db.stmt("DELETE FROM cc_team_queues WHERE team_id = ?").run(teamId); return; }
  db.stmt("INSERT INTO cc_team_queues (team_id, requests) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET requests = excluded.requests")
    .run(teamId, JSON.stringify(requests));
}

export function loadQueue(db: SqliteDb, teamId: string): QueuedRequest[] {
  const row = db.stmt("SELECT requests FROM cc_team_queues WHERE team_id = ?").get(teamId) as { requests: string } | undefined;
  return row ? JSON.parse(row.requests) : [];
}

export function saveLive(db: SqliteDb, teamId: string, live: LiveRecord[]) {
  if (live.length === 0) { db.stmt("DELETE FROM cc_team_live WHERE team_id = ?").run(teamId); return; }
  db.stmt("INSERT INTO cc_team_live (team_id, live) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET live = excluded.live")
    .run(teamId, JSON.stringify(live));
}

export function loadLive(db: SqliteDb, teamId: string): LiveRecord[] {
  const row = db.stmt("SELECT live FROM cc_team_live WHERE team_id = ?").get(teamId) as { live: string } | undefined;
  return row ? JSON.parse(row.live) : [];
}

export function saveAgents(db: SqliteDb, teamId: string, agents: AgentStatusRecord[]) {
  if (agents.length === 0) { db.stmt("DELETE FROM cc_team_agents WHERE team_id = ?").run(teamId); return; }
  db.stmt("INSERT INTO cc_team_agents (team_id, agents) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET agents = excluded.agents")
    .run(teamId, JSON.stringify(agents));
}

export function loadAgents(db: SqliteDb, teamId: string): AgentStatusRecord[] {
  const row = db.stmt("SELECT agents FROM cc_team_agents WHERE team_id = ?").get(teamId) as { agents: string } | undefined;
  return row ? JSON.parse(row.agents) : [];
}

export function saveCanned(db: SqliteDb, teamId: string, replies: CannedReply[]) {
  if (replies.length === 0) { db.stmt("DELETE FROM cc_team_canned WHERE team_id = ?").run(teamId); return; }
  db.stmt("INSERT INTO cc_team_canned (team_id, replies) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET replies = excluded.replies")
    .run(teamId, JSON.stringify(replies));
}

export function loadCanned(db: SqliteDb, teamId: string): CannedReply[] {
  const row = db.stmt("SELECT replies FROM cc_team_canned WHERE team_id = ?").get(teamId) as { replies: string } | undefined;
  return row ? JSON.parse(row.replies) : [];
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
