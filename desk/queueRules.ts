/**
 * The pure rules of a team's queue (docs/desk.md): its order, each waiting
 * customer's position and estimated wait, when an offer lapses and when a wait
 * turns into an asynchronous follow-up. The team desk (desk/TeamDesk.ts) applies them.
 */
export interface QueuedLike {
  id: string;
  kind: string;
  roomId: string;
  conversationId: string;
  targetUserId: string;
  forBot: boolean;
  createdAt: number;
}

/**
 * Requests a customer is waiting on: a new conversation, a requeued one, a bot's
 * handover. Transfers and conferences are asked for by an agent who still holds it.
 */
export const CUSTOMER_WAITING = new Set(["new", "requeue", "handover"]);

export function isCustomerWaiting(request: Pick<QueuedLike, "kind">): boolean {
  return CUSTOMER_WAITING.has(request.kind);
}

/**
 * The queue's order: a requeued conversation goes to the front (its customer was
 * already served once and lost its agent), then oldest first; ties by id, so the
 * order is the same on every call.
 */
export function queueOrder<R extends QueuedLike>(requests: Iterable<R>): R[] {
  return [...requests].sort((a, b) =>
    Number(b.kind === "requeue") - Number(a.kind === "requeue") || a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

export interface Place {
  roomId: string;
  conversationId: string;
  /** 1-based */
  position: number;
  /** -1: unknown */
  estimatedWaitMs: number;
}

/**
 * Each waiting customer's place in its team's queue, counting only the requests
 * customers wait on (a named transfer is no one's turn), and its estimated wait.
 */
export function places<R extends QueuedLike>(requests: Iterable<R>, recentAcceptMs: readonly number[], agentsServing: number): Place[] {
  const waiting = queueOrder(requests).filter(isCustomerWaiting);
  return waiting.map((r, i) => ({
    roomId: r.roomId, conversationId: r.conversationId, position: i + 1,
    estimatedWaitMs: estimateWaitMs(i + 1, recentAcceptMs, agentsServing),
  }));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) { return Number.NaN; }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The wait of the customer at `position`: the recent median time to accept, once
 * per round of the agents who serve the queue (at least one round), rounded to a
 * second; -1 while nothing was accepted recently (no basis for a guess).
 */
export function estimateWaitMs(position: number, recentAcceptMs: readonly number[], agentsServing: number): number {
  if (position < 1 || recentAcceptMs.length === 0) { return -1; }
  const rounds = Math.ceil(position / Math.max(1, agentsServing));
  return Math.max(1_000, Math.round((median(recentAcceptMs) * rounds) / 1_000) * 1_000);
}

/** Keeps the newest `keep` samples (the "recent" of the median). */
export function addSample(samples: number[], value: number, keep = 20): number[] {
  samples.push(Math.max(0, value));
  while (samples.length > keep) { samples.shift(); }
  return samples;
}

/** An offer made at `offeredAt` and not accepted lapses after OFFER_TIMEOUT_MS. */
export function offerLapsed(offeredAt: number, now: number, offerTimeoutMs: number): boolean {
  return offeredAt > 0 && now - offeredAt >= offerTimeoutMs;
}

/** A customer waiting past QUEUE_MAX_WAIT_MS moves to a follow-up (once). */
export function followUpDue(request: Pick<QueuedLike, "kind" | "createdAt"> & { followUp?: boolean }, now: number, queueMaxWaitMs: number): boolean {
  return !request.followUp && isCustomerWaiting(request) && now - request.createdAt >= queueMaxWaitMs;
}
