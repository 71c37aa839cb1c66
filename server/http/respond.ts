import type { IncomingMessage, ServerResponse } from "node:http";
import { logGarbage } from "./garbageLog";

/**
 * A refusal in the project's `{ code, message }` shape, logged as one garbage line.
 * `close`: the rest of the request is not read (an oversized or undecodable body),
 * so the connection cannot be reused and goes away once the answer is out.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, close = false) {
  logGarbage(code, message, { status, route: routeOf(req) });
  if (res.headersSent) { req.socket.destroy(); return; }
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  if (close) {
    res.setHeader("connection", "close");
    res.once("finish", () => req.socket.destroy());
  }
  res.end(JSON.stringify({ code, message }));
}

/** Only the first path segment: query strings carry tokens (the WebSocket URL's `_authToken`). */
export function routeOf(req: IncomingMessage): string {
  const path = (req.url ?? "/").split("?", 1)[0]!;
  return "/" + (path.split("/")[1] ?? "").slice(0, 40);
}
