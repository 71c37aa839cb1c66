import { logger } from "../logger";

/**
 * One short line per piece of unauthenticated garbage (bad bodies, bad encodings,
 * garbage to the matchmaker, bad upgrades and frames), and at most LINES_PER_WINDOW
 * of them per window: anyone can send garbage at will, so an unbounded log with
 * stacks would be a disk- and CPU-filling lever. What was dropped is counted and said
 * in one line when the window closes.
 */
export const GARBAGE_WINDOW_MS = 10_000;
export const GARBAGE_LINES_PER_WINDOW = 20;

let windowStart = 0;
let lines = 0;
let suppressed = 0;
let flushTimer: NodeJS.Timeout | undefined;

function flush() {
  flushTimer = undefined;
  if (suppressed > 0) {
    logger.warn({ suppressed, windowMs: GARBAGE_WINDOW_MS }, "garbage: more lines suppressed");
  }
  suppressed = 0;
  lines = 0;
  windowStart = Date.now();
}

/** `what` is a short stable kind (e.g. "http_body_too_large"); `detail` one line at most. */
export function logGarbage(what: string, detail?: string, fields: Record<string, unknown> = {}) {
  const now = Date.now();
  if (now - windowStart >= GARBAGE_WINDOW_MS && !flushTimer) { windowStart = now; lines = 0; }
  if (lines < GARBAGE_LINES_PER_WINDOW) {
    lines++;
    logger.warn({ garbage: what, ...fields, ...(detail ? { detail: firstLine(detail) } : {}) }, "garbage refused");
    return;
  }
  suppressed++;
  flushTimer ??= setTimeout(flush, Math.max(0, windowStart + GARBAGE_WINDOW_MS - now)).unref();
}

/** The first line of a message or stack, capped: never a stack trace, never a whole payload. */
export function firstLine(text: unknown): string {
  const s = text instanceof Error ? text.message : String(text);
  return s.split("\n", 1)[0]!.slice(0, 200);
}
