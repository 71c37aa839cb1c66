import express from "express";
import { z } from "zod";
import type { Identity } from "../auth";
import { eraseCustomer } from "../cluster/erasure";
import { AuthError, ChatError, HTTP_STATUS, RequestError, asChatError } from "../errors";
import { ID_PATTERN } from "../ids";
import { logger } from "../logger";
import { KeyedRateLimiter } from "../policy/rateLimit";
import { searchScope } from "../policy/searchScope";
import type { Services } from "../services";
import { StoreError } from "../store/errors";
import type { Role } from "../store/types";

/**
 * The records routes of the HTTP API (docs/protocol.md "Records"): erasure and
 * export of one customer and the audit log for applications (`role: app`),
 * transcript search for applications and staff. Same bearer tokens, error shape and
 * per-caller budget as server/http/appApi.ts; statuses from server/errors.ts.
 */

const id = z.string().regex(ID_PATTERN, "must match [A-Za-z0-9_-]{1,64}");
const intParam = z.string().regex(/^\d{1,15}$/, "must be a whole number").transform(Number);

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new RequestError("invalid_payload", `${issue.path.join(".") || "value"}: ${issue.message}`);
  }
  return result.data;
}

export function mountRecordsApi(app: express.Application, services: Services) {
  const { config, verifier, store } = services;
  const limiter = new KeyedRateLimiter(config.appRequestsPerSecond, config.appRequestsPerSecond * 2);
  const router = express.Router();

  const handle = (roles: Role[], fn: (req: express.Request, identity: Identity) => Promise<unknown>) =>
    async (req: express.Request, res: express.Response) => {
      try {
        const header = req.headers.authorization ?? "";
        const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
        if (!roles.includes(identity.role)) { throw new AuthError("forbidden", `this route is for ${roles.join(", ")}`); }
        if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.appRequestsPerSecond} requests per second`); }
        res.json(await fn(req, identity));
      } catch (e: any) {
        // a store's refusal here is a failure of the call, except a store without records calls
        const error = e instanceof StoreError && e.kind !== "unsupported"
          ? new ChatError("unavailable", "the store is unavailable, retry")
          : asChatError(e) ?? new ChatError("internal", "internal error");
        if (error.code === "internal") { logger.error({ err: e?.message, path: req.path }, "records api failed"); }
        res.status(HTTP_STATUS[error.code]).json(error.toReason());
      }
    };

  router.delete("/customers/:customerId", handle(["app"], async (req, identity) => {
    const customerId = parse(id, req.params.customerId);
    const rooms = [`cc-${customerId}`, ...(await store.customerRooms(customerId))];
    const stored = await eraseCustomer(store, customerId);
    // their files go too (server/attachments/): after the rows, so no message points to a file that is gone
    const erased = { ...stored, attachments: await services.attachments.eraseCustomer(customerId, rooms) };
    const audit = await store.appendAudit({ at: Date.now(), actor: identity.sub, action: "erase_customer", subject: customerId, detail: { ...erased } });
    logger.info({ customerId, by: identity.sub, ...erased }, "customer erased");
    return { customerId, erased, auditId: audit.id };
  }));

  router.get("/customers/:customerId/export", handle(["app"], async (req, identity) => {
    const customerId = parse(id, req.params.customerId);
    const data = await store.exportCustomer(customerId);
    await store.appendAudit({
      at: Date.now(), actor: identity.sub, action: "export_customer", subject: customerId,
      detail: {
        rooms: data.rooms.length,
        conversations: data.rooms.reduce((n, r) => n + r.conversations.length, 0),
        messages: data.rooms.reduce((n, r) => n + r.conversations.reduce((m, c) => m + c.messages.length, 0), 0) + data.messagesElsewhere.length,
        channelAddresses: data.channelAddresses.length,
      },
    });
    return data;
  }));

  const auditQuery = z.object({
    subject: id.optional(),
    action: z.enum(["erase_customer", "export_customer", "retention_purge"]).optional(),
    before: intParam.optional(),
    limit: intParam.pipe(z.number().int().min(1).max(config.historyPageMax)).optional(),
  });
  router.get("/audit", handle(["app"], async (req) => {
    const q = parse(auditQuery, req.query);
    return { entries: await store.readAudit({ ...q, limit: q.limit ?? config.historyPageDefault }) };
  }));

  const searchQuery = z.object({
    q: z.string().min(1).max(200),
    before: intParam.optional(),
    limit: intParam.pipe(z.number().int().min(1).max(config.searchPageMax)).optional(),
    // the previous answer's `next`: `<at>.<roomId>.<seq>` (room ids hold no dots)
    cursor: z.string().regex(/^\d{1,15}\.(cc|pr|team)-[A-Za-z0-9_-]{1,64}\.\d{1,15}$/, "must be a `next` of a previous answer").optional(),
  });
  router.get("/search", handle(["app", "agent", "supervisor"], async (req, identity) => {
    const q = parse(searchQuery, req.query);
    const limit = q.limit ?? Math.min(20, config.searchPageMax);
    const [at, roomId, seq] = q.cursor?.split(".") ?? [];
    const hits = await store.searchMessages({
      q: q.q, before: q.before, limit, scope: searchScope(identity, config),
      after: q.cursor ? { at: Number(at), roomId, seq: Number(seq) } : undefined,
    });
    const last = hits[hits.length - 1];
    return { hits, next: hits.length === limit ? `${last.at}.${last.roomId}.${last.seq}` : null };
  }));

  app.use("/api", router);
}
