import path from "node:path";
import { monitor } from "@colyseus/monitor";
import express from "express";
import { signToken } from "../auth";
import type { Config } from "../config";
import { isId } from "../ids";
import { logger } from "../logger";
import type { Role } from "../store/types";
import { monitorGuard } from "./monitor";

const ROLES: Role[] = ["customer", "agent", "supervisor", "bot"];
const WEB_DIST = path.resolve(__dirname, "..", "..", "web", "dist");

/**
 * What the server shows people: the customer widget and the agent console (built from
 * web/ by `npm run build:web`), in development with a development token issuer;
 * in every mode the Colyseus monitor, behind HTTP basic auth when MONITOR_PASSWORD is set
 * (and the guard of server/http/monitor.ts).
 */
export function mountWeb(app: express.Application, config: Config) {
  if (config.monitorPassword) {
    app.use("/monitor", monitorGuard({
      user: config.monitorUser, password: config.monitorPassword, allowActions: config.monitorAllowActions,
      maxFailures: config.monitorMaxFailures, lockoutMs: config.monitorLockoutMs,
    }), monitor() as any);
  }
  if (config.development && !config.devRoutes) {
    logger.warn("NODE_ENV=development with an AUTH_SECRET of its own: the development routes (/dev/token, the pages) stay off, since they would mint real tokens");
  }
  if (config.devRoutes || config.webPages) { servePages(app, config); }
  if (!config.devRoutes) { return; }

  // development only: anyone may be anyone, which is why production has no such route
  app.get("/dev/token", async (req, res) => {
    const { sub, role, name } = req.query as Record<string, string>;
    const teams = String(req.query.teams ?? "").split(",").filter(Boolean);
    if (!isId(sub) || !ROLES.includes(role as Role) || !teams.every(isId)) {
      res.status(400).json({ code: "invalid_payload", message: "sub must be an id, role one of customer, agent, supervisor, bot" });
      return;
    }
    res.json({ token: await signToken(config.authSecret, { sub, role: role as Role, name: String(name || sub).slice(0, 100), teams }, "8h", config) });
  });
}

/**
 * The pages: in development, or with WEB_PAGES=true, where they sign in with the host
 * application's JWTs (docs/web.md). The widget page alone may be framed: by this origin
 * (the embed's demo) and the WIDGET_EMBED_ORIGINS; everything else keeps
 * frame-ancestors 'none' from the security headers (the console has buttons worth
 * clickjacking).
 */
function servePages(app: express.Application, config: Config) {
  const ancestors = ["'self'", ...config.widgetEmbedOrigins].join(" ");
  app.use((req, res, next) => {
    if (req.method === "GET" && (req.path === "/" || req.path === "/index.html")) {
      const csp = String(res.getHeader("Content-Security-Policy") ?? "");
      res.setHeader("Content-Security-Policy", csp.replace(/frame-ancestors [^;]*/, `frame-ancestors ${ancestors}`));
      res.removeHeader("X-Frame-Options");
    }
    // the host site loads embed.js from here: a script other origins may load (CORP), nothing else is
    if (req.path === "/embed.js") { res.setHeader("Cross-Origin-Resource-Policy", "cross-origin"); }
    next();
  });
  app.use(express.static(WEB_DIST));
  logger.info({ dir: WEB_DIST, development: config.devRoutes }, "serving the widget and the agent console under /");
}
