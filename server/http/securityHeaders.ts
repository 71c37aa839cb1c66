import type { IncomingMessage, ServerResponse } from "node:http";
import helmet from "helmet";

/**
 * Security headers on every response, from the front of the HTTP server (so the
 * matchmaker's, the monitor's and our own refusals get them too, not just express'):
 * a CSP that allows only this origin's scripts, styles and connections (the widget
 * and the console are Vite builds with no inline script, talking to their own
 * origin), no framing by anyone (frame-ancestors 'none' and X-Frame-Options DENY:
 * nothing here is meant to be embedded, and the console has buttons worth
 * clickjacking), nosniff, and no referrer leaving the origin. No
 * upgrade-insecure-requests: a plain-http development server must keep working. No HSTS
 * either: that is the TLS-terminating proxy's call (a year of includeSubDomains
 * sent from here would bind the operator's other hosts too).
 * The SDK opens its WebSocket at the PUBLIC_ADDRESS of the process hosting the room (by
 * default localhost:PORT, another origin than 127.0.0.1:PORT; in a PM2 cluster the
 * same host on other ports), so connect-src names this node's host on any port.
 */
export function securityHeaders(publicAddress: string) {
  const host = publicAddress.replace(/:\d+$/, "");
  const apply = helmet({
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      "default-src": ["'self'"],
      "connect-src": ["'self'", ...["ws", "wss", "http", "https"].map((scheme) => `${scheme}://${host}:*`)],
      "frame-ancestors": ["'none'"],
      "upgrade-insecure-requests": null,
    },
  },
  frameguard: { action: "deny" },
  strictTransportSecurity: false,
  referrerPolicy: { policy: "no-referrer" },
  });
  return (req: IncomingMessage, res: ServerResponse) => apply(req, res, () => {});
}
