import type { IncomingMessage, Server, ServerResponse } from "node:http";
import express from "express";
import { readBodyWithin } from "./bodyLimit";
import { corsFront, disableColyseusCors } from "./cors";
import { firstLine, logGarbage } from "./garbageLog";
import { refuse, routeOf } from "./respond";
import { securityHeaders } from "./securityHeaders";

export interface FrontPolicy {
  bodyMaxBytes: number;
  /** the app API's own, smaller cap (MAX_REQUEST_BYTES) */
  apiBodyMaxBytes: number;
  corsOrigins: string[];
  publicAddress: string;
  /** routes that read their own bodies (attachment uploads), with their cap; undefined: pre-read here */
  streamedBodyMaxBytes?: (path: string) => number | undefined;
}

/**
 * Puts the HTTP policy in front of every request listener Colyseus and express put on
 * the server (the same take-over Colyseus' own `prereadRequestBodies` does): security
 * headers, CORS by path, then the body read under its cap. Call it once the server
 * listens (Colyseus binds its routes in the listen callback).
 */
export function installHttpFront(server: Server, policy: FrontPolicy) {
  disableColyseusCors();
  const setSecurityHeaders = securityHeaders(policy.publicAddress);
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  const run = (req: IncomingMessage, res: ServerResponse) => {
    for (const listener of listeners) { listener.call(server, req, res); }
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    setSecurityHeaders(req, res);
    if (corsFront(req, res, path, policy.corsOrigins)) { return; }
    const streamed = req.method === "POST" ? policy.streamedBodyMaxBytes?.(path) : undefined;
    if (streamed !== undefined) {
      // the route counts the bytes itself; a declared length or an encoding is refused here, unread
      const encoding = String(req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
      if (encoding !== "identity" && encoding !== "") { refuse(req, res, 415, "unsupported_encoding", "request bodies are accepted without Content-Encoding only", true); return; }
      if (Number(req.headers["content-length"]) > streamed) { refuse(req, res, 413, "payload_too_large", `body over ${streamed} bytes`, true); return; }
      run(req, res);
      return;
    }
    const max = path.startsWith("/api/") ? Math.min(policy.bodyMaxBytes, policy.apiBodyMaxBytes) : policy.bodyMaxBytes;
    readBodyWithin(req, res, max, () => run(req, res));
  });
}

/** After every route: a JSON 404, not express' HTML page (which also replaces the CSP). */
export function jsonNotFound(): express.RequestHandler {
  return (req, res) => { res.status(404).json({ code: "not_found", message: `no route ${req.method} ${routeOf(req)}` }); };
}

/**
 * The last express error handler: whatever an express route or parser throws is
 * answered as JSON `{ code, message }` and logged as one short line, not as the
 * default HTML page with a stack.
 */
export function jsonErrors(): express.ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = Number(err?.status ?? err?.statusCode) || 500;
    if (status >= 500) {
      logGarbage("http_error", firstLine(err), { status, route: routeOf(req) });
    } else {
      logGarbage("http_refused", firstLine(err), { status, route: routeOf(req) });
    }
    if (res.headersSent) { return; }
    const code = status === 413 ? "payload_too_large" : status === 415 ? "unsupported_encoding" : status < 500 ? "invalid_payload" : "internal";
    res.status(status).json({ code, message: status < 500 ? firstLine(err?.message ?? "bad request") : "internal error" });
  };
}
