import type { ConversationRecord, CsatRecord, NewMessage } from "../store/types";
import { SEQ_MARK } from "../store/types";

/**
 * The serialised webhook events a room writes into its outbox in the same store
 * step as the record each announces (docs/webhooks.md for the format). A message's
 * seq is only known inside that step, so its event is a template: the store puts
 * the seq where SEQ_MARK stands (`fillSeq`).
 */

export function conversationStartedEvent(conversation: ConversationRecord): string {
  return JSON.stringify({
    id: `${conversation.id}:started`, type: "conversation.started", roomId: conversation.roomId,
    conversationId: conversation.id, at: conversation.startedAt, data: conversation,
  });
}

export function conversationEndedEvent(conversation: ConversationRecord): string {
  return JSON.stringify({
    id: `${conversation.id}:ended`, type: "conversation.ended", roomId: conversation.roomId,
    conversationId: conversation.id, at: conversation.endedAt, data: conversation,
  });
}

/** `conversation.rated`: a customer's CSAT answer; a later answer is a new event (its time is in the id). */
export function conversationRatedEvent(roomId: string, conversationId: string, csat: CsatRecord): string {
  return JSON.stringify({
    id: `${conversationId}:rated:${csat.at}`, type: "conversation.rated", roomId, conversationId, at: csat.at, data: csat,
  });
}

/** `message.stored`, id `<roomId>:<seq>`, data the stored message. */
export function messageStoredEvent(roomId: string, message: NewMessage): string {
  const data = JSON.stringify({
    id: message.id, conversationId: message.conversationId, senderId: message.senderId, senderRole: message.senderRole,
    senderName: message.senderName, kind: message.kind, text: message.text, at: message.at,
    ...(message.attachments?.length ? { attachments: message.attachments } : {}), ...(message.rich ? { rich: message.rich } : {}),
  });
  // JSON text never holds a raw control character, so the mark cannot meet content
  return `{"id":${JSON.stringify(`${roomId}:`).slice(0, -1)}${SEQ_MARK}","type":"message.stored",`
    + `"roomId":${JSON.stringify(roomId)},"conversationId":${JSON.stringify(message.conversationId)},`
    + `"at":${JSON.stringify(message.at)},"data":{"seq":${SEQ_MARK},${data.slice(1)}}`;
}

export { fillSeq } from "../store/types";
