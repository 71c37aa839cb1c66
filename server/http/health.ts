import { matchMaker } from "@colyseus/core";
import type express from "express";
import type Redis from "ioredis";

/** GET /health for load balancers and PM2 (/metrics: server/http/metricsAccess.ts). */
export function mountHealth(app: express.Application, redis: Redis | undefined) {
  app.get("/health", async (_req, res) => {
    const redisState = redis ? redis.status : "embedded";
    const ok = (!redis || redis.status === "ready") && matchMaker.state === matchMaker.MatchMakerState.READY;
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", redis: redisState, matchmaker: matchMaker.state });
  });
}
