import { randomUUID } from "node:crypto";
import type { ConversationState } from "../schema/ChatState";
import type { Identity } from "../server/auth";
import { RequestError } from "../server/errors";
import { guardStore } from "../server/store/guard";
import type { MessageKind, MessageRecord, RichContent } from "../server/store/types";
import { messageStoredEvent } from "../server/webhooks/events";
import { channelDeliveries } from "./channels";
import type { RoomContext } from "./context";
import type { Conversation } from "./Conversation";
import { HOLDING_ROLES } from "./lifecycleRules";
import { messageState } from "./mapping";

export interface Entry {
  /** the client's idempotency key (events get a fresh one) */
  id: string;
  kind: MessageKind;
  text: string;
  /** attachment ids: uploads of the sender in this room (server/attachments/) */
  attachments?: string[];
  rich?: RichContent;
}

/**
 * The one path into a conversation's transcript, for messages, notes and events
 * (transfer, conference, barge-in, handover): sequenced and stored with its
 * `message.stored` outbox event in one store step, then shown in the state's
 * window (notes only to the views that hold them) and pushed at once.
 */
export class Transcript {
  constructor(private readonly room: RoomContext, private readonly conversation: Conversation) {}

  /**
   * Appends under the room's serial queue (callers hold it). A message starts a
   * conversation when none is active; an event needs one.
   */
  async append(identity: Identity, entry: Entry, options: { asParticipant?: boolean } = {}): Promise<MessageRecord> {
    const { room } = this;
    // checked before anything is written: an unknown or foreign upload refuses the message
    const attachments = entry.attachments?.length ? await room.services.attachments.forMessage(room.roomId, identity.sub, entry.attachments) : undefined;
    let conversation = this.conversation.active;
    if (!conversation) {
      if (entry.kind === "event") { throw new RequestError("no_active_conversation", "no active conversation"); }
      if (room.kind === "contact_center" && HOLDING_ROLES.has(identity.role)) {
        // the customer starts a conversation (it goes through the queue); staff start one only on purpose
        throw new RequestError("no_active_conversation", "no active conversation: the customer starts one, or staff `start` one on purpose");
      }
      conversation = await this.conversation.start();
    }
    if (options.asParticipant) { this.conversation.addParticipant(conversation, identity); } else if (room.kind === "contact_center" && HOLDING_ROLES.has(identity.role) && entry.kind === "text") {
      // a tab left open on an earlier conversation does not write to this one's customer (notes: the whisper stays open)
      const participant = conversation.participants.get(identity.sub);
      if (!participant || participant.leftAt) { throw new RequestError("forbidden", "not in this conversation: accept its request first"); }
    }
    const message = {
      id: entry.id, conversationId: conversation.id, senderId: identity.sub, senderRole: identity.role,
      senderName: identity.name, kind: entry.kind, text: entry.text, at: Date.now(),
      ...(attachments ? { attachments } : {}), ...(entry.rich ? { rich: entry.rich } : {}),
    };
    const events = room.services.webhooks.enabled ? [messageStoredEvent(room.roomId, message)] : [];
    // staff messages to the customer's connector sessions, durable with the message (docs/channels.md)
    events.push(...channelDeliveries(room, conversation, message));
    const { message: stored, duplicate } = await guardStore(
      () => room.writer.appendMessage(message, events), { roomId: room.roomId });
    if (!duplicate) {
      this.addToWindow(conversation, stored);
      room.state.lastSeq = stored.seq;
      this.conversation.idle.touch(identity.role);
      room.broadcastPatch();
      room.fire("afterMessageStored", stored);
    }
    return stored;
  }

  /** An event in the transcript, sequenced like any message. */
  async event(identity: Identity, text: string): Promise<number> {
    return (await this.append(identity, { id: `evt-${randomUUID()}`, kind: "event", text })).seq;
  }

  addToWindow(conversation: ConversationState, message: MessageRecord) {
    const list = message.kind === "note" ? conversation.notes : conversation.messages;
    const item = messageState(message);
    list.push(item);
    // elements of a @view collection are visible only once added to a view
    if (message.kind === "note") { for (const client of this.room.clients) { client.view?.add(item); } }
    while (list.length > this.room.services.config.stateMessageWindow) { list.shift(); }
  }
}
