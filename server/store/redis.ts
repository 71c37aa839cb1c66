import Redis from "ioredis";
import { StoreError, unavailable } from "./errors";
import { ownerView } from "./fenced";
import {
  decodeConversation, decodeEntry, decodeRoom, encodeConversation, encodeMessage, encodeRoom, isEmpty, toObject,
  type StreamEntry,
} from "./redisCodec";
import { SCRIPTS, type ScriptName } from "./redisScripts";
import type {
  AgentStatusRecord, AppendResult, CannedReply, ConversationRecord, CsatRecord, MessageQuery, MessageRecord, NewMessage,
  OutboxEntry, OutboxEvents, OwnerFence, LiveRecord, PageQuery, QueuedRequest, RoomRecord, RoomStore,
} from "./types";
import { unsupported } from "./errors";
import type { AuditEntry, AuditQuery, CustomerExport, ErasureResult, PurgeResult, SearchHit, SearchQuery } from "./recordTypes";
import type { RoomKind } from "./types";

/*
 * Key layout (P = prefix, default "cc:"); every key of one room carries the hash
 * tag {roomId}, so the Lua scripts touch a single slot:
 *
 *   P room:{R}            hash    the RoomRecord; members/customers JSON, activeConversationId "" = null;
 *                                 ownerEpoch: the epoch of the actor that owns the room (docs/cluster.md)
 *   P epochs              string  the last owner epoch handed out (INCR), for every room
 *   P conv:{R}:C          hash    a ConversationRecord; participants/channelSessions JSON
 *   P msgs:{R}:C          stream  the transcript of conversation C, entry id "<seq>-0",
 *                                 fields k (kind), d (the message JSON without seq), o (the owner epoch that wrote it)
 *   P past:{R}            zset    ended conversation ids scored by startedAt
 *   P idem:{R}            hash    "<senderId>\0<id>" -> "<seq>:<conversationId>"
 *   P idle                zset    member roomId, score idle deadline (ms)
 *   P outbox:{R}          stream  the room's webhook outbox, field e (the event JSON), oldest first
 *   P outboxes            set     room ids whose outbox may hold entries
 *   P outbox-lease:{R}    string  the owner id of the dispatcher draining the outbox (PX ttl)
 *   P chaddr              hash    "<type>\0<address>" -> customer id (channel addresses)
 *
 * The outbox events of a message, a conversation start or end are written by the
 * same script as the record (atomic with it); that script also lists the room in
 * the outboxes set, the one key outside the room's slot it touches (one Redis, not
 * Redis Cluster: there the set would need the room's slot too).
 *
 * The idle zset is global (it is scanned across rooms), so it lives in its own slot
 * and endConversation clears the room's deadline with a second command after its
 * script (a crash in between leaves a stale deadline; the actor re-checks anyway).
 * Likewise the outboxes set: appendOutbox writes stream and set in one MULTI, and
 * removeOutbox takes an emptied room out of the set, then checks the stream again
 * and puts it back if an append came in between, so a room with entries is never
 * missing from the set for longer than that check.
 */

/** The production store: every record in Redis, so any node can serve any room. */
export class RedisStore implements RoomStore {
  /** true when connect() created the client, which close() then quits */
  private ownsClient = false;

  constructor(private readonly redis: Redis, private readonly prefix = "cc:") {
    for (const [name, definition] of Object.entries(SCRIPTS)) {
      if (typeof (redis as any)[name] !== "function") { redis.defineCommand(name, definition); }
    }
  }

  /** A store with its own client; close() quits it. */
  static connect(url: string, prefix?: string): RedisStore {
    const store = new RedisStore(new Redis(url), prefix);
    store.ownsClient = true;
    return store;
  }

  // --- keys -------------------------------------------------------------------

  private roomKey(roomId: string) { return `${this.prefix}room:{${roomId}}`; }
  private convKey(roomId: string, conversationId: string) { return `${this.prefix}conv:{${roomId}}:${conversationId}`; }
  private msgsBase(roomId: string) { return `${this.prefix}msgs:{${roomId}}:`; }
  private msgsKey(roomId: string, conversationId: string) { return this.msgsBase(roomId) + conversationId; }
  private pastKey(roomId: string) { return `${this.prefix}past:{${roomId}}`; }
  private idemKey(roomId: string) { return `${this.prefix}idem:{${roomId}}`; }
  private idleKey() { return `${this.prefix}idle`; }
  private outboxKey(roomId: string) { return `${this.prefix}outbox:{${roomId}}`; }
  private outboxesKey() { return `${this.prefix}outboxes`; }
  private outboxLeaseKey(roomId: string) { return `${this.prefix}outbox-lease:{${roomId}}`; }
  private epochsKey() { return `${this.prefix}epochs`; }
  private queueKey(teamId: string) { return `${this.prefix}queue:{team-${teamId}}`; }

  private async run<T>(name: ScriptName, ...args: (string | number)[]): Promise<T> {
    try {
      return await (this.redis as any)[name](...args);
    } catch (e: any) {
      throw storeError(e);
    }
  }

  // --- rooms ------------------------------------------------------------------

  async getRoom(roomId: string) {
    const hash = await this.redis.hgetall(this.roomKey(roomId));
    return isEmpty(hash) ? null : decodeRoom(hash);
  }

  async createRoom(record: RoomRecord) {
    const flat = await this.run<string[]>("ccCreateRoom", this.roomKey(record.roomId), ...encodeRoom(record));
    return decodeRoom(toObject(flat));
  }

  async activateRoom(roomId: string) {
    return Number(await this.run<number>("ccActivateRoom", this.roomKey(roomId), this.epochsKey(), roomId));
  }

  forOwner(roomId: string, epoch: number) { return ownerView(this, roomId, epoch); }

  async addMembers(roomId: string, userIds: string[], epoch?: number) {
    await this.run("ccAddMembers", this.roomKey(roomId), fence(epoch), roomId, ...userIds);
  }

  async deleteRoom(roomId: string) {
    // every conversation is either the active one or in the past zset
    const [active, past] = await Promise.all([
      this.redis.hget(this.roomKey(roomId), "activeConversationId"),
      this.redis.zrange(this.pastKey(roomId), 0, -1),
    ]);
    const conversations = [...new Set([...past, ...(active ? [active] : [])])];
    const tx = this.redis.multi();
    tx.del(this.roomKey(roomId), this.pastKey(roomId), this.idemKey(roomId), this.outboxKey(roomId), this.outboxLeaseKey(roomId),
      ...conversations.flatMap((id) => [this.convKey(roomId, id), this.msgsKey(roomId, id)]));
    tx.zrem(this.idleKey(), roomId);
    tx.srem(this.outboxesKey(), roomId);
    const results = await tx.exec();
    if (!results) { throw new Error(`delete of room ${roomId} was aborted`); }
    for (const [err] of results) { if (err) { throw err; } }
  }

  // --- conversations ----------------------------------------------------------

  async startConversation(conversation: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    const { roomId, id } = conversation;
    await this.run("ccStartConversation", this.roomKey(roomId), this.convKey(roomId, id),
      this.outboxKey(roomId), this.outboxesKey(),
      fence(epoch), roomId, id, String(conversation.startedAt), events.length, ...events, ...encodeConversation(conversation, true));
  }

  async saveConversation(conversation: ConversationRecord, epoch?: number) {
    const { roomId, id } = conversation;
    await this.run("ccSaveConversation", this.roomKey(roomId), this.convKey(roomId, id),
      fence(epoch), roomId, id, JSON.stringify(conversation.participants), JSON.stringify(conversation.channelSessions));
  }

  async endConversation(conversation: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    const { roomId, id } = conversation;
    // message counters are the store's own; everything else comes from the actor
    const ended = await this.run<number>("ccEndConversation",
      this.roomKey(roomId), this.convKey(roomId, id), this.pastKey(roomId), this.outboxKey(roomId), this.outboxesKey(),
      fence(epoch), roomId, id, String(conversation.startedAt), events.length, ...events, ...encodeConversation({ ...conversation, state: "ended" }, false));
    if (ended === 1) { await this.redis.zrem(this.idleKey(), roomId); }
  }

  async rateConversation(roomId: string, conversationId: string, csat: CsatRecord, events: OutboxEvents = [], epoch?: number) {
    await this.run("ccRateConversation", this.roomKey(roomId), this.convKey(roomId, conversationId), this.outboxKey(roomId), this.outboxesKey(),
      fence(epoch), roomId, conversationId, JSON.stringify(csat), events.length, ...events);
  }

  async getConversation(roomId: string, conversationId: string) {
    const hash = await this.redis.hgetall(this.convKey(roomId, conversationId));
    return isEmpty(hash) ? null : decodeConversation(hash);
  }

  async listConversations(roomId: string, query: PageQuery) {
    if (query.limit <= 0) { return []; }
    const max = query.before === undefined ? "+inf" : `(${query.before}`;
    const ids = await this.redis.zrevrangebyscore(this.pastKey(roomId), max, "-inf", "LIMIT", 0, query.limit);
    if (ids.length === 0) { return []; }
    const pipeline = this.redis.pipeline();
    for (const id of ids) { pipeline.hgetall(this.convKey(roomId, id)); }
    const results = (await pipeline.exec()) ?? [];
    const page: ConversationRecord[] = [];
    for (const [err, hash] of results) {
      if (err) { throw err; }
      if (!isEmpty(hash as Record<string, string>)) { page.push(decodeConversation(hash as Record<string, string>)); }
    }
    return page;
  }

  // --- messages ---------------------------------------------------------------

  async appendMessage(roomId: string, message: NewMessage, events: OutboxEvents = [], epoch?: number): Promise<AppendResult> {
    const reply = await this.run<[string, number, string?]>("ccAppendMessage",
      this.roomKey(roomId), this.convKey(roomId, message.conversationId),
      this.msgsKey(roomId, message.conversationId), this.idemKey(roomId), this.outboxKey(roomId), this.outboxesKey(),
      fence(epoch), roomId, `${message.senderId}\u0000${message.id}`, this.msgsBase(roomId), message.conversationId,
      String(message.at), message.kind, encodeMessage(message), ...events);
    const [status, seq, stored] = reply;
    if (status === "dup") {
      return { message: { ...JSON.parse(stored!), seq: Number(seq) }, duplicate: true };
    }
    return { message: { ...JSON.parse(encodeMessage(message)), seq: Number(seq) }, duplicate: false };
  }

  async readMessages(roomId: string, conversationId: string, query: MessageQuery) {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) { return []; }
    const key = this.msgsKey(roomId, conversationId);
    // without notes a page may need more entries than `limit`: read in batches until it is full
    const batch = query.includeNotes ? limit : Math.min(Math.max(limit * 2, 32), 1000);
    const keep = (fields: string[]) => query.includeNotes || toObject(fields).k !== "note";
    const page: MessageRecord[] = [];

    if (query.before === undefined && query.after !== undefined) {
      // the oldest `limit` messages with seq > after
      if (query.after === Infinity) { return []; }
      let start = Number.isFinite(query.after) && query.after >= 0 ? `(${Math.floor(query.after)}-0` : "-";
      for (;;) {
        const entries = await this.redis.xrange(key, start, "+", "COUNT", batch) as StreamEntry[];
        for (const entry of entries) {
          if (keep(entry[1])) { page.push(decodeEntry(entry)); }
          if (page.length >= limit) { return page; }
        }
        if (entries.length < batch) { return page; }
        start = `(${entries[entries.length - 1][0]}`;
      }
    }

    // the newest `limit` messages, below `before` if given
    let end = "+";
    if (query.before !== undefined) {
      if (query.before === Infinity) { end = "+"; }
      else if (!(query.before > 1)) { return []; }
      else { end = `(${Math.ceil(query.before)}-0`; }
    }
    for (;;) {
      const entries = await this.redis.xrevrange(key, end, "-", "COUNT", batch) as StreamEntry[];
      for (const entry of entries) {
        if (keep(entry[1])) { page.push(decodeEntry(entry)); }
        if (page.length >= limit) { return page.reverse(); }
      }
      if (entries.length < batch) { return page.reverse(); }
      end = `(${entries[entries.length - 1][0]}`;
    }
  }

  // --- idle deadlines -----------------------------------------------------------

  async setIdleDeadline(roomId: string, deadline: number, epoch?: number) {
    if (epoch !== undefined) { await this.run("ccFencedDeadline", this.roomKey(roomId), this.idleKey(), fence(epoch), roomId, String(deadline)); return; }
    await this.redis.zadd(this.idleKey(), deadline, roomId);
  }

  async clearIdleDeadline(roomId: string, epoch?: number) {
    if (epoch !== undefined) { await this.run("ccFencedDeadline", this.roomKey(roomId), this.idleKey(), fence(epoch), roomId, ""); return; }
    await this.redis.zrem(this.idleKey(), roomId);
  }

  /** Earliest deadline first. */
  async dueIdleDeadlines(now: number, limit: number) {
    if (limit <= 0) { return []; }
    return this.redis.zrangebyscore(this.idleKey(), "-inf", now, "LIMIT", 0, limit);
  }

  async saveQueue(teamId: string, requests: QueuedRequest[], owner?: OwnerFence) {
    if (owner) { await this.run("ccFencedQueue", this.roomKey(owner.roomId), this.queueKey(teamId), fence(owner.epoch), owner.roomId, JSON.stringify(requests)); return; }
    await this.redis.set(this.queueKey(teamId), JSON.stringify(requests));
  }

  async saveCanned(teamId: string, replies: CannedReply[]) {
    const key = `${this.prefix}canned:{team-${teamId}}`;
    if (replies.length === 0) { await this.redis.del(key); } else { await this.redis.set(key, JSON.stringify(replies)); }
  }

  async loadCanned(teamId: string): Promise<CannedReply[]> {
    const raw = await this.redis.get(`${this.prefix}canned:{team-${teamId}}`);
    return raw ? JSON.parse(raw) : [];
  }

  async loadQueue(teamId: string): Promise<QueuedRequest[]> {
    const raw = await this.redis.get(this.queueKey(teamId));
    return raw ? JSON.parse(raw) : [];
  }

  saveLive(teamId: string, live: LiveRecord[], owner?: OwnerFence) { return this.saveTeamDoc("live", teamId, live, owner); }
  loadLive(teamId: string): Promise<LiveRecord[]> { return this.loadTeamDoc("live", teamId); }
  saveAgents(teamId: string, agents: AgentStatusRecord[], owner?: OwnerFence) { return this.saveTeamDoc("agents", teamId, agents, owner); }
  loadAgents(teamId: string): Promise<AgentStatusRecord[]> { return this.loadTeamDoc("agents", teamId); }

  /** A team's document (`name` is a constant of the calls above), replaced whole. */
  private async saveTeamDoc(name: string, teamId: string, list: unknown[], owner?: OwnerFence) {
    const key = `${this.prefix}${name}:{team-${teamId}}`;
    // the fenced queue script sets any one key if the room's owner epoch still holds
    if (owner) { await this.run("ccFencedQueue", this.roomKey(owner.roomId), key, fence(owner.epoch), owner.roomId, JSON.stringify(list)); return; }
    if (list.length === 0) { await this.redis.del(key); return; }
    await this.redis.set(key, JSON.stringify(list));
  }

  private async loadTeamDoc<T>(name: string, teamId: string): Promise<T[]> {
    const raw = await this.redis.get(`${this.prefix}${name}:{team-${teamId}}`);
    return raw ? JSON.parse(raw) : [];
  }

  async claim(name: string, ttlMs: number) {
    return (await this.redis.set(`${this.prefix}lease:${name}`, "1", "PX", ttlMs, "NX")) === "OK";
  }

  // --- webhook outbox -------------------------------------------------------------

  async appendOutbox(roomId: string, payloads: string[], epoch?: number) {
    if (epoch !== undefined) { await this.run("ccFencedOutbox", this.roomKey(roomId), this.outboxKey(roomId), this.outboxesKey(), fence(epoch), roomId, ...payloads); return; }
    if (payloads.length === 0) { return; }
    const tx = this.redis.multi();
    for (const payload of payloads) { tx.xadd(this.outboxKey(roomId), "*", "e", payload); }
    tx.sadd(this.outboxesKey(), roomId);
    const results = await tx.exec();
    if (!results) { throw new Error(`outbox append of room ${roomId} was aborted`); }
    for (const [err] of results) { if (err) { throw err; } }
  }

  async readOutbox(roomId: string, limit: number): Promise<OutboxEntry[]> {
    if (!(limit > 0)) { return []; }
    const entries = await this.redis.xrange(this.outboxKey(roomId), "-", "+", "COUNT", Math.floor(limit)) as StreamEntry[];
    return entries.map(([id, fields]) => ({ id, payload: toObject(fields).e }));
  }

  async removeOutbox(roomId: string, entryIds: string[]) {
    // an id that is no stream id cannot be in the outbox (XDEL would refuse it)
    const ids = entryIds.filter((id) => /^\d+-\d+$/.test(id));
    const left = await this.run<number>("ccOutboxRemove", this.outboxKey(roomId), ...ids);
    if (left > 0) { return; }
    await this.redis.srem(this.outboxesKey(), roomId);
    // an append between the script and the SREM put the room in the set before the
    // SREM took it out again: look once more (appends write stream and set at once)
    if (await this.redis.xlen(this.outboxKey(roomId)) > 0) { await this.redis.sadd(this.outboxesKey(), roomId); }
  }

  async pendingOutboxes(limit: number) {
    if (!(limit > 0)) { return []; }
    return this.redis.srandmember(this.outboxesKey(), Math.floor(limit));
  }

  async leaseOutbox(roomId: string, owner: string, ttlMs: number) {
    return (await this.run<number>("ccOutboxLease", this.outboxLeaseKey(roomId), owner, Math.max(1, Math.ceil(ttlMs)))) === 1;
  }

  async releaseOutbox(roomId: string, owner: string) {
    await this.run("ccOutboxRelease", this.outboxLeaseKey(roomId), owner);
  }


  // --- channel addresses -----------------------------------------------------------

  async resolveChannelAddress(type: string, address: string, customerId: string) {
    const field = `${type}\u0000${address}`;
    // HSETNX: of two first messages at once, one sets the field and both read it
    await this.redis.hsetnx(`${this.prefix}chaddr`, field, customerId);
    return (await this.redis.hget(`${this.prefix}chaddr`, field))!;
  }

  async linkChannelAddress(type: string, address: string, customerId: string) {
    await this.redis.hset(`${this.prefix}chaddr`, `${type}\u0000${address}`, customerId);
  }

  // --- records: refused (docs/storage.md "What the Redis store does not do") -----------
  // Each needs an index the Redis layout lacks (rooms by kind and end time, rooms and
  // messages by customer, words): kept up to date they would double every append's cost.

  async purgeEnded(_kind: RoomKind, _endedBefore: number, _limit: number): Promise<PurgeResult> { throw unsupported("Redis", "retention"); }
  async customerRooms(_customerId: string): Promise<string[]> { throw unsupported("Redis", "erasure and export"); }
  async eraseCustomer(_customerId: string): Promise<ErasureResult> { throw unsupported("Redis", "erasure"); }
  async exportCustomer(_customerId: string): Promise<CustomerExport> { throw unsupported("Redis", "export"); }
  async searchMessages(_query: SearchQuery): Promise<SearchHit[]> { throw unsupported("Redis", "transcript search"); }
  async appendAudit(_entry: Omit<AuditEntry, "id">): Promise<AuditEntry> { throw unsupported("Redis", "the audit log"); }
  async readAudit(_query: AuditQuery): Promise<AuditEntry[]> { throw unsupported("Redis", "the audit log"); }

  async ping() {
    try { await this.redis.ping(); } catch (e) { throw unavailable(e); }
  }

  async close() {
    if (this.ownsClient) { await this.redis.quit(); }
  }
}

/** A script's refusal becomes a StoreError of its kind; anything else: unavailable. */
function storeError(e: any): Error {
  const message: string = e?.message ?? String(e);
  const kind = /^(CONFLICT|NOT_FOUND|FENCED) /.exec(message);
  if (kind) { return new StoreError(kind[1] === "CONFLICT" ? "conflict" : kind[1] === "FENCED" ? "fenced" : "not_found", message.slice(kind[0].length)); }
  return unavailable(e);
}

/** The epoch argument of a script: '' when the write is not fenced. */
const fence = (epoch: number | undefined) => (epoch === undefined ? "" : String(epoch));
