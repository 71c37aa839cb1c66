import { RequestError } from "../server/errors";
import { may, seesNotes } from "../server/policy/permissions";
import type { RequestTable } from "../server/policy/requestTable";
import { checkText, isBlank, normaliseText } from "../server/policy/requests";
import { data, type ChatClient, type RoomContext } from "./context";
import type { Conversation } from "./Conversation";
import { checkWrapUp } from "../desk/wrapUp";
import { historyPage, pastConversations } from "./history";

/** A room that holds a conversation: every room kind. */
export interface ConversationHost extends RoomContext {
  readonly conversation: Conversation;
}

/** The chat requests every room answers (docs/protocol.md). */
export const conversationRequests: RequestTable<ConversationHost, ChatClient> = {
  send: {
    // a message carrying attachments may have no text of its own
    check: (payload, room) => ({
      ...payload,
      text: payload.attachments?.length && isBlank(normaliseText(payload.text)) ? "" : checkText(payload.text, room.services.config.maxTextCodePoints),
    }),
    action: "send",
    guard: ({ client, identity, payload }) => {
      const kind = payload.kind ?? "text";
      if (kind === "note" && !may(identity, "note")) { throw new RequestError("forbidden", "only agents and supervisors write notes"); }
      if (kind !== "note" && data(client).monitor) { throw new RequestError("forbidden", "a monitoring supervisor whispers (notes) only; barge in to write to the customer"); }
    },
    run: ({ room, identity, payload }) => room.serial(async () => {
      const stored = await room.conversation.transcript.append(identity, {
        id: payload.id, kind: payload.kind ?? "text", text: payload.text, attachments: payload.attachments, rich: payload.rich,
      });
      return { seq: stored.seq };
    }),
  },

  read: {
    run: ({ room, identity, payload }) => {
      const participant = room.conversation.active?.participants.get(identity.sub);
      if (!participant) { throw new RequestError("no_active_conversation", "no active conversation to read in"); }
      const seq = Math.min(payload.seq, room.state.lastSeq);
      if (seq > participant.readSeq) { participant.readSeq = seq; room.conversation.markDirty(); }
      room.conversation.idle.touch(identity.role);
      return {};
    },
  },

  typing: {
    run: ({ room, identity, payload }) => {
      const participant = room.conversation.active?.participants.get(identity.sub);
      if (!participant) { throw new RequestError("no_active_conversation", "no active conversation to type in"); }
      participant.typing = payload.typing;
      room.conversation.idle.touch(identity.role);
      return {};
    },
  },

  history: {
    action: "read_history",
    run: ({ room, identity, payload }) => historyPage(room.services.store, room.services.config, room.roomId, payload, {
      activeConversationId: room.conversation.active?.id ?? null, includeNotes: seesNotes(identity),
    }),
  },

  conversations: {
    action: "read_history",
    run: ({ room, payload }) => pastConversations(room.services.store, room.services.config, room.roomId, payload),
  },

  end: {
    action: "end",
    guard: ({ room, client, payload }) => {
      if (data(client).monitor) { throw new RequestError("forbidden", "a monitoring supervisor barges in before it ends the conversation"); }
      // a customer room's team may require a wrap-up reason (desk/wrapUp.ts)
      if (room.kind !== "team") { checkWrapUp(room.services.config, room.record.teamId, payload?.reason); }
    },
    run: ({ room, identity, payload }) => room.serial(async () => {
      if (!room.conversation.active) { throw new RequestError("no_active_conversation", "no active conversation to end"); }
      await room.conversation.end(payload?.reason || "ended_by_agent", identity.sub);
      return {};
    }),
  },
};
