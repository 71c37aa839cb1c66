import { timingSafeEqual } from "node:crypto";
import http from "node:http";
import type express from "express";
import { logger } from "../logger";
import { registry } from "../metrics";

export interface MetricsPolicy {
  /** a scraper sends `Authorization: Bearer <token>`; empty: no token */
  token: string;
  /** serve /metrics on this port instead of the public one; 0: on the public port */
  port: number;
}

/**
 * Who may read /metrics: it names rooms, counts and timings, which is reconnaissance
 * for an attacker. With METRICS_TOKEN a bearer token is required; with METRICS_PORT
 * it is served on its own port (bind it to a private network) and not on the public
 * one; with neither, only loopback clients (a scraper on the same host, or a proxy
 * that does not forward /metrics) are answered.
 */
export function metricsAllowed(req: http.IncomingMessage, policy: MetricsPolicy): boolean {
  if (policy.token) {
    const header = String(req.headers.authorization ?? "");
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    const expected = Buffer.from(policy.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  if (policy.port) { return true; }
  return isLoopback(req.socket.remoteAddress);
}

export function isLoopback(address: string | undefined): boolean {
  return !!address && (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."));
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, policy: MetricsPolicy) {
  if (!metricsAllowed(req, policy)) {
    res.statusCode = policy.token ? 401 : 403;
    res.setHeader("content-type", "application/json; charset=utf-8");
    if (policy.token) { res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"'); }
    res.end(JSON.stringify({ code: policy.token ? "auth_invalid" : "forbidden", message: "metrics are for authorised scrapers" }));
    return;
  }
  res.setHeader("content-type", registry.contentType);
  res.end(await registry.metrics());
}

/** `GET /metrics` on the public app, unless it lives on its own port. */
export function mountMetrics(app: express.Application, policy: MetricsPolicy) {
  if (policy.port) { return; }
  app.get("/metrics", (req, res) => { void answer(req, res, policy); });
}

/** The separate metrics listener (METRICS_PORT), or nothing. */
export async function startMetricsServer(policy: MetricsPolicy): Promise<http.Server | undefined> {
  if (!policy.port) { return undefined; }
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url ?? "").split("?", 1)[0] === "/metrics") { void answer(req, res, policy); return; }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(policy.port, resolve));
  logger.info({ port: policy.port, bearer: !!policy.token }, "metrics on their own port");
  return server;
}
