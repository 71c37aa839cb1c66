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
  image?: { caption?: string };
  video?: { caption?: string };
  document?: { caption?: string; filename?: string };
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
    case "image": case "video": case "document": {
      const media = message[message.type];
      const caption = media?.caption ?? (message.type === "document" ? message.document?.filename : undefined);
      // the media itself is not fetched (attachments are not handled by this connector)
      return `[${message.type}]${caption ? ` ${caption}` : ""}`;
    }
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
