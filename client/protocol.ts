/**
 * The server's protocol as types (docs/protocol.md, docs/desk.md): what each request
 * takes and answers, and the events a room sends. The server validates everything
 * again; these types only keep a client from writing a request the server would refuse
 * for its shape.
 */

export type Role = "customer" | "agent" | "supervisor" | "bot" | "app" | "connector";

/** One stored message as the library delivers it: the state's or history's row, plain. */
export interface ChatMessage {
  seq: number;
  id: string;
  senderId: string;
  senderRole: string;
  senderName: string;
  kind: string;
  text: string;
  at: number;
  /** the conversation it belongs to, when known (always for history rows) */
  conversationId?: string;
  /** files it carries; their URLs come from GET /api/rooms/:roomId/attachments/:id (docs/channels.md) */
  attachments?: { id: string; name: string; type: string; size: number }[];
  /** quick replies and cards; `text` is their plain fallback */
  rich?: RichContent;
}

export interface RichContent {
  quickReplies?: { id: string; title: string }[];
  cards?: { title: string; subtitle?: string; imageUrl?: string; buttons?: { id: string; title: string; url?: string }[] }[];
}

export interface ConversationSummary {
  id: string;
  firstSeq: number;
  lastSeq: number;
  messageCount: number;
  startedAt: number;
  endedAt?: number;
  endReason?: string;
  endedBy?: string;
  /** the customer's rating after the end (`csat`) */
  csat?: { rating: number; comment: string; by: string; at: number };
  [more: string]: unknown;
}

export type AgentStatus = "available" | "busy" | "away" | "not_ready";

/** A conversation's lifecycle (docs/desk.md, "A conversation"). */
export type ConversationStatus = "queued" | "bot" | "active" | "on_hold" | "wrap_up" | "ended";

export interface Requests {
  send: { payload: { id: string; text: string; kind?: "text" | "note"; attachments?: string[]; rich?: RichContent }; answer: { seq: number } };
  read: { payload: { seq: number }; answer: Record<string, never> };
  typing: { payload: { typing: boolean }; answer: Record<string, never> };
  history: {
    payload: { conversationId?: string; before?: number; after?: number; limit?: number };
    answer: { conversationId: string | null; messages: ChatMessage[] };
  };
  conversations: { payload: { before?: number; limit?: number }; answer: { conversations: ConversationSummary[] } };
  refresh: { payload: { token: string }; answer: { exp: number } };
  end: { payload: { reason?: string }; answer: Record<string, never> };
  transfer: { payload: { toUserId?: string; toTeamId?: string; reason?: string }; answer: { requestId: string; seq: number } };
  invite: { payload: { userId: string; teamId?: string; reason?: string }; answer: { requestId: string; seq: number } };
  handover: { payload: { reason?: string }; answer: { requestId: string; seq: number } };
  barge: { payload: Record<string, never>; answer: { seq: number } };
  accept: {
    payload: { requestId: string };
    answer: { requestId: string; kind: string; roomId: string; roomKind: string; customerId: string; conversationId: string };
  };
  status: { payload: { status: AgentStatus; reason?: string; maxConversations?: number }; answer: { maxConversations: number } };
  /** an agent starts a conversation on purpose (outbound follow-up) */
  start: { payload: Record<string, never>; answer: { conversationId: string } };
  /** a waiting customer leaves an email for the follow-up */
  follow_up: { payload: { email: string }; answer: { seq: number } };
  canned: { payload: Record<string, never>; answer: { replies: Array<{ shortcut: string; text: string }> } };
  canned_set: { payload: { replies: Array<{ shortcut: string; text: string }> }; answer: { replies: Array<{ shortcut: string; text: string }> } };
  wrap_up_reasons: { payload: Record<string, never>; answer: { reasons: string[]; required: boolean } };
  csat: { payload: { conversationId: string; rating: number; comment?: string }; answer: { rating: number; at: number } };
}

export type RequestType = keyof Requests;
export type Payload<T extends RequestType> = Requests[T]["payload"];
export type Answer<T extends RequestType> = Requests[T]["answer"];

/** A queue entry of a team room (`offer`, `escalated`). */
export interface TeamRequest {
  id: string;
  kind: "new" | "requeue" | "transfer" | "conference" | "handover";
  roomId: string;
  roomKind: string;
  customerId: string;
  conversationId: string;
  targetUserId?: string;
  fromUserId?: string;
  reason?: string;
  forBot: boolean;
  createdAt: number;
  escalated: boolean;
  offeredAt?: number;
  followUp?: boolean;
  [more: string]: unknown;
}

/** Messages the server sends to one client or all (`room.onMessage`). */
export interface ServerEvents {
  conversation_ended: { conversationId: string; reason: string };
  token_expiring: { exp: number };
  error: { type?: string; code: string; message: string };
  offer: TeamRequest;
  escalated: TeamRequest;
}

export type ServerEventType = keyof ServerEvents;

/** Room names and the join options of each (docs/protocol.md "Joining"). */
export interface JoinOptions {
  contact_center:
    | { channel?: { type: string; address?: string }; teamId?: string }
    | { customerId: string; mode?: "monitor" };
  private: { customers?: string[]; subject?: string; teamId?: string } | { roomId: string };
  team: { teamId: string };
}

export type RoomName = keyof JoinOptions;

/** Close codes the library acts on (docs/protocol.md "Close codes"). */
export const CLOSE = {
  CONSENTED: 4000,
  SERVER_SHUTDOWN: 4001,
  WITH_ERROR: 4002,
  /** the server's token expiry, and the SDK's own "reconnection failed" */
  TOKEN_EXPIRED: 4003,
  SLOW_READER: 4008,
  ABNORMAL: 1006,
} as const;
