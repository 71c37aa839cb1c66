import { z } from "zod";
import { RequestError } from "../errors";
import { ID_PATTERN } from "../ids";
import { textField } from "../text";
import { CHANNEL_TYPE, DELIVERY_STATUSES } from "./rules";

/**
 * The connector API's bodies (docs/channels.md), validated like every request
 * (zod, unknown keys dropped, texts through the one normaliser). Message texts are
 * checked by the room (checkText, MAX_TEXT_CODE_POINTS) like any `send`.
 */
const id = z.string().regex(ID_PATTERN, "must match [A-Za-z0-9_-]{1,64}");

export const connectorSchemas = {
  inbound: z.object({
    /** the customer's address on the channel: a phone number, an email address */
    address: textField(256),
    /** the provider's id of the message (Message-ID, wamid): the idempotency key */
    messageId: z.string().min(1).max(998),
    text: z.string().max(64 * 1024),
    /** the customer's name as the provider gives it */
    name: textField(200).optional(),
    /** the connector's thread data, handed back with every delivery to this session */
    context: z.string().max(4096).optional(),
    /** the team whose queue serves a customer first seen here */
    teamId: id.optional(),
    /** files the customer sent, uploaded first (POST /api/channels/:type/attachments) */
    attachments: z.array(z.string().regex(/^att-[0-9a-f]{32}$/, "must be an attachment id")).max(10).optional(),
  }),
  status: z.object({
    roomId: z.string().regex(/^cc-[A-Za-z0-9_-]{1,64}$/, "must be cc-<customer id>"),
    sessionId: z.string().regex(/^chs-[0-9a-f-]{36}$/, "must be a channel session id"),
    seq: z.number().int().min(1),
    status: z.enum(DELIVERY_STATUSES as [string, ...string[]]),
    reason: textField(200).optional(),
  }),
  link: z.object({
    type: z.string().regex(CHANNEL_TYPE, "must be a lowercase word"),
    address: textField(256),
  }),
};

export function parseConnector<K extends keyof typeof connectorSchemas>(kind: K, body: unknown): z.infer<(typeof connectorSchemas)[K]> {
  const result = connectorSchemas[kind].safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new RequestError("invalid_payload", `${kind}: ${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
  }
  return result.data as z.infer<(typeof connectorSchemas)[K]>;
}
