import type express from "express";
import type { DependencyProbes } from "./probes";

/**
 * GET /health: what this node's dependencies answer (server/http/probes.ts), for
 * people and monitoring: `200` when Redis, the store and the matchmaker are all
 * fine, else `503`, with which one is down. GET /ready: the load balancer's check,
 * `200` or `503`; also `503` while the node drains after SIGTERM, so the balancer
 * stops sending it joins before it closes. Both answer within one probe timeout.
 * (/metrics: server/http/metricsAccess.ts.)
 */
export function mountHealth(app: express.Application, probes: DependencyProbes) {
  app.get("/health", async (_req, res) => {
    const report = await probes.report();
    // draining is now, not as of the (possibly cached) probe round
    res.status(report.status === "ok" ? 200 : 503).json({ ...report, draining: probes.draining });
  });
  app.get("/ready", async (_req, res) => {
    const report = await probes.report();
    const ready = report.status === "ok" && !probes.draining;
    res.status(ready ? 200 : 503).json({ ready, draining: probes.draining, down: probes.down() });
  });
}
