import type { Config } from "../server/config";
import { RequestError } from "../server/errors";
import { guardStore } from "../server/store/guard";
import type { ConversationRecord, MessageRecord, RoomStore } from "../server/store/types";

/**
 * Paging through a room's transcripts and past conversations: the `history` and
 * `conversations` requests of a room and the HTTP API's reads are this one code.
 */
export type PageConfig = Pick<Config, "historyPageMax" | "historyPageDefault">;

export function pageLimit(config: PageConfig, limit: number | undefined): number {
  if (limit === undefined) { return config.historyPageDefault; }
  if (limit > config.historyPageMax) {
    throw new RequestError("invalid_payload", `limit must be at most ${config.historyPageMax}`);
  }
  return limit;
}

export interface HistoryQuery {
  conversationId?: string;
  before?: number;
  after?: number;
  limit?: number;
}

export interface HistoryScope {
  /** the conversation the room holds now: it needs no existence check */
  activeConversationId: string | null;
  includeNotes: boolean;
}

/**
 * A page of one conversation's messages: the named one, else the active one, else
 * the room's newest past one (`conversationId: null` when the room has none).
 */
export async function historyPage(
  store: RoomStore, config: PageConfig, roomId: string, query: HistoryQuery, scope: HistoryScope,
): Promise<{ conversationId: string | null; messages: MessageRecord[] }> {
  const limit = pageLimit(config, query.limit);
  const conversationId = query.conversationId
    ?? scope.activeConversationId
    ?? (await guardStore(() => store.listConversations(roomId, { limit: 1 }), { roomId }))[0]?.id;
  if (!conversationId) { return { conversationId: null, messages: [] }; }
  if (conversationId !== scope.activeConversationId
    && !(await guardStore(() => store.getConversation(roomId, conversationId), { roomId }))) {
    throw new RequestError("unknown_conversation", `no conversation ${conversationId} in room ${roomId}`);
  }
  const messages = await guardStore(() => store.readMessages(roomId, conversationId, {
    before: query.before, after: query.after, limit, includeNotes: scope.includeNotes,
  }), { roomId });
  return { conversationId, messages };
}

/** The room's past conversations, newest first. */
export async function pastConversations(
  store: RoomStore, config: PageConfig, roomId: string, query: { before?: number; limit?: number },
): Promise<{ conversations: ConversationRecord[] }> {
  const limit = pageLimit(config, query.limit);
  const conversations = await guardStore(() => store.listConversations(roomId, { before: query.before, limit }), { roomId });
  return { conversations };
}
