import type express from "express";
import { alwaysHeld, type Lease } from "../cluster/lease";
import type { DependencyProbes, HealthReport } from "./probes";

/**
 * Whether a load balancer should send this node joins: its dependencies answer, it
 * is not draining, and it holds its process lease (after a lapse its actors stopped,
 * and until the next renewal it would only make joiners wait: docs/cluster.md).
 */
export function readiness(report: Pick<HealthReport, "status">, draining: boolean, leaseHeld: boolean) {
  return { ready: report.status === "ok" && !draining && leaseHeld, draining, lease: leaseHeld ? "held" as const : "lapsed" as const };
}

/**
 * GET /health: what this node's dependencies answer (server/http/probes.ts), for
 * people and monitoring: `200` when Redis, the store and the matchmaker are all
 * fine, else `503`, with which one is down. GET /ready: the load balancer's check,
 * `200` or `503`; also `503` while the node drains after SIGTERM, so the balancer
 * stops sending it joins before it closes, and while the process lease is lapsed.
 * Both answer within one probe timeout.
 * (/metrics: server/http/metricsAccess.ts.)
 */
export function mountHealth(app: express.Application, probes: DependencyProbes, lease: Lease = alwaysHeld) {
  app.get("/health", async (_req, res) => {
    const report = await probes.report();
    // draining is now, not as of the (possibly cached) probe round
    res.status(report.status === "ok" ? 200 : 503).json({ ...report, draining: probes.draining, lease: lease.valid() ? "held" : "lapsed" });
  });
  app.get("/ready", async (_req, res) => {
    const report = await probes.report();
    const verdict = readiness(report, probes.draining, lease.valid());
    res.status(verdict.ready ? 200 : 503).json({ ...verdict, down: probes.down() });
  });
}
