import type { AttachmentRef, NewMessage } from "../store/types";
import { SEQ_MARK } from "../store/types";

/**
 * The outbox entry that delivers one staff message to one connector session
 * (docs/channels.md "Outbound"). It is written into the room's webhook outbox in the
 * same store step as the message (RoomStore.appendMessage's `events`), so the
 * dispatcher (server/webhooks/) delivers it durably, signed, retried and in order
 * with the room's other events, to the connector's endpoint instead of WEBHOOK_URLS.
 * The seq is only known inside that step: a template, like `message.stored`.
 */
export const CHANNEL_EVENT = "channel.message";

export interface DeliveryTarget {
  sessionId: string;
  type: string;
  address: string;
  /** the connector's own thread data, handed back */
  context: string;
}

/** What a delivery adds to the message: its attachments with URLs the connector (or its provider) fetches, the text fallback of rich content. */
export interface DeliveryExtras {
  attachments?: (AttachmentRef & { url: string })[];
  fallbackText?: string;
}

export function channelMessageEvent(roomId: string, message: NewMessage, target: DeliveryTarget, extras: DeliveryExtras = {}): string {
  const data = JSON.stringify({
    id: message.id, conversationId: message.conversationId, senderId: message.senderId, senderRole: message.senderRole,
    senderName: message.senderName, kind: message.kind, text: message.text, at: message.at,
    ...(extras.attachments?.length ? { attachments: extras.attachments } : {}),
    ...(message.rich ? { rich: message.rich, fallbackText: extras.fallbackText ?? message.text } : {}),
  });
  const channel = JSON.stringify({ sessionId: target.sessionId, type: target.type, address: target.address, context: target.context });
  // JSON text never holds a raw control character, so the mark cannot meet content
  return `{"id":${JSON.stringify(`${roomId}:`).slice(0, -1)}${SEQ_MARK}:${target.sessionId}","type":"${CHANNEL_EVENT}",`
    + `"roomId":${JSON.stringify(roomId)},"conversationId":${JSON.stringify(message.conversationId)},`
    + `"at":${JSON.stringify(message.at)},"channel":${channel},"data":{"seq":${SEQ_MARK},${data.slice(1)}}`;
}

/** What the dispatcher needs of a delivery it gave up on, to report it failed to the room. */
export interface GivenUpDelivery {
  roomId: string;
  sessionId: string;
  seq: number;
  /** `gave_up` or `no_endpoint` (server/channels/rules.ts FailureCode) */
  code: "gave_up" | "no_endpoint";
  /** the transport's detail: for staff only (a note), never the replicated state */
  reason: string;
}
