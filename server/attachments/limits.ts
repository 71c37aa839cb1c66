/**
 * What may be uploaded, per channel (docs/channels.md "Attachments"): the media types
 * a channel takes and the largest file of each. An upload names the channel it comes
 * from: a customer's SDK connection (`web`, or the channel it joined with), staff and
 * applications (`web`: the agent console), a connector (its channel type). Pure.
 */
const MiB = 1024 * 1024;
const MB = 1000 * 1000;

export type ChannelLimits = Record<string, number>;

export const DEFAULT_LIMITS: Record<string, ChannelLimits> = {
  web: {
    "image/png": 10 * MiB, "image/jpeg": 10 * MiB, "image/gif": 10 * MiB, "image/webp": 10 * MiB,
    "application/pdf": 10 * MiB, "text/plain": 1 * MiB,
  },
  email: {
    "image/png": 10 * MiB, "image/jpeg": 10 * MiB, "image/gif": 10 * MiB, "application/pdf": 10 * MiB,
    "text/plain": 1 * MiB, "text/csv": 1 * MiB,
  },
  // the WhatsApp Cloud API's own limits for media it accepts
  whatsapp: {
    "image/jpeg": 5 * MB, "image/png": 5 * MB, "video/mp4": 16 * MB, "audio/ogg": 16 * MB, "audio/mpeg": 16 * MB,
    "application/pdf": 16 * MB, "text/plain": 16 * MB,
  },
};

/** Channels without a table of their own take the web's. */
export function limitsFor(channel: string, tables: Record<string, ChannelLimits> = DEFAULT_LIMITS): ChannelLimits {
  return tables[channel] ?? tables.web!;
}

/** The refusal of an upload, or null when it fits. `size` may be a declared length. */
export function uploadRefusal(channel: string, type: string, size: number, tables = DEFAULT_LIMITS): { code: "payload_too_large" | "invalid_payload"; message: string } | null {
  const limits = limitsFor(channel, tables);
  const max = limits[type];
  if (max === undefined) { return { code: "invalid_payload", message: `${type || "no type"} is not accepted on channel ${channel} (accepted: ${Object.keys(limits).join(", ")})` }; }
  if (size > max) { return { code: "payload_too_large", message: `${type} files on channel ${channel} are at most ${max} bytes` }; }
  if (size <= 0) { return { code: "invalid_payload", message: "an attachment must not be empty" }; }
  return null;
}

/** The largest file any channel takes: the HTTP front's cap for upload routes. */
export function largestUpload(tables = DEFAULT_LIMITS): number {
  return Math.max(...Object.values(tables).flatMap((t) => Object.values(t)));
}

/** A file name safe to store and to put in Content-Disposition: no paths, no controls, bounded. */
export function cleanFileName(raw: string | undefined): string {
  const base = String(raw ?? "").split(/[\\/]/).pop() ?? "";
  const clean = base.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"]/g, "").trim().slice(0, 200);
  return clean && clean !== "." && clean !== ".." ? clean : "attachment";
}
