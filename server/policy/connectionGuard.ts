import { logger } from "../logger";

/**
 * Per-connection guards of the request pipeline: a cap on unanswered requests, and
 * the disconnection of a client that does not read what it is sent (its answers
 * would otherwise pile up in the server's memory). Documented in docs/protocol.md.
 */

/** Close code of a connection whose send buffer passed MAX_BUFFERED_BYTES. */
export const SLOW_READER_CLOSE_CODE = 4008;

/** How long a slow reader gets to take the close frame before its socket is destroyed. */
const TERMINATE_AFTER_MS = 1_000;

/** The transport's socket: `ws`'s WebSocket in @colyseus/ws-transport. */
interface Socket { bufferedAmount?: number; terminate?: () => void }
interface GuardedClient { ref?: unknown; sessionId: string; leave(code?: number, reason?: string): void }

const inFlightCounts = new WeakMap<object, number>();
const closing = new WeakSet<object>();

/** Requests of this connection not answered yet. */
export function inFlight(client: object): number {
  return inFlightCounts.get(client) ?? 0;
}

/** Counts a request in, until its answer (leaveRequest); server/policy/admission.ts caps the count. */
export function enterRequest(client: object) {
  inFlightCounts.set(client, (inFlightCounts.get(client) ?? 0) + 1);
}

export function leaveRequest(client: object) {
  const n = inFlightCounts.get(client) ?? 1;
  if (n <= 1) { inFlightCounts.delete(client); } else { inFlightCounts.set(client, n - 1); }
}

/** Bytes written to the connection and not yet taken by the client's TCP stack. */
export function bufferedBytes(client: GuardedClient): number {
  const socket = client.ref as Socket | undefined;
  return typeof socket?.bufferedAmount === "number" ? socket.bufferedAmount : 0;
}

/** True once a connection is being closed by this guard; nothing more is sent to it. */
export function isClosing(client: object): boolean {
  return closing.has(client);
}

/**
 * Closes the connection when its send buffer passed `maxBytes`. The close frame
 * queues behind the unread data, so a client that never reads would keep the
 * buffer for the `ws` close timeout (30 s): the socket is destroyed shortly after.
 */
export function closeIfSlowReader(client: GuardedClient, maxBytes: number, context: Record<string, unknown>): boolean {
  if (closing.has(client)) { return true; }
  const buffered = bufferedBytes(client);
  if (buffered <= maxBytes) { return false; }
  closing.add(client);
  logger.warn({ ...context, sessionId: client.sessionId, bufferedBytes: buffered, maxBufferedBytes: maxBytes }, "slow reader disconnected");
  try { client.leave(SLOW_READER_CLOSE_CODE, "send buffer over MAX_BUFFERED_BYTES"); } catch { /* already closed */ }
  const socket = client.ref as Socket | undefined;
  setTimeout(() => { try { socket?.terminate?.(); } catch { /* already gone */ } }, TERMINATE_AFTER_MS).unref();
  return true;
}
