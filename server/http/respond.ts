import type { IncomingMessage, ServerResponse } from "node:http";
import { logGarbage } from "./garbageLog";

/** how long the rest of a refused body is read and dropped before the socket goes */
const LINGER_MS = 2_000;

/**
 * A refusal in the project's `{ code, message }` shape, logged as one garbage line.
 * `close`: the rest of the request is not wanted (an oversized or undecodable body),
 * so the connection goes away once the answer is out (node answers an unfinished
 * request with `Connection: close` by itself). Not at once, though: node destroys the
 * socket as soon as the answer is flushed, and destroying a socket with unread data in
 * it sends a reset, which makes the client's kernel drop our answer before the client
 * reads it (the client sees EPIPE/ECONNRESET, not the 413). So this socket lingers:
 * our side half-closes and stops reading (the client's writes stall on a full window
 * while it reads the answer), and LINGER_MS later the socket is destroyed.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, close = false) {
  logGarbage(code, message, { status, route: routeOf(req) });
  if (res.headersSent) { req.socket.destroy(); return; }
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  if (close) {
    // said explicitly: a keep-alive client must not send its next request on this socket
    res.setHeader("connection", "close");
    const socket = req.socket as typeof req.socket & { destroySoon?: () => void };
    socket.destroySoon = () => {
      socket.end();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    // a consumer that reads nothing: node would otherwise drain the body after the answer
    req.on("data", () => {});
    req.pause();
  }
  res.end(JSON.stringify({ code, message }));
}

/** Only the first path segment: query strings carry tokens (the WebSocket URL's `_authToken`). */
export function routeOf(req: IncomingMessage): string {
  const path = (req.url ?? "/").split("?", 1)[0]!;
  return "/" + (path.split("/")[1] ?? "").slice(0, 40);
}
