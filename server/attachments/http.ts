import type { IncomingMessage } from "node:http";
import express from "express";
import type { Identity } from "../auth";
import { newChannelCustomerId, CHANNEL_TYPE } from "../channels/rules";
import { AuthError, ChatError, HTTP_STATUS, RequestError, asChatError } from "../errors";
import { roomIdFor } from "../ids";
import { logger } from "../logger";
import { mayReadRoom, mayUseChannel } from "../policy/permissions";
import { KeyedRateLimiter } from "../policy/rateLimit";
import type { Services } from "../services";
import { guardStore } from "../store/guard";
import { ATTACHMENT_ID } from "./index";
import { largestUpload } from "./limits";

/**
 * The attachment routes (docs/channels.md "Attachments"):
 * - `POST /api/rooms/:roomId/attachments?name=` (raw body, its Content-Type the media
 *   type): customers of the room, staff and apps as the permission table's attachments row;
 * - `POST /api/channels/:type/attachments?address=&name=`: a connector, for the
 *   customer of that address (a file the customer sent on the channel);
 * - `GET /api/rooms/:roomId/attachments/:id`: a short-lived signed URL, to those allowed
 *   to read the room;
 * - `GET /attachments/:roomId/:id?exp=&sig=`: the bytes, for a valid URL only.
 * Upload bodies are not pre-read by the HTTP front (`uploadRoute`): they are read here,
 * counted against the channel's limit as they arrive.
 */
const ROOM_ID = /^(cc|pr)-[A-Za-z0-9_-]{1,64}$/;

/** The upload routes, whose bodies the HTTP front leaves to them (server/http/front.ts). */
export function uploadRoute(path: string): number | undefined {
  return /^\/api\/(rooms|channels)\/[^/]+\/attachments$/.test(path) ? largestUpload() : undefined;
}

function readUpload(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) { req.destroy(); reject(new RequestError("payload_too_large", `an attachment is at most ${limit} bytes`)); return; }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function mountAttachments(app: express.Application, services: Services) {
  const { config, verifier, store, attachments } = services;
  const limiter = new KeyedRateLimiter(config.appRequestsPerSecond, config.appRequestsPerSecond * 2);

  const handle = (fn: (req: express.Request, identity: Identity) => Promise<unknown>) =>
    async (req: express.Request, res: express.Response) => {
      try {
        const header = req.headers.authorization ?? "";
        const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
        if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.appRequestsPerSecond} requests per second`); }
        res.json(await fn(req, identity));
      } catch (e: any) {
        const error = asChatError(e) ?? new ChatError("internal", "internal error");
        if (error.code === "internal") { logger.error({ err: e?.message, path: req.path }, "attachments failed"); }
        if (!req.complete) { res.setHeader("connection", "close"); }
        res.status(HTTP_STATUS[error.code]).json(error.toReason());
      }
    };

  const readableRoom = async (req: express.Request, identity: Identity) => {
    const roomId = String(req.params.roomId);
    if (!ROOM_ID.test(roomId)) { throw new RequestError("invalid_payload", "roomId must be cc-<id> or pr-<id>"); }
    const room = await guardStore(() => store.getRoom(roomId), { roomId });
    if (!room) { throw new AuthError("room_not_found", `no room ${roomId}`); }
    if (!mayReadRoom(identity, room, config)) { throw new AuthError("forbidden", "not allowed to read this room"); }
    return room;
  };

  const body = async (req: express.Request, channel: string) => {
    const type = String(req.headers["content-type"] ?? "");
    // a body some JSON parser already read is of a type no channel accepts
    if (req.readableEnded) { throw new RequestError("invalid_payload", `${type} is not accepted as an attachment`); }
    const data = await readUpload(req, largestUpload());
    return { type, data, channel, name: typeof req.query.name === "string" ? req.query.name : undefined };
  };

  app.post("/api/rooms/:roomId/attachments", handle(async (req, identity) => {
    const room = await readableRoom(req, identity);
    // customers upload from their SDK connection, staff and apps from the console: the web's limits
    return attachments.upload({ roomId: room.roomId, ownerId: identity.sub, ...(await body(req, "web")) });
  }));

  app.post("/api/channels/:type/attachments", handle(async (req, identity) => {
    const type = String(req.params.type);
    if (!CHANNEL_TYPE.test(type) || !mayUseChannel(identity, type)) { throw new AuthError("forbidden", `this token may not act for channel ${type}`); }
    const address = typeof req.query.address === "string" ? req.query.address.trim() : "";
    if (!address || address.length > 256) { throw new RequestError("invalid_payload", "address: 1..256 characters"); }
    const customerId = await guardStore(() => store.resolveChannelAddress(type, address, newChannelCustomerId()));
    return attachments.upload({ roomId: roomIdFor.contactCenter(customerId), ownerId: customerId, ...(await body(req, type)) });
  }));

  app.get("/api/rooms/:roomId/attachments/:id", handle(async (req, identity) => {
    const room = await readableRoom(req, identity);
    const found = await attachments.find(room.roomId, String(req.params.id));
    if (!found) { throw new RequestError("not_found", "no such attachment in this room"); }
    return { id: found.id, name: found.name, type: found.type, size: found.size, ...attachments.url(room.roomId, found.id, config.attachmentUrlTtlSeconds) };
  }));

  app.get("/attachments/:roomId/:id", async (req, res) => {
    const roomId = String(req.params.roomId);
    const id = String(req.params.id);
    const refuse = (status: number, code: string, message: string) => res.status(status).json({ code, message });
    if (!ROOM_ID.test(roomId) || !ATTACHMENT_ID.test(id)) { refuse(404, "not_found", "no such attachment"); return; }
    if (!attachments.verify(roomId, id, String(req.query.exp ?? ""), String(req.query.sig ?? ""))) {
      refuse(403, "forbidden", "the link is not valid or has expired"); return;
    }
    try {
      const [found, data] = await Promise.all([attachments.find(roomId, id), attachments.bytes(roomId, id)]);
      if (!found || !data) { refuse(404, "not_found", "no such attachment"); return; }
      // never rendered as a page of ours: downloaded, not sniffed, sandboxed
      res.setHeader("content-type", found.type);
      res.setHeader("content-disposition", `attachment; filename*=UTF-8''${encodeURIComponent(found.name)}`);
      res.setHeader("x-content-type-options", "nosniff");
      res.setHeader("content-security-policy", "sandbox; default-src 'none'");
      res.setHeader("cache-control", "private, max-age=60");
      res.end(data);
    } catch (e: any) {
      logger.warn({ roomId, err: e?.message }, "attachment storage unavailable");
      refuse(503, "unavailable", "the attachment storage is unavailable, retry");
    }
  });
}
