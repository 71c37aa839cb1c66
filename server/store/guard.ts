import { ChatError, RoomMovedError } from "../errors";
import { logger } from "../logger";
import { metrics } from "../metrics";

/**
 * The one way callers reach the store when a failure must become an answer: what
 * the store refused on purpose (a ChatError: `conflict`, `not_found`) passes
 * through with its code; anything else (connection lost, timeout) is counted and
 * becomes a retryable `unavailable`.
 */
export async function guardStore<T>(fn: () => Promise<T>, context: Record<string, unknown> = {}): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ChatError && e.code !== "unavailable") { throw e; }
    if (e instanceof RoomMovedError) { throw e; } // the room moved (fencing): the store is fine
    metrics.storageErrors.inc();
    logger.error({ err: e, ...context }, "storage call failed");
    throw new ChatError("unavailable", "storage is unavailable, retry shortly");
  }
}
