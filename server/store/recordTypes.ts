import type { ChannelSessionRecord, ConversationRecord, MessageKind, MessageRecord, Role, RoomKind, RoomRecord } from "./types";

/*
 * Types of the record-keeping calls of a store (docs/storage.md "Retention",
 * "Erasure", "Export", "Search", "Audit"): what the purge job, the erasure and
 * export routes and transcript search ask of RoomStore.
 */

/** What one purge pass removed. */
export interface PurgeResult {
  conversations: number;
  messages: number;
  /** rooms left with no conversation, no active one and no activity since the cut-off */
  rooms: number;
}

/** What erasing one customer removed or redacted (counts, never contents). */
export interface ErasureResult {
  /** rooms removed whole: the customer's `cc-` room, private rooms where they were the only customer */
  rooms: number;
  conversations: number;
  /** messages removed with those rooms */
  messages: number;
  /** messages of theirs in other rooms whose text and sender name were blanked */
  redactedMessages: number;
  /** shared rooms the customer was removed from */
  roomsLeft: number;
  /** channel sessions removed (with the rooms, or from shared rooms' conversations) */
  channelSessions: number;
  /** undelivered webhook events of the removed rooms */
  outboxEntries: number;
}

/** One customer's stored data, for a data-subject access request. */
export interface CustomerExport {
  customerId: string;
  rooms: {
    room: RoomRecord;
    /** every conversation of the room, active and ended, oldest first, with all messages (notes included) */
    conversations: (ConversationRecord & { messages: MessageRecord[] })[];
  }[];
  /** messages the customer sent in rooms where they are not a customer */
  messagesElsewhere: (MessageRecord & { roomId: string })[];
  channelSessions: ChannelSessionRecord[];
  /**
   * the channel addresses that lead to the customer (resolveChannelAddress,
   * linkChannelAddress: an email address, a phone number), by type then address,
   * compared by code point
   */
  channelAddresses: ChannelAddress[];
}

/** One entry of the address -> customer mapping of channel connectors (docs/channels.md). */
export interface ChannelAddress {
  type: string;
  address: string;
}

export interface SearchQuery {
  /** words; every word must occur (whole words on SQL stores, substrings in memory) */
  q: string;
  limit: number;
  /** only messages sent before this many ms since epoch */
  before?: number;
  /** paging: only hits after this one in the order (at desc, roomId asc, seq desc) */
  after?: SearchCursor;
  /**
   * Scope: undefined = every room; else only rooms whose team (teamId, else
   * `defaultTeam`) is one of `teams`, or which list `memberId` among their members.
   */
  scope?: { teams: string[]; defaultTeam: string; memberId: string };
}

export interface SearchCursor { at: number; roomId: string; seq: number }

export interface SearchHit {
  roomId: string;
  roomKind: RoomKind;
  conversationId: string;
  seq: number;
  senderId: string;
  senderRole: Role;
  kind: MessageKind;
  text: string;
  at: number;
}

export interface AuditEntry {
  id: string;
  at: number;
  /** the token's sub that did it */
  actor: string;
  action: "erase_customer" | "export_customer" | "retention_purge";
  /** what it was done to: a customer id, a room kind */
  subject: string;
  /** counts, never contents */
  detail: Record<string, number>;
}

export interface AuditQuery {
  subject?: string;
  action?: AuditEntry["action"];
  /** entries before this id (paging, newest first) */
  before?: number;
  limit: number;
}
