/**
 * Delay before the next rejoin attempt: "full jitter" exponential backoff (a random
 * delay between 0 and min(cap, base * 2^attempt)), so the clients of a dead node do not
 * all come back in the same millisecond, with a floor so a loop never spins.
 * Attempt 0 is the first retry after a failed rejoin; the first rejoin itself is
 * immediate and does not ask for a delay.
 */
export interface BackoffOptions {
  /** ms; the ceiling of the first retry */
  baseMs: number;
  /** ms; no delay is ever longer */
  capMs: number;
  /** ms; no delay is ever shorter */
  floorMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 5_000, floorMs: 50 };

export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.max(options.floorMs, Math.min(options.capMs, Math.floor(random() * ceiling)));
}
