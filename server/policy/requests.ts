import { z } from "zod";
import { ID_PATTERN } from "../ids";
import { RequestError } from "../errors";
import { codePoints, isBlank, normaliseText, textField } from "../text";

/**
 * Validators of the contract's request payloads. Each returns the parsed payload or
 * throws a RequestError with a stable code; unknown keys are dropped, never trusted.
 */

const id = z.string().regex(ID_PATTERN, "must match [A-Za-z0-9_-]{1,64}");
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const limit = z.number().int().min(1);

// the text rules live with the base layer, where tokens (server/auth.ts) use them too
export { codePoints, isBlank, normaliseText, textField } from "../text";

/** Quick replies and cards of a message (docs/channels.md "Rich messages"): bounded, texts normalised. */
const richContent = z.object({
  quickReplies: z.array(z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), title: textField(20) })).min(1).max(10).optional(),
  cards: z.array(z.object({
    title: textField(80),
    subtitle: textField(200).optional(),
    imageUrl: z.string().url().regex(/^https:\/\//, "must be https").max(1000).optional(),
    buttons: z.array(z.object({
      id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), title: textField(20),
      url: z.string().url().regex(/^https:\/\//, "must be https").max(1000).optional(),
    })).max(3).optional(),
  })).min(1).max(10).optional(),
}).refine((r) => r.quickReplies || r.cards, "quickReplies or cards");
const cannedReply = z.object({ shortcut: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must match [A-Za-z0-9_-]{1,32}"), text: textField(1000) });

/** end, transfer, invite and handover reasons: stored in the conversation and its events */
const reason = textField(200);

export const schemas = {
  send: z.object({
    id, text: z.string(), kind: z.enum(["text", "note"]).optional(),
    // uploads of the sender in this room (server/attachments/); with some, the text may be empty
    attachments: z.array(z.string().regex(/^att-[0-9a-f]{32}$/, "must be an attachment id")).max(10).optional(),
    // quick replies and cards (server/channels/rich.ts); the text is their plain fallback
    rich: richContent.optional(),
  }),
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
  // a JWT (8 KiB is far above an honest one); verified like a join's in server/policy/tokenExpiry.ts
  refresh: z.object({ token: z.string().min(1).max(8192) }),
  status: z.object({
    status: z.enum(["available", "busy", "away", "not_ready"]),
    // why not ready (break, training...): shown to supervisors; cleared by any other status
    reason: z.string().regex(/^[a-z0-9_-]{1,32}$/, "must be 1..32 of [a-z0-9_-]").optional(),
    maxConversations: z.number().int().min(1).max(50).optional(),
  }),
  // an agent starts a conversation on purpose (an outbound follow-up)
  start: z.object({}).optional(),
  // a waiting customer leaves an email for the asynchronous follow-up
  follow_up: z.object({ email: z.string().max(254).email() }),
  // the customer's rating of an ended conversation (conversation/csat.ts)
  csat: z.object({ conversationId: id, rating: z.number().int().min(1).max(5), comment: textField(1000).optional() }),
  // a team's canned replies (desk/canned.ts, server/http/cannedApi.ts)
  canned: z.object({}).optional(),
  canned_set: z.object({ replies: z.array(cannedReply).max(100) }),
  // the wrap-up reasons of the team room's team (desk/wrapUp.ts)
  wrap_up_reasons: z.object({}).optional(),
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
