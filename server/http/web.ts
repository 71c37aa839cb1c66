import { timingSafeEqual } from "node:crypto";
import path from "node:path";
import { monitor } from "@colyseus/monitor";
import express from "express";
import { signToken } from "../auth";
import type { Config } from "../config";
import { isId } from "../ids";
import { logger } from "../logger";
import type { Role } from "../store/types";

const ROLES: Role[] = ["customer", "agent", "supervisor", "bot"];
const WEB_DIST = path.resolve(__dirname, "..", "..", "web", "dist");

/**
 * What the server shows people: in development the customer widget and the agent
 * console (built from web/ by `npm run build:web`) with a development token issuer;
 * in every mode the Colyseus monitor, behind HTTP basic auth when MONITOR_PASSWORD is set.
 */
export function mountWeb(app: express.Application, config: Config) {
  if (config.monitorPassword) {
    app.use("/monitor", basicAuth(config.monitorUser, config.monitorPassword), monitor() as any);
  }
  if (!config.development) { return; }

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
  app.use(express.static(WEB_DIST));
  logger.info({ dir: WEB_DIST }, "development: serving the widget and the agent console under /");
}

function basicAuth(user: string, password: string): express.RequestHandler {
  const expected = Buffer.from(`${user}:${password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString() : "");
    if (given.length === expected.length && timingSafeEqual(given, expected)) { next(); return; }
    res.set("WWW-Authenticate", 'Basic realm="monitor"').status(401).send("authentication required");
  };
}
