import express from "express";
import type { Identity } from "../auth";
import { callRoom } from "../cluster/roomCalls";
import { AuthError, ChatError, HTTP_STATUS, RequestError, asChatError } from "../errors";
import { isId, roomIdFor } from "../ids";
import { logger } from "../logger";
import { mayUseChannel } from "../policy/permissions";
import { KeyedRateLimiter } from "../policy/rateLimit";
import type { Services } from "../services";
import { guardStore } from "../store/guard";
import type { RoomRecord } from "../store/types";
import type { GivenUpDelivery } from "./events";
import { CHANNEL_TYPE, newChannelCustomerId, providerMessageKey, type DeliveryStatus } from "./rules";
import { parseConnector } from "./schemas";

/**
 * The connector API (docs/channels.md): a connector process (`role: connector`, its
 * channel types in the token's `channels` claim) posts its customers' messages and
 * the delivery statuses of what it sent; applications link a channel address to a
 * customer. Messages reach the customer room's one actor by a remote room call
 * (server/cluster/roomCalls.ts), started when none runs, like the app API's posts.
 */
export function mountConnectorApi(app: express.Application, services: Services) {
  const { config, verifier, store } = services;
  const limiter = new KeyedRateLimiter(config.connectorRequestsPerSecond, config.connectorRequestsPerSecond * 2);
  const router = express.Router();
  router.use(express.json({ limit: config.maxRequestBytes }));

  const handle = (fn: (req: express.Request, identity: Identity) => Promise<unknown>) =>
    async (req: express.Request, res: express.Response) => {
      try {
        const header = req.headers.authorization ?? "";
        const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
        if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.connectorRequestsPerSecond} requests per second`); }
        res.json(await fn(req, identity));
      } catch (e: any) {
        const error = asChatError(e) ?? new ChatError("internal", "internal error");
        if (error.code === "internal") { logger.error({ err: e?.message, path: req.path }, "connector api failed"); }
        res.status(HTTP_STATUS[error.code]).json(error.toReason());
      }
    };

  /** The channel type of the path, checked against the token (the permission table's connector row). */
  const channelOf = (req: express.Request, identity: Identity) => {
    const type = String(req.params.type);
    if (!CHANNEL_TYPE.test(type)) { throw new RequestError("invalid_payload", "channel type must be a lowercase word"); }
    if (!mayUseChannel(identity, type)) { throw new AuthError("forbidden", `this token may not act for channel ${type}`); }
    return type;
  };

  const reach = (roomId: string, method: string, args: unknown[], create: RoomRecord | null) =>
    callRoom(roomId, "contact_center", method, args, create).catch((e: any) => {
      const refusal = asChatError(e);
      if (refusal) { throw refusal; }
      logger.warn({ roomId, err: e?.message }, "connector call: room unreachable");
      throw new RequestError("unavailable", "the room is unreachable, retry with the same message id");
    });

  router.post("/channels/:type/messages", handle(async (req, identity) => {
    const type = channelOf(req, identity);
    const body = parseConnector("inbound", req.body);
    const customerId = await guardStore(() => store.resolveChannelAddress(type, body.address, newChannelCustomerId()));
    const roomId = roomIdFor.contactCenter(customerId);
    const now = Date.now();
    // a customer room never exists without its customer: here the customer is the address' owner
    const create: RoomRecord = {
      roomId, kind: "contact_center", members: [], customers: [customerId], createdAt: now, lastActivityAt: now,
      activeConversationId: null, lastSeq: 0, pastConversations: 0, ...(body.teamId ? { teamId: body.teamId } : {}),
    };
    const answer = await reach(roomId, "postFromChannel", [{
      customerId, name: body.name, type, address: body.address,
      messageKey: providerMessageKey(type, body.messageId), text: body.text, context: body.context, attachments: body.attachments,
    }], create) as Record<string, unknown>;
    return { customerId, roomId, ...answer };
  }));

  router.post("/channels/:type/statuses", handle(async (req, identity) => {
    const type = channelOf(req, identity);
    const body = parseConnector("status", req.body);
    const room = await guardStore(() => store.getRoom(body.roomId), { roomId: body.roomId });
    if (!room) { throw new AuthError("room_not_found", `no room ${body.roomId}`); }
    return reach(body.roomId, "channelStatus", [{ type, sessionId: body.sessionId, seq: body.seq, status: body.status as DeliveryStatus, code: "provider_rejected", reason: body.reason }], null);
  }));

  // applications: one customer on several channels (the web widget's customer continues on WhatsApp)
  router.post("/customers/:customerId/channels", handle(async (req, identity) => {
    if (identity.role !== "app") { throw new AuthError("forbidden", "linking channel addresses is for applications (role app)"); }
    const customerId = String(req.params.customerId);
    if (!isId(customerId)) { throw new RequestError("invalid_payload", "customerId must match [A-Za-z0-9_-]{1,64}"); }
    const body = parseConnector("link", req.body);
    await guardStore(() => store.linkChannelAddress(body.type, body.address, customerId));
    return { customerId, type: body.type, address: body.address };
  }));

  router.use((err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.type === "entity.too.large") { res.status(413).json({ code: "payload_too_large", message: `body over ${config.maxRequestBytes} bytes` }); return; }
    if (err?.type === "entity.parse.failed") { res.status(400).json({ code: "invalid_payload", message: "body is not JSON" }); return; }
    next(err);
  });
  app.use("/api", router);
}

/** The wiring's answer to a channel delivery the outbox gave up on: the room shows it failed. */
export function reportGivenUp(delivery: GivenUpDelivery) {
  if (!delivery.roomId.startsWith("cc-")) { return; }
  callRoom(delivery.roomId, "contact_center", "channelStatus", [{ sessionId: delivery.sessionId, seq: delivery.seq, status: "failed", code: delivery.code, reason: delivery.reason }])
    .catch((e: any) => logger.warn({ roomId: delivery.roomId, err: e?.message }, "failed delivery could not be reported to the room"));
}
