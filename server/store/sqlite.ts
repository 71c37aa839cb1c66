import {
  conversationEnded, conversationNotActive, conversationNotEnded, conversationNotFound, fenced, otherConversationActive, roomNotFound, unavailable,
} from "./errors";
import { ownerView } from "./fenced";
import { SqliteDb, type SqliteSynchronous } from "./sqliteDb";
import * as side from "./sqliteSide";
import * as records from "./sqliteRecords";
import type { AuditEntry, AuditQuery, SearchQuery } from "./recordTypes";
import {
  CONVERSATION_COLUMNS, CONVERSATION_SELECT, ROOM_COLUMNS, conversationFromRow, conversationValues, decodeMessage, encodeMessage,
  roomFromRow, roomValues, type ConversationRow, type RoomRow,
} from "./sqlRows";
import type {
  AgentStatusRecord, AppendResult, CannedReply, ConversationRecord, CsatRecord, MessageQuery, MessageRecord, NewMessage, OutboxEvents, OwnerFence, LiveRecord, PageQuery,
  QueuedRequest, RoomKind, RoomRecord, RoomStore,
} from "./types";
import { fillSeq } from "./types";

export type { SqliteSynchronous };

interface PendingAppend {
  epoch?: number;
  roomId: string;
  message: NewMessage;
  events: OutboxEvents;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

/**
 * The single-node durable store: one SQLite file in WAL mode (node:sqlite). Calls run
 * synchronously on the event loop; appends made in the same turn of the loop are
 * committed together (one fsync with synchronous=FULL), each in its own savepoint.
 * Several processes may open the same file (writes take SQLite's file lock), but only
 * on one host: a cluster uses PostgreSQL.
 */
export class SqliteStore implements RoomStore {
  private readonly db: SqliteDb;
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private lastCommitEnd = 0;
  private lastCommitMs = 0;

  constructor(file: string, synchronous: SqliteSynchronous = "full") {
    this.db = new SqliteDb(file, synchronous);
  }

  /** Versions recorded in schema_migrations (for tests and operators). */
  appliedMigrations(): number[] { return this.db.versions(); }

  private stmt(sql: string) { return this.db.stmt(sql); }
  private transaction<T>(fn: () => T): T { return this.db.transaction(fn); }

  /** Runs a store call: queued appends first (callers see their own writes in order), driver errors as `unavailable`. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      this.flush();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(unavailable(err));
    }
  }

  private roomRow(roomId: string) {
    return this.stmt(`SELECT ${ROOM_COLUMNS} FROM cc_rooms WHERE room_id = ?`).get(roomId) as RoomRow | undefined;
  }

  /**
   * Inside the caller's transaction (SQLite's one write lock: nothing runs in
   * between): refuses the write unless `epoch` owns the room. Returns the owner epoch.
   */
  private owned(roomId: string, epoch: number | undefined): number {
    const row = this.stmt("SELECT owner_epoch FROM cc_rooms WHERE room_id = ?").get(roomId) as { owner_epoch: number } | undefined;
    if (!row) { throw roomNotFound(roomId); }
    if (epoch !== undefined && Number(row.owner_epoch) !== epoch) { throw fenced(roomId, epoch); }
    return Number(row.owner_epoch);
  }

  private conversationRow(roomId: string, id: string) {
    return this.stmt(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations WHERE room_id = ? AND id = ?`).get(roomId, id) as ConversationRow | undefined;
  }

  // --- rooms ---------------------------------------------------------------------

  getRoom(roomId: string) {
    return this.run(() => { const row = this.roomRow(roomId); return row ? roomFromRow(row) : null; });
  }

  createRoom(record: RoomRecord) {
    return this.run(() => this.transaction(() => {
      this.stmt(`INSERT INTO cc_rooms (${ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id) DO NOTHING`)
        .run(...(roomValues(record) as (string | number | null)[]));
      return roomFromRow(this.roomRow(record.roomId)!);
    }));
  }

  activateRoom(roomId: string) {
    return this.run(() => this.transaction(() => {
      this.owned(roomId, undefined);
      const { last } = this.stmt("UPDATE cc_owner_epochs SET last = last + 1 WHERE id = 1 RETURNING last").get() as { last: number };
      this.stmt("UPDATE cc_rooms SET owner_epoch = ? WHERE room_id = ?").run(last, roomId);
      return Number(last);
    }));
  }

  forOwner(roomId: string, epoch: number) { return ownerView(this, roomId, epoch); }

  addMembers(roomId: string, userIds: string[], epoch?: number) {
    return this.run(() => this.transaction(() => {
      this.owned(roomId, epoch);
      const row = this.roomRow(roomId);
      if (!row) { throw roomNotFound(roomId); }
      const members: string[] = JSON.parse(row.members);
      const merged = [...new Set([...members, ...userIds])];
      if (merged.length !== members.length) {
        this.stmt("UPDATE cc_rooms SET members = ? WHERE room_id = ?").run(JSON.stringify(merged), roomId);
      }
    }));
  }

  deleteRoom(roomId: string) {
    return this.run(() => this.transaction(() => {
      for (const table of ["cc_rooms", "cc_conversations", "cc_messages", "cc_idle_deadlines", "cc_outbox", "cc_outbox_leases"]) {
        this.stmt(`DELETE FROM ${table} WHERE room_id = ?`).run(roomId);
      }
    }));
  }

  // --- conversations ---------------------------------------------------------------

  startConversation(c: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    return this.run(() => this.transaction(() => {
      this.owned(c.roomId, epoch);
      const room = this.roomRow(c.roomId);
      if (!room) { throw roomNotFound(c.roomId); }
      if (room.active_conversation_id && room.active_conversation_id !== c.id) {
        throw otherConversationActive(c.roomId, room.active_conversation_id);
      }
      const existing = this.conversationRow(c.roomId, c.id);
      if (existing?.state === "ended") { throw conversationEnded(c.id); }
      if (existing) {
        // a repeated start of the active conversation keeps the store's own message counters
        this.stmt(`UPDATE cc_conversations SET state = ?, started_at = ?, ended_at = ?, end_reason = ?, ended_by = ?,
          participants = ?, channel_sessions = ? WHERE room_id = ? AND id = ?`)
          .run(c.state, c.startedAt, c.endedAt, c.endReason, c.endedBy, JSON.stringify(c.participants), JSON.stringify(c.channelSessions), c.roomId, c.id);
      } else {
        this.stmt(`INSERT INTO cc_conversations (${CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(...(conversationValues(c) as (string | number)[]));
        side.insertOutbox(this.db, c.roomId, events);
      }
      this.stmt("UPDATE cc_rooms SET active_conversation_id = ?, last_activity_at = max(last_activity_at, ?) WHERE room_id = ?")
        .run(c.id, c.startedAt, c.roomId);
    }));
  }

  saveConversation(c: ConversationRecord, epoch?: number) {
    return this.run(() => this.transaction(() => {
      if (epoch !== undefined) { this.owned(c.roomId, epoch); }
      const { changes } = this.stmt("UPDATE cc_conversations SET participants = ?, channel_sessions = ? WHERE room_id = ? AND id = ?")
        .run(JSON.stringify(c.participants), JSON.stringify(c.channelSessions), c.roomId, c.id);
      if (changes === 0) { throw conversationNotFound(c.id); }
    }));
  }

  endConversation(c: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    return this.run(() => this.transaction(() => {
      this.owned(c.roomId, epoch);
      const room = this.roomRow(c.roomId);
      if (!room) { throw roomNotFound(c.roomId); }
      const stored = this.conversationRow(c.roomId, c.id);
      if (!stored) { throw conversationNotFound(c.id); }
      if (stored.state === "ended") { return; }
      const pastIndex = Number(room.past_conversations) + 1;
      // message counters are the store's own; everything else comes from the actor
      this.stmt(`UPDATE cc_conversations SET state = 'ended', started_at = ?, ended_at = ?, end_reason = ?, ended_by = ?,
        participants = ?, channel_sessions = ?, past_index = ? WHERE room_id = ? AND id = ?`)
        .run(c.startedAt, c.endedAt, c.endReason, c.endedBy, JSON.stringify(c.participants), JSON.stringify(c.channelSessions), pastIndex, c.roomId, c.id);
      this.stmt(`UPDATE cc_rooms SET past_conversations = ?,
        active_conversation_id = CASE WHEN active_conversation_id = ? THEN NULL ELSE active_conversation_id END WHERE room_id = ?`)
        .run(pastIndex, c.id, c.roomId);
      this.stmt("DELETE FROM cc_idle_deadlines WHERE room_id = ?").run(c.roomId);
      side.insertOutbox(this.db, c.roomId, events);
    }));
  }

  rateConversation(roomId: string, conversationId: string, csat: CsatRecord, events: OutboxEvents = [], epoch?: number) {
    return this.run(() => this.transaction(() => {
      if (epoch !== undefined) { this.owned(roomId, epoch); }
      const stored = this.conversationRow(roomId, conversationId);
      if (!stored) { throw conversationNotFound(conversationId); }
      if (stored.state !== "ended") { throw conversationNotEnded(conversationId); }
      this.stmt("UPDATE cc_conversations SET csat = ? WHERE room_id = ? AND id = ?").run(JSON.stringify(csat), roomId, conversationId);
      side.insertOutbox(this.db, roomId, events);
    }));
  }

  getConversation(roomId: string, conversationId: string) {
    return this.run(() => { const row = this.conversationRow(roomId, conversationId); return row ? conversationFromRow(row) : null; });
  }

  listConversations(roomId: string, query: PageQuery) {
    return this.run(() => {
      const limit = Math.floor(query.limit);
      if (!(limit > 0)) { return []; }
      const before = query.before === undefined || query.before === Infinity ? Number.MAX_SAFE_INTEGER : query.before;
      const rows = this.stmt(`SELECT ${CONVERSATION_SELECT} FROM cc_conversations WHERE room_id = ? AND state = 'ended' AND started_at < ?
        ORDER BY started_at DESC, past_index DESC LIMIT ?`).all(roomId, before, limit) as unknown as ConversationRow[];
      return rows.map(conversationFromRow);
    });
  }

  // --- messages ----------------------------------------------------------------------

  appendMessage(roomId: string, message: NewMessage, events: OutboxEvents = [], epoch?: number): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ roomId, message, events, epoch, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // a commit blocks the event loop for its fsync: leave at least as long again
        // between commits, so under load batches grow instead of fsyncs eating the loop
        const wait = this.lastCommitEnd + this.lastCommitMs - performance.now();
        if (wait > 0.5) { setTimeout(() => this.flush(), wait); } else { setImmediate(() => this.flush()); }
      }
    });
  }

  /** Commits every queued append in one transaction; a refused append rolls back only its savepoint. */
  private flush() {
    this.flushScheduled = false;
    if (this.queue.length === 0) { return; }
    const batch = this.queue;
    this.queue = [];
    const outcomes: ({ ok: true; value: AppendResult } | { ok: false; err: unknown })[] = [];
    const started = performance.now();
    try {
      this.transaction(() => {
        for (const item of batch) {
          this.db.exec("SAVEPOINT append");
          try {
            outcomes.push({ ok: true, value: this.appendOne(item.roomId, item.message, item.events, item.epoch) });
            this.db.exec("RELEASE append");
          } catch (err) {
            this.db.exec("ROLLBACK TO append");
            this.db.exec("RELEASE append");
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      // the commit itself failed: nothing of the batch is stored
      for (const item of batch) { item.reject(unavailable(err)); }
      return;
    } finally {
      this.lastCommitEnd = performance.now();
      this.lastCommitMs = Math.min(this.lastCommitEnd - started, 50);
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) { item.resolve(outcome.value); } else { item.reject(unavailable(outcome.err)); }
    });
  }

  private appendOne(roomId: string, m: NewMessage, events: OutboxEvents, epoch: number | undefined): AppendResult {
    const owner = epoch === undefined ? undefined : this.owned(roomId, epoch);
    const dup = this.stmt("SELECT seq, data FROM cc_messages WHERE room_id = ? AND sender_id = ? AND client_id = ?")
      .get(roomId, m.senderId, m.id) as { seq: number; data: string } | undefined;
    if (dup) { return { message: decodeMessage(dup.data, dup.seq), duplicate: true }; }
    const room = this.stmt("SELECT last_seq FROM cc_rooms WHERE room_id = ?").get(roomId) as { last_seq: number } | undefined;
    if (!room) { throw roomNotFound(roomId); }
    const conversation = this.stmt("SELECT state FROM cc_conversations WHERE room_id = ? AND id = ?").get(roomId, m.conversationId) as { state: string } | undefined;
    if (conversation?.state !== "active") { throw conversationNotActive(m.conversationId); }
    const seq = room.last_seq + 1;
    const data = encodeMessage(m);
    this.stmt("UPDATE cc_rooms SET last_seq = ?, last_activity_at = max(last_activity_at, ?) WHERE room_id = ?").run(seq, m.at, roomId);
    this.stmt(`UPDATE cc_conversations SET first_seq = CASE WHEN first_seq = 0 THEN ? ELSE first_seq END, last_seq = ?,
      message_count = message_count + 1 WHERE room_id = ? AND id = ?`).run(seq, seq, roomId, m.conversationId);
    this.stmt("INSERT INTO cc_messages (room_id, seq, conversation_id, sender_id, client_id, kind, data, owner_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .run(roomId, seq, m.conversationId, m.senderId, m.id, m.kind, data, owner ?? this.owned(roomId, undefined));
    side.insertOutbox(this.db, roomId, events.map((event) => fillSeq(event, seq)));
    return { message: decodeMessage(data, seq), duplicate: false };
  }

  readMessages(roomId: string, conversationId: string, query: MessageQuery) {
    return this.run((): MessageRecord[] => {
      const limit = Math.floor(query.limit);
      if (!(limit > 0)) { return []; }
      const notes = query.includeNotes ? "" : "AND kind <> 'note'";
      const base = `SELECT seq, data FROM cc_messages WHERE room_id = ? AND conversation_id = ? ${notes}`;
      let rows: { seq: number; data: string }[];
      if (query.before === undefined && query.after !== undefined) {
        if (query.after === Infinity) { return []; }
        const after = Number.isFinite(query.after) ? Math.floor(query.after) : -1;
        rows = this.stmt(`${base} AND seq > ? ORDER BY seq ASC LIMIT ?`).all(roomId, conversationId, after, limit) as any;
      } else {
        const before = query.before === undefined || !Number.isFinite(query.before) ? Number.MAX_SAFE_INTEGER : Math.ceil(query.before);
        if (query.before === -Infinity) { return []; }
        rows = (this.stmt(`${base} AND seq < ? ORDER BY seq DESC LIMIT ?`).all(roomId, conversationId, before, limit) as any[]).reverse();
      }
      return rows.map((r) => decodeMessage(r.data, r.seq));
    });
  }

  // --- idle deadlines, leases, queues, webhook outbox (sqliteSide.ts) -------------------

  /** A side write of the room, in one transaction with its owner check when fenced. */
  private fencedRun<T>(roomId: string, epoch: number | undefined, fn: () => T): Promise<T> {
    return this.run(() => (epoch === undefined ? fn() : this.transaction(() => { this.owned(roomId, epoch); return fn(); })));
  }

  setIdleDeadline(roomId: string, deadline: number, epoch?: number) { return this.fencedRun(roomId, epoch, () => side.setIdleDeadline(this.db, roomId, deadline)); }
  clearIdleDeadline(roomId: string, epoch?: number) { return this.fencedRun(roomId, epoch, () => side.clearIdleDeadline(this.db, roomId)); }
  dueIdleDeadlines(now: number, limit: number) { return this.run(() => side.dueIdleDeadlines(this.db, now, limit)); }
  claim(name: string, ttlMs: number) { return this.run(() => side.claim(this.db, name, ttlMs)); }
  saveQueue(teamId: string, requests: QueuedRequest[], owner?: OwnerFence) {
    return this.fencedRun(owner?.roomId ?? "", owner?.epoch, () => side.saveTeamDoc(this.db, "queue", teamId, requests));
  }
  loadQueue(teamId: string) { return this.run(() => side.loadTeamDoc<QueuedRequest>(this.db, "queue", teamId)); }
  saveLive(teamId: string, live: LiveRecord[], owner?: OwnerFence) {
    return this.fencedRun(owner?.roomId ?? "", owner?.epoch, () => side.saveTeamDoc(this.db, "live", teamId, live));
  }
  loadLive(teamId: string) { return this.run(() => side.loadTeamDoc<LiveRecord>(this.db, "live", teamId)); }
  saveAgents(teamId: string, agents: AgentStatusRecord[], owner?: OwnerFence) {
    return this.fencedRun(owner?.roomId ?? "", owner?.epoch, () => side.saveTeamDoc(this.db, "agents", teamId, agents));
  }
  loadAgents(teamId: string) { return this.run(() => side.loadTeamDoc<AgentStatusRecord>(this.db, "agents", teamId)); }
  appendOutbox(roomId: string, payloads: string[], epoch?: number) {
    return this.fencedRun(roomId, epoch, () => (epoch === undefined ? side.appendOutbox(this.db, roomId, payloads) : side.insertOutbox(this.db, roomId, payloads)));
  }
  saveCanned(teamId: string, replies: CannedReply[]) { return this.run(() => side.saveTeamDoc(this.db, "canned", teamId, replies)); }
  loadCanned(teamId: string) { return this.run(() => side.loadTeamDoc<CannedReply>(this.db, "canned", teamId)); }
  readOutbox(roomId: string, limit: number) { return this.run(() => side.readOutbox(this.db, roomId, limit)); }
  removeOutbox(roomId: string, entryIds: string[]) { return this.run(() => side.removeOutbox(this.db, roomId, entryIds)); }
  pendingOutboxes(limit: number) { return this.run(() => side.pendingOutboxes(this.db, limit)); }
  leaseOutbox(roomId: string, owner: string, ttlMs: number) { return this.run(() => side.leaseOutbox(this.db, roomId, owner, ttlMs)); }
  releaseOutbox(roomId: string, owner: string) { return this.run(() => side.releaseOutbox(this.db, roomId, owner)); }
  resolveChannelAddress(type: string, address: string, customerId: string) { return this.run(() => side.resolveChannelAddress(this.db, type, address, customerId)); }
  linkChannelAddress(type: string, address: string, customerId: string) { return this.run(() => side.linkChannelAddress(this.db, type, address, customerId)); }

  // --- retention, erasure, export, search, audit (sqliteRecords.ts) --------------------

  purgeEnded(kind: RoomKind, endedBefore: number, limit: number) { return this.run(() => records.purgeEnded(this.db, kind, endedBefore, limit)); }
  customerRooms(customerId: string) { return this.run(() => records.customerRooms(this.db, customerId)); }
  eraseCustomer(customerId: string) { return this.run(() => records.eraseCustomer(this.db, customerId)); }
  exportCustomer(customerId: string) { return this.run(() => records.exportCustomer(this.db, customerId)); }
  searchMessages(query: SearchQuery) { return this.run(() => records.searchMessages(this.db, query)); }
  appendAudit(entry: Omit<AuditEntry, "id">) { return this.run(() => records.appendAudit(this.db, entry)); }
  readAudit(query: AuditQuery) { return this.run(() => records.readAudit(this.db, query)); }

  /** in this process: a statement on the open file (fails once closed) */
  ping() { return this.run(() => { this.stmt("SELECT 1").get(); }); }

  async close() {
    this.flush();
    this.db.close();
  }
}
