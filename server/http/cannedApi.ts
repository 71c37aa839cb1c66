import express from "express";
import { saveCanned } from "../../desk/canned";
import { AuthError, ChatError, HTTP_STATUS, RequestError, asChatError } from "../errors";
import { isId } from "../ids";
import { logger } from "../logger";
import { KeyedRateLimiter } from "../policy/rateLimit";
import { parseRequest } from "../policy/requests";
import type { Services } from "../services";
import { guardStore } from "../store/guard";

/**
 * A team's canned replies for applications (`role: app`): GET and PUT
 * /api/teams/:teamId/canned, the whole list at once, validated like the team room's
 * `canned_set` (desk/canned.ts), with the same bearer tokens and budget as the rest of
 * the HTTP API.
 */
export function mountCannedApi(app: express.Application, services: Services) {
  const { config, verifier, store } = services;
  const limiter = new KeyedRateLimiter(config.appRequestsPerSecond, config.appRequestsPerSecond * 2);
  const router = express.Router();
  router.use(express.json({ limit: config.maxRequestBytes }));

  const handle = (fn: (req: express.Request, teamId: string) => Promise<unknown>) => async (req: express.Request, res: express.Response) => {
    try {
      const header = req.headers.authorization ?? "";
      const identity = await verifier.verify(header.startsWith("Bearer ") ? header.slice(7) : undefined);
      if (identity.role !== "app") { throw new AuthError("forbidden", "the HTTP API is for applications (role app)"); }
      if (!limiter.take(identity.sub)) { throw new RequestError("rate_limited", `more than ${config.appRequestsPerSecond} requests per second`); }
      const teamId = String(req.params.teamId);
      if (!isId(teamId)) { throw new RequestError("invalid_payload", "teamId must match [A-Za-z0-9_-]{1,64}"); }
      res.json(await fn(req, teamId));
    } catch (e: any) {
      const error = asChatError(e) ?? new ChatError("internal", "internal error");
      if (error.code === "internal") { logger.error({ err: e?.message, path: req.path }, "canned api failed"); }
      res.status(HTTP_STATUS[error.code]).json(error.toReason());
    }
  };

  router.get("/teams/:teamId/canned", handle(async (_req, teamId) => ({ replies: await guardStore(() => store.loadCanned(teamId), { roomId: `team-${teamId}` }) })));
  router.put("/teams/:teamId/canned", handle((req, teamId) => saveCanned(store, teamId, parseRequest("canned_set", req.body).replies)));
  app.use("/api", router);
}
