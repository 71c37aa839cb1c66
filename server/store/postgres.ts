import pg from "pg";
import { Batcher } from "./batcher";
import { appendBatch, laneOf, type Append } from "./postgresAppend";
import {
  conversationEnded, conversationNotEnded, conversationNotFound, fenced, otherConversationActive, roomNotFound, unavailable,
} from "./errors";
import { ownerView } from "./fenced";
import { migrate, openPool } from "./postgresDb";
import { conversationSaveBatcher, deadlineBatcher } from "./postgresSide";
import * as records from "./postgresRecords";
import type { AuditEntry, AuditQuery, SearchQuery } from "./recordTypes";
import {
  CONVERSATION_COLUMNS, CONVERSATION_SELECT, ROOM_COLUMNS, conversationFromRow, conversationValues, decodeMessage,
  roomFromRow, roomValues, type ConversationRow, type RoomRow,
} from "./sqlRows";
import type {
  AgentStatusRecord, AppendResult, CannedReply, ConversationRecord, CsatRecord, MessageQuery, MessageRecord, NewMessage, OutboxEntry, PageQuery,
  OutboxEvents, OwnerFence, LiveRecord, QueuedRequest, RoomKind, RoomRecord, RoomStore,
} from "./types";

const placeholders = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(", ");
const ROOM_INSERT = `INSERT INTO cc_rooms (${ROOM_COLUMNS}) VALUES (${placeholders(11)}) ON CONFLICT (room_id) DO NOTHING`;
const CONVERSATION_INSERT = `INSERT INTO cc_conversations (${CONVERSATION_COLUMNS}) VALUES (${placeholders(12)})`;
const OUTBOX_INSERT = "INSERT INTO cc_outbox (room_id, payload) SELECT $1, p FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n";

/**
 * Inside the caller's transaction: locks the room's row (`FOR UPDATE` when the
 * transaction writes it, else `FOR SHARE`) and refuses the write unless `epoch` owns
 * the room. A concurrent activation updates the row, so it waits for this
 * transaction or this one for it: the check holds until the commit.
 */
async function lockOwned(c: pg.PoolClient, roomId: string, epoch: number | undefined, lock: "UPDATE" | "SHARE" = "UPDATE", columns = "owner_epoch") {
  const { rows } = await c.query(`SELECT ${columns}, owner_epoch AS owner_epoch_ FROM cc_rooms WHERE room_id = $1 FOR ${lock}`, [roomId]);
  if (!rows[0]) { throw roomNotFound(roomId); }
  if (epoch !== undefined && Number(rows[0].owner_epoch_) !== epoch) { throw fenced(roomId, epoch); }
  return rows[0];
}

/** Inside the caller's transaction: the events with the record they announce, in order. */
async function insertOutbox(c: pg.PoolClient, roomId: string, events: OutboxEvents) {
  if (events.length > 0) { await c.query(OUTBOX_INSERT, [roomId, events]); }
}


export interface PostgresOptions {
  url: string;
  poolSize: number;
  /** largest group commit */
  maxBatch?: number;
  /** group commits in flight at once (default: poolSize - 2, 1..4); a room always uses the same one */
  lanes?: number;
  /** a query unanswered this long fails with `unavailable` (DATABASE_QUERY_TIMEOUT_MS) */
  queryTimeoutMs?: number;
}


/**
 * The cluster's durable store: PostgreSQL through a pool (`pg`). Appends from every
 * room of the process are group-committed by one stored function call per batch
 * (cc_append_messages, see sqlMigrations.ts); other writes are short transactions.
 * Rooms are spread over a few commit lanes, each with one batch in flight: while one
 * lane's commit waits for its fsync the next lane's batch runs, and a room's appends
 * stay in call order because a room always takes the same lane.
 */
export class PostgresStore implements RoomStore {
  private readonly lanes: Batcher<Append, AppendResult>[];
  /** idle deadlines and participant flushes, batched too (server/store/postgresSide.ts) */
  private readonly deadlines: ReturnType<typeof deadlineBatcher>;
  private readonly saves: ReturnType<typeof conversationSaveBatcher>;

  private constructor(private readonly pool: pg.Pool, maxBatch: number, lanes: number) {
    this.lanes = Array.from({ length: lanes }, () => new Batcher<Append, AppendResult>((items) => appendBatch(this.pool, items), maxBatch));
    this.deadlines = deadlineBatcher(pool);
    this.saves = conversationSaveBatcher(pool);
  }

  /** Connects, applies missing migrations (one node at a time), and returns the store. */
  static async connect(options: PostgresOptions): Promise<PostgresStore> {
    // migrations run on a connection of their own, without the requests' query timeout:
    // one may rewrite a large table
    const migrator = new pg.Pool({ connectionString: options.url, max: 1, connectionTimeoutMillis: 5_000 });
    migrator.on("error", () => {});
    try { await migrate(migrator); } finally { await migrator.end().catch(() => {}); }
    const pool = openPool(options.url, options.poolSize, options.queryTimeoutMs);
    const lanes = options.lanes ?? Math.min(4, Math.max(1, options.poolSize - 2));
    return new PostgresStore(pool, options.maxBatch ?? 1_000, lanes);
  }

  private async q<R extends pg.QueryResultRow = any>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try { return await this.pool.query<R>(sql, values); } catch (err) { throw unavailable(err); }
  }

  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try { client = await this.pool.connect(); } catch (err) { throw unavailable(err); }
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw unavailable(err);
    } finally {
      client.release();
    }
  }

  // --- rooms ---------------------------------------------------------------------

  async getRoom(roomId: string) {
    const { rows } = await this.q<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM cc_rooms WHERE room_id = $1`, [roomId]);
    return rows[0] ? roomFromRow(rows[0]) : null;
  }

  async createRoom(record: RoomRecord) {
    await this.q(ROOM_INSERT, roomValues(record));
    const stored = await this.getRoom(record.roomId);
    if (!stored) { throw unavailable(new Error(`room ${record.roomId} vanished after its creation`)); }
    return stored;
  }

  async activateRoom(roomId: string) {
    const { rows } = await this.q("UPDATE cc_rooms SET owner_epoch = nextval('cc_owner_epochs') WHERE room_id = $1 RETURNING owner_epoch", [roomId]);
    if (!rows[0]) { throw roomNotFound(roomId); }
    return Number(rows[0].owner_epoch);
  }

  forOwner(roomId: string, epoch: number) { return ownerView(this, roomId, epoch); }

  async addMembers(roomId: string, userIds: string[], epoch?: number) {
    await this.tx(async (c) => {
      const room = await lockOwned(c, roomId, epoch, "UPDATE", "members");
      const members: string[] = JSON.parse(room.members);
      const merged = [...new Set([...members, ...userIds])];
      if (merged.length !== members.length) {
        await c.query("UPDATE cc_rooms SET members = $1 WHERE room_id = $2", [JSON.stringify(merged), roomId]);
      }
    });
  }

  async deleteRoom(roomId: string) {
    await this.tx(async (c) => {
      for (const table of ["cc_rooms", "cc_conversations", "cc_messages", "cc_idle_deadlines", "cc_outbox", "cc_outbox_leases"]) {
        await c.query(`DELETE FROM ${table} WHERE room_id = $1`, [roomId]);
      }
    });
  }

  // --- conversations ---------------------------------------------------------------

  async startConversation(conv: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    await this.tx(async (c) => {
      const room = await lockOwned(c, conv.roomId, epoch, "UPDATE", "active_conversation_id");
      const active: string | null = room.active_conversation_id;
      if (active && active !== conv.id) { throw otherConversationActive(conv.roomId, active); }
      const existing = (await c.query("SELECT state FROM cc_conversations WHERE room_id = $1 AND id = $2", [conv.roomId, conv.id])).rows[0];
      if (existing?.state === "ended") { throw conversationEnded(conv.id); }
      if (existing) {
        // a repeated start of the active conversation keeps the store's own message counters
        await c.query(`UPDATE cc_conversations SET state = $3, started_at = $4, ended_at = $5, end_reason = $6, ended_by = $7,
          participants = $8, channel_sessions = $9 WHERE room_id = $1 AND id = $2`,
        [conv.roomId, conv.id, conv.state, conv.startedAt, conv.endedAt, conv.endReason, conv.endedBy,
          JSON.stringify(conv.participants), JSON.stringify(conv.channelSessions)]);
      } else {
        await c.query(CONVERSATION_INSERT, conversationValues(conv));
        await insertOutbox(c, conv.roomId, events);
      }
      await c.query("UPDATE cc_rooms SET active_conversation_id = $2, last_activity_at = greatest(last_activity_at, $3) WHERE room_id = $1",
        [conv.roomId, conv.id, conv.startedAt]);
    });
  }

  async saveConversation(conversation: ConversationRecord, epoch?: number) {
    await this.saves.submit({ conversation, epoch });
  }

  async endConversation(conv: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    await this.tx(async (c) => {
      const room = await lockOwned(c, conv.roomId, epoch, "UPDATE", "past_conversations");
      const stored = (await c.query("SELECT state FROM cc_conversations WHERE room_id = $1 AND id = $2", [conv.roomId, conv.id])).rows[0];
      if (!stored) { throw conversationNotFound(conv.id); }
      if (stored.state === "ended") { return; }
      const pastIndex = Number(room.past_conversations) + 1;
      // message counters are the store's own; everything else comes from the actor
      await c.query(`UPDATE cc_conversations SET state = 'ended', started_at = $3, ended_at = $4, end_reason = $5, ended_by = $6,
        participants = $7, channel_sessions = $8, past_index = $9 WHERE room_id = $1 AND id = $2`,
      [conv.roomId, conv.id, conv.startedAt, conv.endedAt, conv.endReason, conv.endedBy,
        JSON.stringify(conv.participants), JSON.stringify(conv.channelSessions), pastIndex]);
      await c.query(`UPDATE cc_rooms SET past_conversations = $2,
        active_conversation_id = CASE WHEN active_conversation_id = $3 THEN NULL ELSE active_conversation_id END WHERE room_id = $1`,
      [conv.roomId, pastIndex, conv.id]);
      await c.query("DELETE FROM cc_idle_deadlines WHERE room_id = $1", [conv.roomId]);
      await insertOutbox(c, conv.roomId, events);
    });
  }

  async rateConversation(roomId: string, conversationId: string, csat: CsatRecord, events: OutboxEvents = [], epoch?: number) {
    await this.tx(async (c) => {
      // the room row first, as every fenced write locks it: the owner cannot change before the commit
      if (epoch !== undefined) { await lockOwned(c, roomId, epoch, "SHARE"); }
      const stored = (await c.query("SELECT state FROM cc_conversations WHERE room_id = $1 AND id = $2 FOR UPDATE", [roomId, conversationId])).rows[0];
      if (!stored) { throw conversationNotFound(conversationId); }
      if (stored.state !== "ended") { throw conversationNotEnded(conversationId); }
      await c.query("UPDATE cc_conversations SET csat = $3 WHERE room_id = $1 AND id = $2", [roomId, conversationId, JSON.stringify(csat)]);
      await insertOutbox(c, roomId, events);
    });
  }

  async getConversation(roomId: string, conversationId: string) {
    const { rows } = await this.q<ConversationRow>(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations WHERE room_id = $1 AND id = $2`, [roomId, conversationId]);
    return rows[0] ? conversationFromRow(rows[0]) : null;
  }

  async listConversations(roomId: string, query: PageQuery) {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) { return []; }
    const before = query.before === undefined || !Number.isFinite(query.before) ? Number.MAX_SAFE_INTEGER : Math.ceil(query.before);
    const { rows } = await this.q<ConversationRow>(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations
      WHERE room_id = $1 AND state = 'ended' AND started_at < $2 ORDER BY started_at DESC, past_index DESC LIMIT $3`, [roomId, before, limit]);
    return rows.map(conversationFromRow);
  }

  // --- messages ----------------------------------------------------------------------

  appendMessage(roomId: string, message: NewMessage, events: OutboxEvents = [], epoch?: number): Promise<AppendResult> {
    return this.lanes[laneOf(roomId, this.lanes.length)].submit({ roomId, message, events, epoch });
  }

  async readMessages(roomId: string, conversationId: string, query: MessageQuery): Promise<MessageRecord[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) { return []; }
    const notes = query.includeNotes ? "" : "AND kind <> 'note'";
    const base = `SELECT seq, data FROM cc_messages WHERE room_id = $1 AND conversation_id = $2 ${notes}`;
    let rows: { seq: string; data: string }[];
    if (query.before === undefined && query.after !== undefined) {
      if (query.after === Infinity) { return []; }
      const after = Number.isFinite(query.after) ? Math.floor(query.after) : -1;
      rows = (await this.q(`${base} AND seq > $3 ORDER BY seq ASC LIMIT $4`, [roomId, conversationId, after, limit])).rows;
    } else {
      if (query.before === -Infinity) { return []; }
      const before = query.before === undefined || !Number.isFinite(query.before) ? Number.MAX_SAFE_INTEGER : Math.ceil(query.before);
      rows = (await this.q(`${base} AND seq < $3 ORDER BY seq DESC LIMIT $4`, [roomId, conversationId, before, limit])).rows.reverse();
    }
    return rows.map((r) => decodeMessage(r.data, r.seq));
  }

  // --- idle deadlines, leases, queues --------------------------------------------------

  async setIdleDeadline(roomId: string, deadline: number, epoch?: number) {
    await this.deadlines.submit({ roomId, deadline, epoch });
  }

  async clearIdleDeadline(roomId: string, epoch?: number) {
    await this.deadlines.submit({ roomId, deadline: null, epoch });
  }

  /** Earliest deadline first. */
  async dueIdleDeadlines(now: number, limit: number) {
    if (!(limit > 0)) { return []; }
    const { rows } = await this.q("SELECT room_id FROM cc_idle_deadlines WHERE deadline <= $1 ORDER BY deadline, room_id LIMIT $2", [now, Math.floor(limit)]);
    return rows.map((r) => r.room_id as string);
  }

  async claim(name: string, ttlMs: number) {
    const now = Date.now();
    const { rowCount } = await this.q("INSERT INTO cc_leases (name, until) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET until = excluded.until WHERE cc_leases.until <= $3",
      [name, now + Math.ceil(ttlMs), now]);
    return rowCount === 1;
  }

  // A team's queue, live conversations, agent statuses and canned replies: each one JSON document per
  // team, replaced whole; the team room's writes are fenced like every room write.
  saveQueue(teamId: string, requests: QueuedRequest[], owner?: OwnerFence) { return this.saveTeamDoc("cc_team_queues", "requests", teamId, requests, owner); }
  loadQueue(teamId: string): Promise<QueuedRequest[]> { return this.loadTeamDoc("cc_team_queues", "requests", teamId); }
  saveLive(teamId: string, live: LiveRecord[], owner?: OwnerFence) { return this.saveTeamDoc("cc_team_live", "live", teamId, live, owner); }
  loadLive(teamId: string): Promise<LiveRecord[]> { return this.loadTeamDoc("cc_team_live", "live", teamId); }
  saveAgents(teamId: string, agents: AgentStatusRecord[], owner?: OwnerFence) { return this.saveTeamDoc("cc_team_agents", "agents", teamId, agents, owner); }
  loadAgents(teamId: string): Promise<AgentStatusRecord[]> { return this.loadTeamDoc("cc_team_agents", "agents", teamId); }
  saveCanned(teamId: string, replies: CannedReply[]) { return this.saveTeamDoc("cc_team_canned", "replies", teamId, replies); }
  loadCanned(teamId: string): Promise<CannedReply[]> { return this.loadTeamDoc("cc_team_canned", "replies", teamId); }

  /** `table` and `column` are the constants above, never input. An empty list removes the row. */
  private async saveTeamDoc(table: string, column: string, teamId: string, list: unknown[], owner?: OwnerFence) {
    const write = (c: { query: pg.Pool["query"] }) => list.length === 0
      ? c.query(`DELETE FROM ${table} WHERE team_id = $1`, [teamId])
      : c.query(`INSERT INTO ${table} (team_id, ${column}) VALUES ($1, $2) ON CONFLICT (team_id) DO UPDATE SET ${column} = excluded.${column}`,
        [teamId, JSON.stringify(list)]);
    if (owner) {
      await this.tx(async (c) => { await lockOwned(c, owner.roomId, owner.epoch, "SHARE"); await write(c as any); });
      return;
    }
    try { await write(this.pool); } catch (err) { throw unavailable(err); }
  }

  private async loadTeamDoc<T>(table: string, column: string, teamId: string): Promise<T[]> {
    const { rows } = await this.q(`SELECT ${column} AS doc FROM ${table} WHERE team_id = $1`, [teamId]);
    return rows[0] ? JSON.parse(rows[0].doc) : [];
  }

  // --- webhook outbox ------------------------------------------------------------------

  async appendOutbox(roomId: string, payloads: string[], epoch?: number) {
    if (epoch !== undefined) {
      await this.tx(async (c) => { await lockOwned(c, roomId, epoch, "SHARE"); await insertOutbox(c, roomId, payloads); });
      return;
    }
    if (payloads.length === 0) { return; }
    // one statement: all or none, in the given order (identity values follow the array order)
    await this.q("INSERT INTO cc_outbox (room_id, payload) SELECT $1, p FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n", [roomId, payloads]);
  }

  async readOutbox(roomId: string, limit: number): Promise<OutboxEntry[]> {
    if (!(limit > 0)) { return []; }
    const { rows } = await this.q("SELECT id, payload FROM cc_outbox WHERE room_id = $1 ORDER BY id LIMIT $2", [roomId, Math.floor(limit)]);
    return rows.map((r) => ({ id: String(r.id), payload: r.payload }));
  }

  async removeOutbox(roomId: string, entryIds: string[]) {
    const ids = entryIds.filter((id) => /^\d{1,18}$/.test(id));
    if (ids.length === 0) { return; }
    await this.q("DELETE FROM cc_outbox WHERE room_id = $1 AND id = ANY($2::bigint[])", [roomId, ids]);
  }

  async pendingOutboxes(limit: number) {
    if (!(limit > 0)) { return []; }
    const { rows } = await this.q("SELECT DISTINCT room_id FROM cc_outbox LIMIT $1", [Math.floor(limit)]);
    return rows.map((r) => r.room_id as string);
  }

  async leaseOutbox(roomId: string, owner: string, ttlMs: number) {
    const now = Date.now();
    const { rowCount } = await this.q(`INSERT INTO cc_outbox_leases (room_id, owner, until) VALUES ($1, $2, $3) ON CONFLICT (room_id) DO UPDATE
      SET owner = excluded.owner, until = excluded.until WHERE cc_outbox_leases.owner = excluded.owner OR cc_outbox_leases.until <= $4`,
    [roomId, owner, now + Math.max(1, Math.ceil(ttlMs)), now]);
    return rowCount === 1;
  }

  async releaseOutbox(roomId: string, owner: string) {
    await this.q("DELETE FROM cc_outbox_leases WHERE room_id = $1 AND owner = $2", [roomId, owner]);
  }

  // --- channel addresses ---------------------------------------------------------------

  async resolveChannelAddress(type: string, address: string, customerId: string) {
    // the no-op update makes RETURNING answer the stored row when the address is known
    const { rows } = await this.q(`INSERT INTO cc_channel_addresses (type, address, customer_id) VALUES ($1, $2, $3)
      ON CONFLICT (type, address) DO UPDATE SET customer_id = cc_channel_addresses.customer_id RETURNING customer_id`, [type, address, customerId]);
    return rows[0].customer_id as string;
  }

  async linkChannelAddress(type: string, address: string, customerId: string) {
    await this.q(`INSERT INTO cc_channel_addresses (type, address, customer_id) VALUES ($1, $2, $3)
      ON CONFLICT (type, address) DO UPDATE SET customer_id = excluded.customer_id`, [type, address, customerId]);
  }

  // --- retention, erasure, export, search, audit (postgresRecords.ts) ------------------

  purgeEnded(kind: RoomKind, endedBefore: number, limit: number) { return this.tx((c) => records.purgeEnded(c, kind, endedBefore, limit)); }
  customerRooms(customerId: string) { return this.tx((c) => records.customerRooms(c, customerId)); }
  eraseCustomer(customerId: string) { return this.tx((c) => records.eraseCustomer(c, customerId)); }
  exportCustomer(customerId: string) { return this.tx((c) => records.exportCustomer(c, customerId)); }
  searchMessages(query: SearchQuery) { return this.tx((c) => records.searchMessages(c, query)); }
  appendAudit(entry: Omit<AuditEntry, "id">) { return this.tx((c) => records.appendAudit(c, entry)); }
  readAudit(query: AuditQuery) { return this.tx((c) => records.readAudit(c, query)); }

  /** the health probe's own connection (ping) */
  private pinger: pg.Client | undefined;

  /**
   * `SELECT 1` on a connection of its own, not the pool's: a pool busy with appends is
   * slow, not down, and must not make /ready send a loaded node out of its balancer;
   * what the probe asks is whether the server answers. Bounded (5 s) by itself too.
   */
  async ping() {
    try {
      if (!this.pinger) {
        const client = new pg.Client({ connectionString: this.pool.options.connectionString, connectionTimeoutMillis: 5_000, query_timeout: 5_000, keepAlive: true });
        client.on("error", () => { if (this.pinger === client) { this.pinger = undefined; } });
        this.pinger = client;
        await client.connect();
      }
      await this.pinger.query("SELECT 1");
    } catch (err) {
      const broken = this.pinger;
      this.pinger = undefined;
      broken?.end().catch(() => {});
      throw unavailable(err);
    }
  }

  async close() {
    await this.pinger?.end().catch(() => {});
    // appends already submitted still commit before the pool goes
    while (![...this.lanes, this.deadlines, this.saves].every((batcher) => batcher.idle)) { await new Promise((r) => setTimeout(r, 5)); }
    await this.pool.end();
  }
}
