import type { IncomingMessage, ServerResponse } from "node:http";
import { matchMaker } from "@colyseus/core";

/**
 * The one place CORS is decided. Colyseus answers every path (and every preflight)
 * with `Access-Control-Allow-Origin: <the caller's Origin>` and
 * `Access-Control-Allow-Credentials: true`; that is switched off here, and
 * `corsFront` sets the headers itself, by path:
 * - the matchmaker (`/matchmake/`) and the app API (`/api/`) allow the origins of
 *   CORS_ORIGINS (`*`: any), never with credentials: the SDK and apps authenticate
 *   with `Authorization: Bearer`, which another site cannot read or forge, so no
 *   cookie or basic-auth credential may ride along;
 * - everything else (monitor, metrics, dev routes, health, pages) gets no CORS at all.
 */
const CORS_PATHS = [/^\/matchmake\//, /^\/api\//];

export function disableColyseusCors() {
  matchMaker.controller.DEFAULT_CORS_HEADERS = {} as typeof matchMaker.controller.DEFAULT_CORS_HEADERS;
  matchMaker.controller.getCorsHeaders = () => ({});
}

export function corsHeadersFor(path: string, origin: string | undefined, allowed: string[]): Record<string, string> {
  if (!CORS_PATHS.some((p) => p.test(path))) { return {}; }
  const any = allowed.includes("*");
  if (!any && (!origin || !allowed.includes(origin))) { return {}; }
  return {
    "Access-Control-Allow-Origin": any ? "*" : origin!,
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Max-Age": "600",
    ...(any ? {} : { Vary: "Origin" }),
  };
}

/** Sets the CORS headers for this request; answers a preflight itself (true: answered). */
export function corsFront(req: IncomingMessage, res: ServerResponse, path: string, allowed: string[]): boolean {
  const headers = corsHeadersFor(path, req.headers.origin, allowed);
  for (const [k, v] of Object.entries(headers)) { res.setHeader(k, v); }
  if (req.method === "OPTIONS") {
    res.statusCode = 204;
    res.end();
    return true;
  }
  return false;
}
