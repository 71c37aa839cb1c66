import { logger } from "../logger";
import { firstLine, logGarbage } from "./garbageLog";

/**
 * The logger handed to Colyseus (`new Server({ logger })`). Colyseus and ws-transport
 * print whole stacks through `logger.error` for things any anonymous client triggers
 * (a bad WebSocket frame before a seat, an upgrade for no room, a reserved seat that
 * never came): those become one short, rate-limited line, with the stack at debug
 * level for whoever is hunting a real bug.
 */
export const colyseusLogger = {
  error: (...args: unknown[]) => {
    const text = args.map((a) => (a instanceof Error ? a.stack ?? a.message : String(a))).join(" ");
    logger.debug({ colyseus: text }, "colyseus error (full)");
    logGarbage("colyseus_error", firstLine(text));
  },
  warn: (...args: unknown[]) => logger.warn({ colyseus: args.map((a) => firstLine(a)).join(" ") }, "colyseus"),
  info: (...args: unknown[]) => logger.info({ colyseus: args.map((a) => firstLine(a)).join(" ") }, "colyseus"),
  debug: (...args: unknown[]) => logger.debug({ colyseus: args.map(String).join(" ") }, "colyseus"),
  trace: (...args: unknown[]) => logger.trace({ colyseus: args.map(String).join(" ") }, "colyseus"),
};
