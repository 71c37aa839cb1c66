import { timingSafeEqual } from "node:crypto";
import type express from "express";
import { logger } from "../logger";

export interface MonitorPolicy {
  user: string;
  password: string;
  /** room calls (any method, any arguments: dispose, disconnect, ...) and non-GETs */
  allowActions: boolean;
  /** failed logins per client address within `lockoutMs` before it is locked out for `lockoutMs` */
  maxFailures: number;
  lockoutMs: number;
}

/**
 * The guard in front of the Colyseus monitor. The monitor's API is plain GETs
 * (`/api/room/call?roomId&method&args` runs any room method), so a page on another
 * site could drive it through the operator's browser, which replays basic-auth
 * credentials: requests that say they come from elsewhere (Sec-Fetch-Site, or an
 * Origin that is not this host) are refused; room calls are refused unless
 * MONITOR_ALLOW_ACTIONS=true; guessing the password is slowed by a lockout per
 * client address.
 */
export function monitorGuard(policy: MonitorPolicy): express.RequestHandler {
  const expected = Buffer.from(`${policy.user}:${policy.password}`);
  const failures = new Map<string, { count: number; since: number; lockedUntil: number }>();

  return (req, res, next) => {
    if (crossSite(req)) {
      res.status(403).json({ code: "forbidden", message: "the monitor answers same-origin requests only" });
      return;
    }
    const now = Date.now();
    const ip = req.socket.remoteAddress ?? "unknown";
    const entry = failures.get(ip);
    if (entry && entry.lockedUntil > now) {
      res.set("Retry-After", String(Math.ceil((entry.lockedUntil - now) / 1000)));
      res.status(429).json({ code: "rate_limited", message: "too many failed logins, try again later" });
      return;
    }
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString() : "");
    if (!(given.length === expected.length && timingSafeEqual(given, expected))) {
      // a browser's first, credential-less request is not a guess
      if (header) { recordFailure(failures, ip, now, policy); }
      res.set("WWW-Authenticate", 'Basic realm="monitor"').status(401).json({ code: "auth_missing", message: "authentication required" });
      return;
    }
    failures.delete(ip);
    if (!policy.allowActions && (req.method !== "GET" && req.method !== "HEAD" || /^\/api\/room\/call\b/.test(req.path))) {
      res.status(403).json({ code: "forbidden", message: "the monitor is read-only (MONITOR_ALLOW_ACTIONS=true allows room calls)" });
      return;
    }
    next();
  };
}

function recordFailure(failures: Map<string, { count: number; since: number; lockedUntil: number }>, ip: string, now: number, policy: MonitorPolicy) {
  if (failures.size > 10_000) {
    for (const [k, v] of failures) { if (v.lockedUntil <= now && now - v.since > policy.lockoutMs) { failures.delete(k); } }
  }
  let entry = failures.get(ip);
  if (!entry || now - entry.since > policy.lockoutMs) { entry = { count: 0, since: now, lockedUntil: 0 }; failures.set(ip, entry); }
  entry.count++;
  if (entry.count >= policy.maxFailures) {
    entry.lockedUntil = now + policy.lockoutMs;
    entry.count = 0;
    entry.since = now;
    logger.warn({ ip, lockoutMs: policy.lockoutMs }, "monitor: login locked out after failed attempts");
  }
}

function crossSite(req: express.Request): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") { return true; }
  const origin = req.headers.origin;
  if (origin === undefined) { return false; }
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
