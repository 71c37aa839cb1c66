/**
 * The WhatsApp Business Cloud API shapes this connector reads and writes (the fields
 * covered are listed in docs/channels.md). Webhooks arrive as
 * `{ object: "whatsapp_business_account", entry: [{ id, changes: [{ field: "messages", value }] }] }`.
 */
export interface WebhookValue {
  messaging_product?: string;
  metadata?: { display_phone_number?: string; phone_number_id?: string };
  contacts?: { wa_id?: string; profile?: { name?: string } }[];
  messages?: InboundMessage[];
  statuses?: StatusUpdate[];
}

export interface InboundMessage {
  from: string;
  id: string;
  timestamp?: string;
  type: string;
  text?: { body?: string };
  button?: { text?: string; payload?: string };
  interactive?: { type?: string; button_reply?: { id?: string; title?: string }; list_reply?: { id?: string; title?: string; description?: string } };
  image?: Media;
  video?: Media;
  audio?: Media;
  document?: Media & { filename?: string };
}

/** A media object of an inbound message: its id is fetched with GET /{version}/{media-id}. */
export interface Media { id?: string; mime_type?: string; caption?: string }

/** The media of an inbound message, when it has one. */
export function inboundMedia(message: InboundMessage): (Media & { filename?: string }) | null {
  if (message.type === "image" || message.type === "video" || message.type === "audio" || message.type === "document") {
    const media = message[message.type];
    return media?.id ? media : null;
  }
  return null;
}

/** The Cloud API message type a file goes out as. */
export function outboundMediaType(type: string): "image" | "video" | "audio" | "document" {
  if (type === "image/jpeg" || type === "image/png") { return "image"; }
  if (type.startsWith("video/")) { return "video"; }
  if (type.startsWith("audio/")) { return "audio"; }
  return "document";
}

export interface StatusUpdate {
  id: string;
  status: string;
  timestamp?: string;
  recipient_id?: string;
  biz_opaque_callback_data?: string;
  errors?: { code?: number; title?: string; message?: string; error_data?: { details?: string } }[];
}

/** The text of an inbound message for the transcript; null for what carries none (reactions, locations, …). */
export function inboundText(message: InboundMessage): string | null {
  switch (message.type) {
    case "text": return message.text?.body ?? null;
    case "button": return message.button?.text ?? null;
    case "interactive": return message.interactive?.button_reply?.title ?? message.interactive?.list_reply?.title ?? null;
    // the file itself becomes an attachment (index.ts); its caption is the text
    case "image": case "video": case "audio": case "document": return message[message.type]?.caption ?? "";
    default: return null;
  }
}

/** What travels in `biz_opaque_callback_data` and comes back with every status of the message. */
export interface Callback { r: string; s: string; q: number }

export function parseCallback(raw: string | undefined): Callback | null {
  if (!raw) { return null; }
  try {
    const c = JSON.parse(raw);
    return typeof c?.r === "string" && typeof c?.s === "string" && Number.isInteger(c?.q) ? c : null;
  } catch {
    return null;
  }
}

/** The Cloud API's statuses mapped onto the connector API's. */
export function deliveryStatus(status: string): "sent" | "delivered" | "read" | "failed" | null {
  return status === "sent" || status === "delivered" || status === "read" || status === "failed" ? status : null;
}

export function failureReason(update: StatusUpdate): string {
  const error = update.errors?.[0];
  if (!error) { return "failed"; }
  return [error.code, error.title ?? error.message, error.error_data?.details].filter(Boolean).join(": ").slice(0, 200);
}
