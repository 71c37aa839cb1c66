import { RequestError } from "../server/errors";
import type { RequestTable } from "../server/policy/requestTable";
import { guardStore } from "../server/store/guard";
import type { CsatRecord } from "../server/store/types";
import { conversationRatedEvent } from "../server/webhooks/events";
import type { ChatClient } from "./context";
import type { ConversationHost } from "./requests";

/**
 * CSAT: after a conversation ended, its customer rates it (1 to 5, an optional
 * comment). The answer is stored with the conversation (so `conversations`, the HTTP
 * API and an export show it), announced as a `conversation.rated` webhook in the same
 * store step, and a new answer replaces the old one.
 */
export const csatRequests: RequestTable<ConversationHost, ChatClient> = {
  csat: {
    action: "rate",
    run: ({ room, identity, payload }) => room.serial(async () => {
      const store = room.services.store;
      const conversation = await guardStore(() => store.getConversation(room.roomId, payload.conversationId), { roomId: room.roomId });
      if (!conversation) { throw new RequestError("unknown_conversation", `csat: conversation ${payload.conversationId} is not this room's`); }
      if (!conversation.participants.some((p) => p.userId === identity.sub)) {
        throw new RequestError("forbidden", "csat: only a customer who took part rates a conversation");
      }
      const csat: CsatRecord = { rating: payload.rating, comment: payload.comment ?? "", by: identity.sub, at: Date.now() };
      const events = room.services.webhooks.enabled ? [conversationRatedEvent(room.roomId, conversation.id, csat)] : [];
      // through the room's writer: an actor that lost the room (a newer one took it) stores no rating
      await guardStore(() => room.writer.rateConversation(conversation.id, csat, events), { roomId: room.roomId });
      room.services.webhooks.written(room.roomId);
      return { rating: csat.rating, at: csat.at };
    }),
  },
};
