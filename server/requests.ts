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
// Bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): they
// reorder what follows them, so a stored text could display differently from what it
// says ("Trojan Source"). The marks LRM, RLM and ALM stay: they only set the direction
// of neutral characters next to them, and mixed right-to-left text needs them.
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/g;
// What shows nothing: whitespace, zero-width characters (ZWSP, ZWNJ, ZWJ, word
// joiner, BOM) and the direction marks. Kept inside a text (ZWJ builds emoji, ZWNJ
// Persian words), but a text of nothing else is no text.
const INVISIBLE = /[\s\u200B-\u200F\u2060\uFEFF\u061C]/gu;

/**
 * The one normalisation of every text the server stores (messages, reasons, names
 * from tokens, subjects, channel addresses): controls, bidi controls and lone
 * surrogates removed, then NFC. Idempotent.
 */
export function normaliseText(text: string): string {
  return text.replace(CONTROL, "").replace(BIDI_CONTROL, "").normalize("NFC");
}

/** True when a (normalised) text shows nothing. */
export function isBlank(text: string): boolean {
  return text.replace(INVISIBLE, "").length === 0;
}

/**
 * A zod string field for a stored text: normalised, refused when blank or longer
 * than `max` code points. Every text field of a request, a join and a token uses it.
 */
export function textField(max: number) {
  return z.string().transform((raw, ctx) => {
    const text = normaliseText(raw);
    if (isBlank(text)) { ctx.addIssue({ code: "custom", message: "must not be empty" }); return z.NEVER; }
    if (codePoints(text) > max) { ctx.addIssue({ code: "custom", message: `at most ${max} characters` }); return z.NEVER; }
    return text;
  });
}

export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) { n++; }
  return n;
}

/** end, transfer, invite and handover reasons: stored in the conversation and its events */
const reason = textField(200);

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
  end: z.object({ reason: reason.optional() }).optional(),
  transfer: z.object({ toUserId: id.optional(), toTeamId: id.optional(), reason: reason.optional() }),
  invite: z.object({ userId: id, teamId: id.optional(), reason: reason.optional() }),
  handover: z.object({ reason: reason.optional() }).optional(),
  barge: z.object({}).optional(),
  accept: z.object({ requestId: z.string().regex(/^req-[0-9a-f-]{36}$/, "must be a request id") }),
  // a JWT (8 KiB is far above an honest one); verified like a join's in server/tokenExpiry.ts
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
  if (isBlank(text)) { throw new RequestError("invalid_payload", "send: text: must not be empty"); }
  const length = codePoints(text);
  if (length > maxCodePoints) {
    throw new RequestError("text_too_long", `send: text has ${length} code points, at most ${maxCodePoints} allowed`);
  }
  return text;
}
