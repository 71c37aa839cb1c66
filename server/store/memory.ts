import { conversationEnded, conversationNotActive, conversationNotEnded, conversationNotFound, fenced, otherConversationActive, roomNotFound } from "./errors";
import { ownerView } from "./fenced";
import type {
  AgentStatusRecord, AppendResult, CannedReply, ConversationRecord, CsatRecord, MessageQuery, MessageRecord, NewMessage,
  OutboxEntry, OutboxEvents, OwnerFence, LiveRecord, PageQuery, QueuedRequest, RoomRecord, RoomStore,
  RoomKind,
} from "./types";
import { fillSeq } from "./types";
import { MemoryRecords } from "./memoryRecords";
import type { AuditEntry, AuditQuery, SearchQuery } from "./recordTypes";

/** Deep copy, so callers can never mutate what the store holds (as with Redis). */
const copy = <T>(value: T): T => structuredClone(value);

export interface RoomData {
  record: RoomRecord;
  conversations: Map<string, ConversationRecord>;
  /** ended conversation ids, oldest first */
  past: string[];
  messages: Map<string, MessageRecord[]>;
  /** `${senderId}\u0000${id}` -> seq */
  idempotency: Map<string, MessageRecord>;
  /** the epoch of the actor that owns the room (0: never activated) */
  ownerEpoch: number;
}

/** The embedded node's store: everything in this process, nothing survives it. */
export class MemoryStore implements RoomStore {
  // not private: the record-keeping calls (memoryRecords.ts) work on them too
  readonly rooms = new Map<string, RoomData>();
  readonly deadlines = new Map<string, number>();

  /** the last owner epoch handed out, for every room: epochs never repeat */
  private epochs = 0;

  /** The room; with `epoch`, only while that epoch owns it (checked before any change: the write is one step). */
  private room(roomId: string, epoch?: number): RoomData {
    const data = this.rooms.get(roomId);
    if (!data) { throw roomNotFound(roomId); }
    if (epoch !== undefined && data.ownerEpoch !== epoch) { throw fenced(roomId, epoch); }
    return data;
  }

  async activateRoom(roomId: string) {
    const data = this.room(roomId);
    data.ownerEpoch = ++this.epochs;
    return data.ownerEpoch;
  }

  forOwner(roomId: string, epoch: number) { return ownerView(this, roomId, epoch); }

  async getRoom(roomId: string) {
    const data = this.rooms.get(roomId);
    return data ? copy(data.record) : null;
  }

  async createRoom(record: RoomRecord) {
    if (!this.rooms.has(record.roomId)) {
      this.rooms.set(record.roomId, {
        record: copy(record), conversations: new Map(), past: [], messages: new Map(), idempotency: new Map(),
        ownerEpoch: 0,
      });
    }
    return copy(this.room(record.roomId).record);
  }

  async addMembers(roomId: string, userIds: string[], epoch?: number) {
    const record = this.room(roomId, epoch).record;
    for (const id of userIds) {
      if (!record.members.includes(id)) { record.members.push(id); }
    }
  }

  async deleteRoom(roomId: string) {
    // conversations, messages and idempotency keys live in the room's own entry
    this.rooms.delete(roomId);
    this.deadlines.delete(roomId);
    this.outboxes.delete(roomId);
    this.outboxLeases.delete(roomId);
  }

  async startConversation(conversation: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    const data = this.room(conversation.roomId, epoch);
    if (data.record.activeConversationId && data.record.activeConversationId !== conversation.id) {
      throw otherConversationActive(conversation.roomId, data.record.activeConversationId);
    }
    const existing = data.conversations.get(conversation.id);
    if (existing?.state === "ended") { throw conversationEnded(conversation.id); }
    if (!existing) { this.pushOutbox(conversation.roomId, events); }
    // a repeated start of the active conversation keeps the store's own message counters
    data.conversations.set(conversation.id, existing ? {
      ...copy(conversation),
      firstSeq: existing.firstSeq, lastSeq: existing.lastSeq, messageCount: existing.messageCount,
    } : copy(conversation));
    data.record.activeConversationId = conversation.id;
    data.record.lastActivityAt = Math.max(data.record.lastActivityAt, conversation.startedAt);
  }

  async saveConversation(conversation: ConversationRecord, epoch?: number) {
    const data = this.room(conversation.roomId, epoch);
    const stored = data.conversations.get(conversation.id);
    if (!stored) { throw conversationNotFound(conversation.id); }
    stored.participants = copy(conversation.participants);
    stored.channelSessions = copy(conversation.channelSessions);
  }

  async endConversation(conversation: ConversationRecord, events: OutboxEvents = [], epoch?: number) {
    const data = this.room(conversation.roomId, epoch);
    const stored = data.conversations.get(conversation.id);
    if (!stored) { throw conversationNotFound(conversation.id); }
    if (stored.state === "ended") { return; }
    this.pushOutbox(conversation.roomId, events);
    // message counters are the store's own; everything else comes from the actor
    data.conversations.set(conversation.id, {
      ...copy(conversation),
      state: "ended",
      firstSeq: stored.firstSeq, lastSeq: stored.lastSeq, messageCount: stored.messageCount,
    });
    data.past.push(conversation.id);
    data.record.pastConversations = data.past.length;
    if (data.record.activeConversationId === conversation.id) { data.record.activeConversationId = null; }
    this.deadlines.delete(conversation.roomId);
  }

  async getConversation(roomId: string, conversationId: string) {
    const conversation = this.rooms.get(roomId)?.conversations.get(conversationId);
    return conversation ? copy(conversation) : null;
  }

  async rateConversation(roomId: string, conversationId: string, csat: CsatRecord, events: OutboxEvents = [], epoch?: number) {
    if (epoch !== undefined) { this.room(roomId, epoch); }
    const stored = this.rooms.get(roomId)?.conversations.get(conversationId);
    if (!stored) { throw conversationNotFound(conversationId); }
    if (stored.state !== "ended") { throw conversationNotEnded(conversationId); }
    stored.csat = copy(csat);
    this.pushOutbox(roomId, events);
  }

  async listConversations(roomId: string, query: PageQuery) {
    const data = this.rooms.get(roomId);
    if (!data) { return []; }
    const page: ConversationRecord[] = [];
    for (let i = data.past.length - 1; i >= 0 && page.length < query.limit; i--) {
      const conversation = data.conversations.get(data.past[i])!;
      if (query.before === undefined || conversation.startedAt < query.before) { page.push(copy(conversation)); }
    }
    return page;
  }

  async appendMessage(roomId: string, message: NewMessage, events: OutboxEvents = [], epoch?: number): Promise<AppendResult> {
    const data = this.room(roomId, epoch);
    const key = `${message.senderId}\u0000${message.id}`;
    const existing = data.idempotency.get(key);
    if (existing) { return { message: copy(existing), duplicate: true }; }

    const conversation = data.conversations.get(message.conversationId);
    if (!conversation || conversation.state !== "active") {
      throw conversationNotActive(message.conversationId);
    }
    const stored: MessageRecord = { ...copy(message), seq: ++data.record.lastSeq };
    this.pushOutbox(roomId, events.map((event) => fillSeq(event, stored.seq)));
    let list = data.messages.get(message.conversationId);
    if (!list) { data.messages.set(message.conversationId, list = []); }
    list.push(stored);
    data.idempotency.set(key, stored);
    conversation.firstSeq ||= stored.seq;
    conversation.lastSeq = stored.seq;
    conversation.messageCount++;
    data.record.lastActivityAt = Math.max(data.record.lastActivityAt, stored.at);
    return { message: copy(stored), duplicate: false };
  }

  async readMessages(roomId: string, conversationId: string, query: MessageQuery) {
    const list = this.rooms.get(roomId)?.messages.get(conversationId) ?? [];
    const visible = list.filter((m) => (query.includeNotes || m.kind !== "note"));
    let page: MessageRecord[];
    if (query.before !== undefined) {
      const before = query.before;
      const older = visible.filter((m) => m.seq < before);
      page = older.slice(Math.max(0, older.length - query.limit));
    } else if (query.after !== undefined) {
      const after = query.after;
      page = visible.filter((m) => m.seq > after).slice(0, query.limit);
    } else {
      page = visible.slice(Math.max(0, visible.length - query.limit));
    }
    return copy(page);
  }

  async setIdleDeadline(roomId: string, deadline: number, epoch?: number) {
    if (epoch !== undefined) { this.room(roomId, epoch); }
    this.deadlines.set(roomId, deadline);
  }

  async clearIdleDeadline(roomId: string, epoch?: number) {
    if (epoch !== undefined) { this.room(roomId, epoch); }
    this.deadlines.delete(roomId);
  }

  /** Earliest deadline first. */
  async dueIdleDeadlines(now: number, limit: number) {
    return [...this.deadlines]
      .filter(([, deadline]) => deadline <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, Math.max(0, limit))
      .map(([roomId]) => roomId);
  }

  private leases = new Map<string, number>();

  private queues = new Map<string, QueuedRequest[]>();
  private canned = new Map<string, CannedReply[]>();

  async saveQueue(teamId: string, requests: QueuedRequest[], fence?: OwnerFence) {
    if (fence) { this.room(fence.roomId, fence.epoch); }
    this.queues.set(teamId, copy(requests));
  }
  async saveCanned(teamId: string, replies: CannedReply[]) { if (replies.length) { this.canned.set(teamId, copy(replies)); } else { this.canned.delete(teamId); } }
  async loadCanned(teamId: string) { return copy(this.canned.get(teamId) ?? []); }
  async loadQueue(teamId: string) { return copy(this.queues.get(teamId) ?? []); }

  private live = new Map<string, LiveRecord[]>();

  async saveLive(teamId: string, live: LiveRecord[], fence?: OwnerFence) {
    if (fence) { this.room(fence.roomId, fence.epoch); }
    if (live.length) { this.live.set(teamId, copy(live)); } else { this.live.delete(teamId); } }
  async loadLive(teamId: string) { return copy(this.live.get(teamId) ?? []); }

  private agents = new Map<string, AgentStatusRecord[]>();

  async saveAgents(teamId: string, agents: AgentStatusRecord[], fence?: OwnerFence) {
    if (fence) { this.room(fence.roomId, fence.epoch); }
    if (agents.length) { this.agents.set(teamId, copy(agents)); } else { this.agents.delete(teamId); } }
  async loadAgents(teamId: string) { return copy(this.agents.get(teamId) ?? []); }

  async claim(name: string, ttlMs: number) {
    const now = Date.now();
    if ((this.leases.get(name) ?? 0) > now) { return false; }
    this.leases.set(name, now + ttlMs);
    return true;
  }

  // --- webhook outbox ------------------------------------------------------------

  readonly outboxes = new Map<string, OutboxEntry[]>();
  private outboxSeq = 0;
  private outboxLeases = new Map<string, { owner: string; until: number }>();

  async appendOutbox(roomId: string, payloads: string[], epoch?: number) {
    if (epoch !== undefined) { this.room(roomId, epoch); }
    this.pushOutbox(roomId, payloads);
  }

  /** Synchronous, so a record and its events are written in one step. */
  private pushOutbox(roomId: string, payloads: string[]) {
    if (payloads.length === 0) { return; }
    let list = this.outboxes.get(roomId);
    if (!list) { this.outboxes.set(roomId, list = []); }
    for (const payload of payloads) { list.push({ id: String(++this.outboxSeq), payload }); }
  }

  async readOutbox(roomId: string, limit: number) {
    return copy((this.outboxes.get(roomId) ?? []).slice(0, Math.max(0, limit)));
  }

  async removeOutbox(roomId: string, entryIds: string[]) {
    const list = this.outboxes.get(roomId);
    if (!list) { return; }
    const remove = new Set(entryIds);
    const left = list.filter((e) => !remove.has(e.id));
    if (left.length === 0) { this.outboxes.delete(roomId); } else { this.outboxes.set(roomId, left); }
  }

  async pendingOutboxes(limit: number) {
    return [...this.outboxes.keys()].slice(0, Math.max(0, limit));
  }

  async leaseOutbox(roomId: string, owner: string, ttlMs: number) {
    const now = Date.now();
    const held = this.outboxLeases.get(roomId);
    if (held && held.until > now && held.owner !== owner) { return false; }
    this.outboxLeases.set(roomId, { owner, until: now + ttlMs });
    return true;
  }

  async releaseOutbox(roomId: string, owner: string) {
    if (this.outboxLeases.get(roomId)?.owner === owner) { this.outboxLeases.delete(roomId); }
  }


  // --- channel addresses -------------------------------------------------------------

  readonly channelAddresses = new Map<string, string>();

  async resolveChannelAddress(type: string, address: string, customerId: string) {
    const key = `${type}\u0000${address}`;
    if (!this.channelAddresses.has(key)) { this.channelAddresses.set(key, customerId); }
    return this.channelAddresses.get(key)!;
  }

  async linkChannelAddress(type: string, address: string, customerId: string) {
    this.channelAddresses.set(`${type}\u0000${address}`, customerId);
  }

  // --- records (memoryRecords.ts) --------------------------------------------------

  private records = new MemoryRecords(this);
  purgeEnded(kind: RoomKind, endedBefore: number, limit: number) { return this.records.purgeEnded(kind, endedBefore, limit); }
  customerRooms(customerId: string) { return this.records.customerRooms(customerId); }
  eraseCustomer(customerId: string) { return this.records.eraseCustomer(customerId); }
  exportCustomer(customerId: string) { return this.records.exportCustomer(customerId); }
  searchMessages(query: SearchQuery) { return this.records.searchMessages(query); }
  appendAudit(entry: Omit<AuditEntry, "id">) { return this.records.appendAudit(entry); }
  readAudit(query: AuditQuery) { return this.records.readAudit(query); }

  /** in this process: there whenever the process is */
  async ping() { /* nothing to reach */ }

  async close() { /* nothing to release */ }
}
