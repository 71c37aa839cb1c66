/**
 * The storage contract. A room actor talks to storage only through `RoomStore`,
 * so the same actor runs on every store (memory, SQLite, PostgreSQL, Redis); all of
 * them pass test/store.test.ts.
 *
 * Fencing (docs/cluster.md): a room is written by one actor at a time. An actor
 * takes the room with `activateRoom`, which gives it a new owner epoch, larger than
 * any before, and then writes ONLY through `forOwner(roomId, epoch)`: every write of
 * that view carries the epoch and is checked in the same transaction (Lua script)
 * that writes, so once a newer actor activated the room, an older one (a frozen or
 * cut-off process that woke up) has each write refused with StoreError kind
 * "fenced" and nothing of it is stored.
 *
 * In an actor, features write through `room.writer` (conversation/context.ts), the
 * actor's fenced view, never through `services.store`. A NEW room write: add it to
 * `RoomWriter` and to `ownerView` (fenced.ts), give the RoomStore method an optional
 * `epoch` that every store checks in the same transaction as the write, and add a
 * refusal case to the fencing contract in test/store.test.ts; the actor's writer
 * (rooms/ownership.ts) wraps every RoomWriter method by itself. The unfenced
 * RoomStore methods are for callers that own no room (the sweeper, the records
 * API, tests).
 */

export type RoomKind = "contact_center" | "private" | "team";
/** `connector`: a channel connector process (server/channels/); it never sends as itself */
export type Role = "customer" | "agent" | "supervisor" | "bot" | "app" | "connector";
export type MessageKind = "text" | "note" | "event";

import type { AuditEntry, AuditQuery, CustomerExport, ErasureResult, PurgeResult, SearchHit, SearchQuery } from "./recordTypes";

/** The permanent record of a room. It outlives every actor that serves it. */
export interface RoomRecord {
  roomId: string;
  kind: RoomKind;
  /** user ids allowed in the room beyond what the kind implies (private-room members) */
  members: string[];
  /** customer ids of a customer room (`contact_center`: exactly one) */
  customers: string[];
  teamId?: string;
  subject?: string;
  createdAt: number;
  lastActivityAt: number;
  activeConversationId: string | null;
  /** the last seq handed out in this room (0 = none yet) */
  lastSeq: number;
  /** number of ended conversations in the room's history */
  pastConversations: number;
}

export interface ParticipantRecord {
  userId: string;
  role: Role;
  name: string;
  joinedAt: number;
  /** 0 while the participant is still in the conversation */
  leftAt: number;
  readSeq: number;
}

export interface ChannelSessionRecord {
  id: string;
  customerId: string;
  type: string;
  address: string;
  startedAt: number;
  /** 0 while active */
  endedAt: number;
  state: "active" | "ended";
  /**
   * Connector sessions only (server/channels/, docs/channels.md); absent on a session
   * of a customer connected with the SDK.
   */
  via?: "connector";
  /** the connector's own thread data (email subject and Message-IDs), handed back with every delivery */
  context?: string;
  /** last inbound message on the session (ms): its inactivity timer runs from here */
  lastActivityAt?: number;
  /** delivery horizons reported by the connector: the highest seq sent, delivered, read on this session */
  sentSeq?: number;
  deliveredSeq?: number;
  readSeq?: number;
  /** the latest failed delivery: its seq and its code (server/channels/rules.ts FailureCode; 0 / "" when none) */
  failedSeq?: number;
  failedReason?: string;
}

export interface ConversationRecord {
  id: string;
  roomId: string;
  state: "active" | "ended";
  startedAt: number;
  endedAt: number;
  endReason: string;
  endedBy: string;
  /** seq of the first and last message of the conversation (0 = none) */
  firstSeq: number;
  lastSeq: number;
  messageCount: number;
  participants: ParticipantRecord[];
  channelSessions: ChannelSessionRecord[];
  /** the customer's rating after the end (`csat` request), when given */
  csat?: CsatRecord;
}

/** A team's canned reply: typed as `/shortcut` in the console; placeholders like {{customer.name}} are filled there. */
export interface CannedReply {
  shortcut: string;
  text: string;
}

/** A customer's satisfaction answer for one ended conversation; a new answer replaces the old. */
export interface CsatRecord {
  rating: number;
  comment: string;
  by: string;
  at: number;
}

/** A file a message carries (server/attachments/): its bytes are in the attachment storage, not here. */
export interface AttachmentRef {
  id: string;
  name: string;
  /** media type, e.g. image/png */
  type: string;
  size: number;
}

/** Rich content of a message (server/channels/rich.ts): quick replies and cards, with `text` as the plain fallback. */
export interface RichContent {
  quickReplies?: { id: string; title: string }[];
  cards?: { title: string; subtitle?: string; imageUrl?: string; buttons?: { id: string; title: string; url?: string }[] }[];
}

export interface MessageRecord {
  seq: number;
  /** the client's id, the idempotency key together with senderId */
  id: string;
  conversationId: string;
  senderId: string;
  senderRole: Role;
  senderName: string;
  kind: MessageKind;
  text: string;
  at: number;
  /** absent when the message carries none */
  attachments?: AttachmentRef[];
  rich?: RichContent;
}

export type { AgentStatusRecord, LiveRecord, QueuedRequest } from "./teamTypes";
import type { AgentStatusRecord, LiveRecord, QueuedRequest } from "./teamTypes";

/** A message before the store gives it a seq. */
export type NewMessage = Omit<MessageRecord, "seq">;

export interface AppendResult {
  message: MessageRecord;
  /** true when (senderId, id) was already stored: nothing new was written */
  duplicate: boolean;
}

export interface MessageQuery {
  /** only messages with seq < before */
  before?: number;
  /** only messages with seq > after (ignored when before is set) */
  after?: number;
  limit: number;
  /** false: notes are skipped (customers) */
  includeNotes: boolean;
}

export interface PageQuery {
  /** conversations that started before this many ms since epoch */
  before?: number;
  limit: number;
}

/** One event waiting in a room's webhook outbox (server/webhooks/). */
export interface OutboxEntry {
  /** the store's id of the entry: entries of one outbox are read in append order */
  id: string;
  /** the serialised event, delivered byte for byte */
  payload: string;
}

/**
 * In an outbox event handed to `appendMessage`, this stands for the seq the store
 * gives the message (server/webhooks/events.ts). Serialised JSON never contains a
 * raw control character, so the mark cannot collide with message content.
 */
export const SEQ_MARK = "\u0001seq\u0001";

/** A message's outbox event with the seq the store gave the message. */
export function fillSeq(template: string, seq: number): string {
  return template.split(SEQ_MARK).join(String(seq));
}

/**
 * The webhook outbox events written in the same atomic step as the record they
 * announce (a message and its `message.stored`, a conversation start or end and
 * its event): an event is in the outbox exactly when its record is stored.
 * Written only when the call stores something new: a duplicate message, a repeated
 * start of the active conversation or a second end write no events.
 */
export type OutboxEvents = string[];

/**
 * The fenced writes of one room by its current owner (`RoomStore.forOwner`). Each
 * is refused with StoreError kind "fenced" when the room was activated again since
 * `epoch` was handed out; the check and the write are one atomic step.
 */
export interface RoomWriter {
  readonly roomId: string;
  readonly epoch: number;
  addMembers(userIds: string[]): Promise<void>;
  startConversation(conversation: ConversationRecord, events?: OutboxEvents): Promise<void>;
  saveConversation(conversation: ConversationRecord): Promise<void>;
  endConversation(conversation: ConversationRecord, events?: OutboxEvents): Promise<void>;
  /** the customer's rating of one of the room's ended conversations (`csat`) */
  rateConversation(conversationId: string, csat: CsatRecord, events?: OutboxEvents): Promise<void>;
  appendMessage(message: NewMessage, events?: OutboxEvents): Promise<AppendResult>;
  setIdleDeadline(deadline: number): Promise<void>;
  clearIdleDeadline(): Promise<void>;
  appendOutbox(payloads: string[]): Promise<void>;
  /** the queue of the team this (team) room serves */
  saveQueue(teamId: string, requests: QueuedRequest[], fence?: OwnerFence): Promise<void>;
  /** the live conversations of the team this (team) room serves */
  saveLive(teamId: string, live: LiveRecord[]): Promise<void>;
  /** the agents' statuses of the team this (team) room serves */
  saveAgents(teamId: string, agents: AgentStatusRecord[]): Promise<void>;
}

/** Which owner a team queue write comes from: the team room and its epoch. */
export interface OwnerFence { roomId: string; epoch: number }

/*
 * `epoch` on a write below: when given, the write is refused with StoreError kind
 * "fenced" unless it is the room's current owner epoch (checked with the write).
 * Callers use `forOwner`, which passes it; without it the write is not fenced.
 */
export interface RoomStore {
  getRoom(roomId: string): Promise<RoomRecord | null>;
  /** Writes the record only if no room with that id exists; returns the stored one. */
  createRoom(record: RoomRecord): Promise<RoomRecord>;
  /**
   * A new actor takes the room: its owner epoch becomes a number larger than every
   * epoch this store handed out before (for any room), and is returned. From now on
   * writes with an older epoch are refused. The room must exist (`not_found`).
   */
  activateRoom(roomId: string): Promise<number>;
  /** The room's writes fenced with `epoch` (server/store/fenced.ts). */
  forOwner(roomId: string, epoch: number): RoomWriter;
  /** Adds user ids to a room's member list (no duplicates). */
  addMembers(roomId: string, userIds: string[], epoch?: number): Promise<void>;
  /**
   * Removes the room record and everything under it: its conversations, messages,
   * idempotency keys, webhook outbox (and its lease) and idle deadline. An unknown
   * room is no error. Used for private rooms nobody ever used (server/policy/privateRooms.ts).
   */
  deleteRoom(roomId: string): Promise<void>;

  /** Starts a conversation and marks it active on the room, atomically, with its outbox events. */
  startConversation(conversation: ConversationRecord, events?: OutboxEvents, epoch?: number): Promise<void>;
  /** Replaces participants and channel sessions of a stored conversation. */
  saveConversation(conversation: ConversationRecord, epoch?: number): Promise<void>;
  /** Moves the conversation into the room's history and clears the active id, with its outbox events. */
  endConversation(conversation: ConversationRecord, events?: OutboxEvents, epoch?: number): Promise<void>;
  getConversation(roomId: string, conversationId: string): Promise<ConversationRecord | null>;
  /** stores the rating of an ended conversation (conflict while it is active, not_found without it) with its events */
  rateConversation(roomId: string, conversationId: string, csat: CsatRecord, events?: OutboxEvents, epoch?: number): Promise<void>;
  /** The room's past (ended) conversations, newest first. */
  listConversations(roomId: string, query: PageQuery): Promise<ConversationRecord[]>;

  /**
   * Gives the message the room's next seq and stores it durably, in one atomic
   * step together with its outbox events (SEQ_MARK filled in); a second call with
   * the same (senderId, id) returns the stored message and writes nothing.
   */
  appendMessage(roomId: string, message: NewMessage, events?: OutboxEvents, epoch?: number): Promise<AppendResult>;
  /** Messages of one conversation, oldest first. */
  readMessages(roomId: string, conversationId: string, query: MessageQuery): Promise<MessageRecord[]>;

  /**
   * Idle deadlines of active conversations, kept in the store so that a deadline
   * outlives the actor (and the node) that set it.
   */
  setIdleDeadline(roomId: string, deadline: number, epoch?: number): Promise<void>;
  clearIdleDeadline(roomId: string, epoch?: number): Promise<void>;
  /** Room ids whose deadline is <= now. */
  dueIdleDeadlines(now: number, limit: number): Promise<string[]>;

  /**
   * A lease: true for exactly one caller until `ttlMs` passes, cluster-wide on
   * Redis. The sweeper claims a room's overdue deadline with it.
   */
  claim(name: string, ttlMs: number): Promise<boolean>;

  // --- webhook outbox (server/webhooks/) -----------------------------------
  /**
   * Appends serialised events to the end of the room's webhook outbox, in the given
   * order, all or none, and lists the room in `pendingOutboxes`.
   */
  appendOutbox(roomId: string, payloads: string[], epoch?: number): Promise<void>;
  /** The oldest `limit` entries of the room's outbox, oldest first. */
  readOutbox(roomId: string, limit: number): Promise<OutboxEntry[]>;
  /**
   * Removes entries by id (delivered or given up); unknown ids are ignored. When the
   * outbox is then empty the room leaves `pendingOutboxes` (also with no ids).
   */
  removeOutbox(roomId: string, entryIds: string[]): Promise<void>;
  /** Up to `limit` rooms whose outbox may hold entries, in no particular order. */
  pendingOutboxes(limit: number): Promise<string[]>;
  /**
   * The lease on a room's outbox: true when `owner` now holds it for `ttlMs` (it was
   * free, expired, or already `owner`'s: then it is renewed), false when another
   * owner holds it. Cluster-wide on Redis.
   */
  leaseOutbox(roomId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Frees the lease if `owner` holds it. */
  releaseOutbox(roomId: string, owner: string): Promise<void>;

  // --- channel addresses (server/channels/, docs/channels.md) -----------------------
  /**
   * The customer id of a channel address (`type`, `address`): the stored one, or, when
   * the address is unknown, `customerId`, stored atomically (two first messages from
   * one address at once get one customer).
   */
  resolveChannelAddress(type: string, address: string, customerId: string): Promise<string>;
  /** Maps an address to a customer, replacing any earlier mapping (linking two addresses to one customer). */
  linkChannelAddress(type: string, address: string, customerId: string): Promise<void>;

  /** A team's pending conversation requests, written whole by the team room's actor. */
  saveQueue(teamId: string, requests: QueuedRequest[], fence?: OwnerFence): Promise<void>;
  /** the team's canned replies, replaced as a whole (an empty list removes them) */
  saveCanned(teamId: string, replies: CannedReply[]): Promise<void>;
  loadCanned(teamId: string): Promise<CannedReply[]>;
  loadQueue(teamId: string): Promise<QueuedRequest[]>;
  /**
   * A team's live conversations, written whole by the team room's actor, so a new
   * actor rebuilds them and its agents' conversation counts (docs/desk.md).
   */
  saveLive(teamId: string, live: LiveRecord[], fence?: OwnerFence): Promise<void>;
  loadLive(teamId: string): Promise<LiveRecord[]>;
  /**
   * The statuses of a team's agents that are not `available` (busy, away, not_ready with its
   * reason), written whole by the team room's actor, so an agent who rejoins a new
   * actor keeps its status (docs/desk.md). An empty list removes the document.
   */
  saveAgents(teamId: string, agents: AgentStatusRecord[], fence?: OwnerFence): Promise<void>;
  loadAgents(teamId: string): Promise<AgentStatusRecord[]>;

  /**
   * Answers once the store can serve a call (a round trip to its server: `PING`,
   * `SELECT 1`); rejects with StoreError `unavailable` when it cannot. No timeout of
   * its own: the caller (server/http/probes.ts) bounds the wait.
   */
  ping(): Promise<void>;

  close(): Promise<void>;

  // --- records: retention, erasure, export, search, audit (docs/storage.md) --------
  // The Redis store refuses these with StoreError kind "unsupported" (docs/storage.md).
  /**
   * Removes up to `limit` ended conversations of rooms of `kind` that ended before
   * `endedBefore`, with their messages (and so their idempotency keys); never an
   * active conversation. A room left with no conversation and no activity since
   * `endedBefore` goes too. Call again while it returns `limit` conversations.
   */
  purgeEnded(kind: RoomKind, endedBefore: number, limit: number): Promise<PurgeResult>;
  /** Ids of the rooms that list `customerId` among their customers. */
  customerRooms(customerId: string): Promise<string[]>;
  /** Erases one customer, atomically (docs/storage.md "Erasure"). */
  eraseCustomer(customerId: string): Promise<ErasureResult>;
  exportCustomer(customerId: string): Promise<CustomerExport>;
  /** Messages (notes included) matching every word of `q`, newest first. */
  searchMessages(query: SearchQuery): Promise<SearchHit[]>;
  appendAudit(entry: Omit<AuditEntry, "id">): Promise<AuditEntry>;
  /** Newest first. */
  readAudit(query: AuditQuery): Promise<AuditEntry[]>;
}
