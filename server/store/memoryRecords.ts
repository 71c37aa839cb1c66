import type { MemoryStore, RoomData } from "./memory";
import type {
  AuditEntry, AuditQuery, CustomerExport, ErasureResult, PurgeResult, SearchHit, SearchQuery,
} from "./recordTypes";
import { afterCursor, hit, redactMessage, removesWholeRoom, roomInScope, searchWords, stripCustomer, withoutCustomer } from "./recordRules";
import type { ChannelSessionRecord, MessageRecord, RoomKind } from "./types";

const copy = <T>(value: T): T => structuredClone(value);

/** The memory store's retention, erasure, export, search and audit (see RoomStore). */
export class MemoryRecords {
  private audit: AuditEntry[] = [];
  private auditSeq = 0;

  constructor(private readonly store: MemoryStore) {}

  private drop(roomId: string) {
    this.store.rooms.delete(roomId);
    this.store.deadlines.delete(roomId);
    this.store.outboxes.delete(roomId);
  }

  async purgeEnded(kind: RoomKind, endedBefore: number, limit: number): Promise<PurgeResult> {
    const result: PurgeResult = { conversations: 0, messages: 0, rooms: 0 };
    for (const [roomId, data] of [...this.store.rooms]) {
      if (data.record.kind !== kind) { continue; }
      for (const id of [...data.past]) {
        if (result.conversations >= limit) { break; }
        const c = data.conversations.get(id)!;
        if (c.state !== "ended" || c.endedAt >= endedBefore) { continue; }
        result.conversations++;
        result.messages += this.dropConversation(data, id);
      }
      if (data.conversations.size === 0 && !data.record.activeConversationId && data.record.lastActivityAt < endedBefore && data.past.length === 0) {
        if (data.record.pastConversations > 0) { this.drop(roomId); result.rooms++; }
      }
      if (result.conversations >= limit) { break; }
    }
    return result;
  }

  private dropConversation(data: RoomData, id: string): number {
    const messages = data.messages.get(id) ?? [];
    for (const m of messages) { data.idempotency.delete(`${m.senderId}\u0000${m.id}`); }
    data.messages.delete(id);
    data.conversations.delete(id);
    data.past = data.past.filter((p) => p !== id);
    return messages.length;
  }

  async customerRooms(customerId: string) {
    return [...this.store.rooms.values()].filter((d) => d.record.customers.includes(customerId)).map((d) => d.record.roomId);
  }

  async eraseCustomer(customerId: string): Promise<ErasureResult> {
    const r: ErasureResult = { rooms: 0, conversations: 0, messages: 0, redactedMessages: 0, roomsLeft: 0, channelSessions: 0, outboxEntries: 0 };
    // the customer's channel addresses (email, phone numbers) are personal data too
    for (const [key, owner] of [...this.store.channelAddresses]) { if (owner === customerId) { this.store.channelAddresses.delete(key); } }
    for (const [roomId, data] of [...this.store.rooms]) {
      if (data.record.customers.includes(customerId) && removesWholeRoom(data.record, customerId)) {
        r.rooms++;
        r.conversations += data.conversations.size;
        for (const c of data.conversations.values()) { r.channelSessions += c.channelSessions.length; }
        for (const list of data.messages.values()) { r.messages += list.length; }
        r.outboxEntries += this.store.outboxes.get(roomId)?.length ?? 0;
        this.drop(roomId);
        continue;
      }
      if (data.record.customers.includes(customerId)) {
        r.roomsLeft++;
        const left = withoutCustomer(data.record, customerId);
        data.record.customers = left.customers;
        data.record.members = left.members;
      }
      for (const c of data.conversations.values()) { r.channelSessions += stripCustomer(c, customerId); }
      for (const list of data.messages.values()) {
        list.forEach((m, i) => {
          if (m.senderId !== customerId) { return; }
          list[i] = redactMessage(m);
          data.idempotency.set(`${m.senderId}\u0000${m.id}`, list[i]);
          r.redactedMessages++;
        });
      }
    }
    return r;
  }

  async exportCustomer(customerId: string): Promise<CustomerExport> {
    const out: CustomerExport = { customerId, rooms: [], messagesElsewhere: [], channelSessions: [], channelAddresses: [] };
    for (const data of this.store.rooms.values()) {
      const own = data.record.customers.includes(customerId);
      const conversations = [...data.conversations.values()].sort((a, b) => a.startedAt - b.startedAt);
      for (const c of conversations) {
        out.channelSessions.push(...c.channelSessions.filter((s: ChannelSessionRecord) => s.customerId === customerId).map(copy));
        const messages = data.messages.get(c.id) ?? [];
        if (!own) {
          out.messagesElsewhere.push(...messages.filter((m) => m.senderId === customerId).map((m) => ({ ...copy(m), roomId: data.record.roomId })));
        }
      }
      if (own) {
        out.rooms.push({ room: copy(data.record), conversations: conversations.map((c) => ({ ...copy(c), messages: copy(data.messages.get(c.id) ?? []) })) });
      }
    }
    for (const [key, owner] of this.store.channelAddresses) {
      if (owner !== customerId) { continue; }
      const [type, address] = key.split("\u0000") as [string, string];
      out.channelAddresses.push({ type, address });
    }
    // code point order (UTF-8 bytes), as the SQL stores sort
    const bytes = (a: { type: string; address: string }) => Buffer.from(`${a.type}\u0000${a.address}`);
    out.channelAddresses.sort((a, b) => Buffer.compare(bytes(a), bytes(b)));
    return out;
  }

  async searchMessages(query: SearchQuery): Promise<SearchHit[]> {
    const words = searchWords(query.q);
    if (words.length === 0 || !(query.limit > 0)) { return []; }
    const hits: SearchHit[] = [];
    for (const data of this.store.rooms.values()) {
      if (!roomInScope(data.record, query.scope)) { continue; }
      for (const list of data.messages.values()) {
        for (const m of list as MessageRecord[]) {
          if (query.before !== undefined && !(m.at < query.before)) { continue; }
          const text = m.text.toLowerCase();
          if (!words.every((w) => text.includes(w))) { continue; }
          if (!afterCursor({ at: m.at, roomId: data.record.roomId, seq: m.seq }, query.after)) { continue; }
          hits.push(hit(data.record.roomId, data.record.kind, m));
        }
      }
    }
    return hits.sort((a, b) => b.at - a.at || (a.roomId === b.roomId ? b.seq - a.seq : a.roomId < b.roomId ? -1 : 1)).slice(0, Math.floor(query.limit));
  }

  async appendAudit(entry: Omit<AuditEntry, "id">): Promise<AuditEntry> {
    const stored = { ...copy(entry), id: String(++this.auditSeq) };
    this.audit.push(stored);
    return copy(stored);
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return copy(this.audit.filter((e) => (query.subject === undefined || e.subject === query.subject)
      && (query.action === undefined || e.action === query.action)
      && (query.before === undefined || Number(e.id) < query.before)).reverse().slice(0, Math.max(0, Math.floor(query.limit))));
  }
}
