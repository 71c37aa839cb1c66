import pino from "pino";

/**
 * Structured JSON logs. Message text and tokens are never logged: the redact list
 * is a second line of defence for a field someone adds by mistake.
 */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { pid: process.pid },
  redact: { paths: ["token", "*.token", "text", "*.text", "authorization", "*.authorization"], censor: "[redacted]" },
});
