import { z } from "zod";
import { ID_PATTERN } from "./ids";
import { RequestError } from "./errors";

/**
 * Validators of the contract's request payloads. Each returns the parsed payload or
 * throws a RequestError with a stable code; unknown keys are dropped, never trusted.
 */

const id = z.string().regex(ID_PATTERN, "must match [A-Za-z0-9_-]{1,64}");
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const limit = z.number().int().min(1);

// C0/C1 controls except tab and newline, plus lone surrogates (invalid UTF-16).
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Removes control characters and normalises to NFC; the result is what is stored. */
export function normaliseText(text: string): string {
  return text.replace(CONTROL, "").normalize("NFC");
}

export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) { n++; }
  return n;
}

export const schemas = {
  send: z.object({ id, text: z.string(), kind: z.enum(["text", "note"]).optional() }),
  read: z.object({ seq }),
  typing: z.object({ typing: z.boolean() }),
  history: z.object({
    conversationId: id.optional(),
    before: seq.optional(),
    after: seq.optional(),
    limit: limit.optional(),
  }),
  conversations: z.object({ before: seq.optional(), limit: limit.optional() }),
  end: z.object({ reason: z.string().max(200).optional() }).optional(),
  transfer: z.object({ toUserId: id.optional(), toTeamId: id.optional(), reason: z.string().max(200).optional() }),
  invite: z.object({ userId: id, teamId: id.optional(), reason: z.string().max(200).optional() }),
  handover: z.object({ reason: z.string().max(200).optional() }).optional(),
  barge: z.object({}).optional(),
  accept: z.object({ requestId: z.string().regex(/^req-[0-9a-f-]{36}$/, "must be a request id") }),
  // a JWT, bounded like the text a handshake could carry; verified in server/tokenExpiry.ts
  refresh: z.object({ token: z.string().min(1).max(8192) }),
  status: z.object({ status: z.enum(["available", "busy", "away"]), maxConversations: z.number().int().min(1).max(50).optional() }),
};

export type RequestType = keyof typeof schemas;
export type Payload<T extends RequestType> = z.infer<(typeof schemas)[T]>;

export function parseRequest<T extends RequestType>(type: T, payload: unknown): Payload<T> {
  const result = schemas[type].safeParse(payload);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "payload";
    throw new RequestError("invalid_payload", `${type}: ${where}: ${issue?.message ?? "invalid"}`);
  }
  return result.data as Payload<T>;
}

/** Normalises and bounds a message text. */
export function checkText(raw: string, maxCodePoints: number): string {
  const text = normaliseText(raw);
  if (text.trim().length === 0) { throw new RequestError("invalid_payload", "send: text: must not be empty"); }
  const length = codePoints(text);
  if (length > maxCodePoints) {
    throw new RequestError("text_too_long", `send: text has ${length} code points, at most ${maxCodePoints} allowed`);
  }
  return text;
}
