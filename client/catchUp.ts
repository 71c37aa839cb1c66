import type { Answer, ChatMessage, Payload } from "./protocol";

type Ask = <T extends "history" | "conversations">(type: T, payload: Payload<T>) => Promise<Answer<T>>;

/**
 * Every stored message above `afterSeq` that the user may see, across conversations:
 * the seq is room-wide, so a message missed during an outage can be in the current
 * conversation or in ones that ended meanwhile (the last one seen, and any that began
 * and ended while the client was away). Pages through `history { after }` until a page
 * comes back short. Returns the messages (any order; the caller sorts and dedups).
 */
export async function fetchMissed(ask: Ask, afterSeq: number, lastConversationId: string | undefined, pageSize: number): Promise<ChatMessage[]> {
  const missed: ChatMessage[] = [];
  const page = async (conversationId: string | undefined): Promise<string | null> => {
    let cursor = afterSeq;
    for (;;) {
      const answer = await ask("history", { ...(conversationId ? { conversationId } : {}), after: cursor, limit: pageSize });
      for (const m of answer.messages) { missed.push(answer.conversationId ? { ...m, conversationId: answer.conversationId } : m); }
      if (answer.messages.length < pageSize) { return answer.conversationId; }
      cursor = answer.messages[answer.messages.length - 1].seq;
    }
  };
  // the default conversation: the active one, else the latest ended one
  const current = await page(undefined);
  if (afterSeq > 0 && lastConversationId !== undefined && lastConversationId !== current) {
    const { conversations } = await ask("conversations", { limit: 50 });
    for (const c of conversations) {
      if (c.id !== current && c.lastSeq > afterSeq) { await page(c.id); }
    }
  }
  return missed;
}
