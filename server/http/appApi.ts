import express from "express";
import { historyPage, pastConversations } from "../../conversation/history";
import type { Identity } from "../auth";
import { callRoom } from "../cluster/roomCalls";
import { AuthError, ChatError, HTTP_STATUS, RequestError, asChatError } from "../errors";
import { logger } from "../logger";
import { KeyedRateLimiter } from "../policy/rateLimit";
import { checkText, parseRequest } from "../policy/requests";
import type { Services } from "../services";
import { guardStore } from "../store/guard";
import type { RoomRecord } from "../store/types";

/**
 * The REST API for applications (`role: app`, same JWT as `Authorization: Bearer`):
 * post a message into a customer room, list its conversations, read a transcript.
 * Same validation (server/policy/requests.ts), limits, paging (conversation/history.ts)
 * and error codes as the room requests, each code with its status (server/errors.ts);
 * a posted message goes through the room's one actor, so it is sequenced, stored and
 * delivered to connected clients like any other.
 */
const ROOM_ID = /^(cc|pr)-[A-Za-z0-9_-]{1,64}$/;
const TEAM_ROOM_ID = /^team-[A-Za-z0-9_-]{1,64}$/;

export function mountAppApi(app: express.Application, services: Services) {
  const { config, verifier, store } = services;
  const limiter = new KeyedRateLimiter(config.appRequestsPerSecond, config.appRequestsPerSecond * 2);
  const router = express.Router();
  router.use(express.json({ limit: config.maxRequestBytes }));

  const handle = (fn: (req: express.Request, identity: Identity, room: RoomRecord) => Promise<unknown>) =>
    async (req: express.Request, res: express.Response) => {
      try {
        const header = req.headers.authorization ?? "";
        const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
        if (identity.role !== "app") { throw new AuthError("forbidden", "the HTTP API is for applications (role app)"); }
        if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.appRequestsPerSecond} requests per second`); }
        const roomId = String(req.params.roomId);
        if (TEAM_ROOM_ID.test(roomId)) { throw new RequestError("forbidden", "apps use customer rooms only, not team rooms"); }
        if (!ROOM_ID.test(roomId)) { throw new RequestError("invalid_payload", "roomId must be cc-<id> or pr-<id>"); }
        const room = await guardStore(() => store.getRoom(roomId), { roomId });
        if (!room) { throw new AuthError("room_not_found", `no room ${roomId}`); }
        res.json(await fn(req, identity, room));
      } catch (e: any) {
        const error = asChatError(e) ?? new ChatError("internal", "internal error");
        if (error.code === "internal") { logger.error({ err: e?.message, path: req.path }, "app api failed"); }
        res.status(HTTP_STATUS[error.code]).json(error.toReason());
      }
    };

  const query = (req: express.Request) => Object.fromEntries(
    Object.entries(req.query).map(([k, v]) => [k, /^\d+$/.test(String(v)) ? Number(v) : v]),
  );

  router.post("/rooms/:roomId/messages", handle(async (req, identity, room) => {
    const payload = parseRequest("send", req.body);
    if (payload.kind === "note") { throw new RequestError("forbidden", "apps post text, not notes"); }
    checkText(payload.text, config.maxTextCodePoints);
    return callRoom(room.roomId, room.kind, "postFromApp", [identity, { id: payload.id, text: payload.text }]).catch((e: any) => {
      // the actor's own refusals ({ code }) are final; anything else: the room was unreachable
      const refusal = asChatError(e);
      if (refusal) { throw refusal; }
      logger.warn({ roomId: room.roomId, err: e?.message }, "app post: room unreachable");
      throw new RequestError("unavailable", "the room is unreachable, retry with the same id");
    });
  }));

  router.get("/rooms/:roomId/conversations", handle(async (req, _identity, room) => {
    return pastConversations(store, config, room.roomId, parseRequest("conversations", query(req)));
  }));

  router.get("/rooms/:roomId/conversations/:conversationId/messages", handle(async (req, _identity, room) => {
    const q = parseRequest("history", { ...query(req), conversationId: req.params.conversationId });
    // applications are the contact center's own systems (CRM): they read notes too;
    // no conversation counts as active here, so the named one must exist
    return historyPage(store, config, room.roomId, q, { activeConversationId: null, includeNotes: true });
  }));

  // a body over the limit or bad JSON: the same JSON errors
  router.use((err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.type === "entity.too.large") { res.status(413).json({ code: "payload_too_large", message: `body over ${config.maxRequestBytes} bytes` }); return; }
    if (err?.type === "entity.parse.failed") { res.status(400).json({ code: "invalid_payload", message: "body is not JSON" }); return; }
    next(err);
  });
  app.use("/api", router);
}
