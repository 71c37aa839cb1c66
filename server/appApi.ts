import express from "express";
import { callRoom } from "../rooms/teamLink";
import { AuthError, type Identity } from "./auth";
import type { Config } from "./config";
import { getServices } from "./context";
import { RequestError } from "./errors";
import { logger } from "./logger";
import { KeyedRateLimiter } from "./rateLimit";
import { checkText, parseRequest } from "./requests";
import type { RoomRecord } from "./store/types";

/**
 * The REST API for applications (`role: app`, same JWT as `Authorization: Bearer`):
 * post a message into a customer room, list its conversations, read a transcript.
 * Same validation (server/requests.ts), limits and error codes as the room requests;
 * a posted message goes through the room's one actor, so it is sequenced, stored and
 * delivered to connected clients like any other.
 */
const ROOM_ID = /^(cc|pr)-[A-Za-z0-9_-]{1,64}$/;
const TEAM_ROOM_ID = /^team-[A-Za-z0-9_-]{1,64}$/;
const STATUS: Record<string, number> = {
  invalid_payload: 400, text_too_long: 400, payload_too_large: 413, auth_missing: 401, auth_invalid: 401,
  auth_expired: 401, forbidden: 403, room_not_found: 404, unknown_conversation: 404, rate_limited: 429,
  unavailable: 503, no_active_conversation: 409,
};

export function mountAppApi(app: express.Application, config: Config) {
  const limiter = new KeyedRateLimiter(config.appRequestsPerSecond, config.appRequestsPerSecond * 2);
  const router = express.Router();
  router.use(express.json({ limit: config.maxRequestBytes }));

  const handle = (fn: (req: express.Request, identity: Identity, room: RoomRecord) => Promise<unknown>) =>
    async (req: express.Request, res: express.Response) => {
      try {
        const { verifier, store } = getServices();
        const header = req.headers.authorization ?? "";
        const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
        if (identity.role !== "app") { throw new AuthError("forbidden", "the HTTP API is for applications (role app)"); }
        if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.appRequestsPerSecond} requests per second`); }
        const roomId = String(req.params.roomId);
        if (TEAM_ROOM_ID.test(roomId)) { throw new RequestError("forbidden", "apps use customer rooms only, not team rooms"); }
        if (!ROOM_ID.test(roomId)) { throw new RequestError("invalid_payload", "roomId must be cc-<id> or pr-<id>"); }
        const room = await store.getRoom(roomId);
        if (!room) { throw new AuthError("room_not_found", `no room ${roomId}`); }
        res.json(await fn(req, identity, room));
      } catch (e: any) {
        const code: string = e instanceof AuthError ? e.reason : (typeof e?.code === "string" ? e.code : "internal");
        const message = e instanceof AuthError ? e.message.slice(e.reason.length + 2) : (e?.message ?? "internal error");
        if (code === "internal") { logger.error({ err: e?.message, path: req.path }, "app api failed"); }
        res.status(STATUS[code] ?? 500).json({ code, message: code === "internal" ? "internal error" : message });
      }
    };

  const query = (req: express.Request) => Object.fromEntries(
    Object.entries(req.query).map(([k, v]) => [k, /^\d+$/.test(String(v)) ? Number(v) : v]),
  );
  const pageLimit = (limit: number | undefined) => {
    if (limit !== undefined && limit > config.historyPageMax) { throw new RequestError("invalid_payload", `limit must be at most ${config.historyPageMax}`); }
    return limit ?? config.historyPageDefault;
  };

  router.post("/rooms/:roomId/messages", handle(async (req, identity, room) => {
    const payload = parseRequest("send", req.body);
    if (payload.kind === "note") { throw new RequestError("forbidden", "apps post text, not notes"); }
    checkText(payload.text, config.maxTextCodePoints);
    return callRoom(room.roomId, room.kind, "postFromApp", [identity, { id: payload.id, text: payload.text }]).catch((e: any) => {
      // the actor's own refusals ({ code }) are final; anything else: the room was unreachable
      if (typeof e?.code === "string") { throw e; }
      logger.warn({ roomId: room.roomId, err: e?.message }, "app post: room unreachable");
      throw new RequestError("unavailable", "the room is unreachable, retry with the same id");
    });
  }));

  router.get("/rooms/:roomId/conversations", handle(async (req, _identity, room) => {
    const q = parseRequest("conversations", query(req));
    const conversations = await getServices().store.listConversations(room.roomId, { before: q.before, limit: pageLimit(q.limit) });
    return { conversations };
  }));

  router.get("/rooms/:roomId/conversations/:conversationId/messages", handle(async (req, _identity, room) => {
    const q = parseRequest("history", { ...query(req), conversationId: req.params.conversationId });
    const store = getServices().store;
    if (!(await store.getConversation(room.roomId, q.conversationId!))) {
      throw new RequestError("unknown_conversation", `no conversation ${q.conversationId} in ${room.roomId}`);
    }
    // applications are the contact center's own systems (CRM): they read notes too
    const messages = await store.readMessages(room.roomId, q.conversationId!, {
      before: q.before, after: q.after, limit: pageLimit(q.limit), includeNotes: true,
    });
    return { conversationId: q.conversationId, messages };
  }));

  // a body over the limit or bad JSON: the same JSON errors
  router.use((err: any, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err?.type === "entity.too.large") { res.status(413).json({ code: "payload_too_large", message: `body over ${config.maxRequestBytes} bytes` }); return; }
    if (err?.type === "entity.parse.failed") { res.status(400).json({ code: "invalid_payload", message: "body is not JSON" }); return; }
    next(err);
  });
  app.use("/api", router);
}
