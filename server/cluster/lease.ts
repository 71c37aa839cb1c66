import type Redis from "ioredis";
import { logger } from "../logger";
import { metrics } from "../metrics";

/** The Redis key of a process's lease; AtomicRedisDriver.cleanup reads it too. */
export const leaseKey = (processId: string) => `cc:lease:process:${processId}`;

/**
 * What a room actor asks before it writes and before it starts: does this process
 * still hold its lease? On an embedded node (no cluster) it always does.
 */
export interface Lease {
  valid(): boolean;
  /** called once per lapse: the process must stop every actor it runs; returns the unsubscribe */
  onLapse(listener: () => void): () => void;
}

export const alwaysHeld: Lease = { valid: () => true, onLapse: () => () => {} };

/**
 * Whether the lease is held, waiting up to `withinMs` for it (checked every 25 ms):
 * a process whose Redis just came back takes its lease again at its next renewal.
 */
export async function leaseWithin(lease: Lease, withinMs: number): Promise<boolean> {
  const until = performance.now() + withinMs;
  while (!lease.valid()) {
    if (performance.now() >= until) { return false; }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/**
 * The process lease (docs/cluster.md, Fencing): the process renews
 * `cc:lease:process:<processId>` in Redis every `leaseMs / 4` with a TTL of
 * `leaseMs`. Locally it counts the lease from the moment it SENT its last successful
 * renewal, on the monotonic clock (performance.now: a wall-clock jump changes
 * nothing), so it always believes the lease over no later than Redis expires it.
 * Another process may move this one's rooms only once the key expired
 * (AtomicRedisDriver.cleanup), so when renewals fail for `leaseMs` this process
 * stops its actors first (`onLapse`), before anybody may start them elsewhere. A
 * frozen process (SIGSTOP, a long GC pause) finds the lease over when it wakes:
 * every write of its actors checks `valid()` first, before any timer had a turn.
 */
export class ProcessLease implements Lease {
  private heldUntil = -Infinity;
  private lapsed = true;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly processId: () => string,
    readonly leaseMs: number,
    /** runs after each successful renewal (the driver checks its listings) */
    private readonly afterRenewal: () => Promise<void> = async () => {},
  ) {}

  valid() { return performance.now() < this.heldUntil; }

  onLapse(listener: () => void) {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Takes the lease (retrying until Redis answers) and keeps renewing it. */
  async start() {
    while (!(await this.renew())) { await new Promise((r) => setTimeout(r, Math.min(500, this.leaseMs / 4))); }
    const period = Math.max(50, Math.floor(this.leaseMs / 4));
    this.timer = setInterval(() => { this.check(); void this.renew(); }, period);
    this.timer.unref();
  }

  /** Stops renewing and gives the lease up (graceful shutdown: the rooms move at once). */
  async stop() {
    clearInterval(this.timer);
    this.heldUntil = -Infinity;
    await this.redis.del(leaseKey(this.processId())).catch(() => {});
  }

  private check() {
    if (this.valid() || this.lapsed) { return; }
    this.lapsed = true;
    metrics.leaseLapses.inc();
    logger.warn({ leaseMs: this.leaseMs }, "process lease lapsed: stopping every room actor of this process (clients rejoin elsewhere)");
    for (const listener of [...this.listeners]) {
      try { listener(); } catch (err) { logger.error({ err }, "lease lapse listener failed"); }
    }
  }

  private async renew(): Promise<boolean> {
    if (this.renewing) { return false; }
    this.renewing = true;
    const sentAt = performance.now();
    try {
      // a renewal stuck on a dead connection must not block the next ones for ever
      const answer = await Promise.race([
        this.redis.set(leaseKey(this.processId()), this.processId(), "PX", this.leaseMs),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), this.leaseMs).unref()),
      ]);
      if (answer !== "OK") { return false; }
      this.check(); // a renewal answered after the lease ran out still ends it: someone may have moved our rooms
      this.heldUntil = Math.max(this.heldUntil, sentAt + this.leaseMs);
      if (this.lapsed) { this.lapsed = false; logger.info("process lease held"); }
      await this.afterRenewal().catch((err) => logger.warn({ err: err?.message }, "listing check failed"));
      return true;
    } catch {
      return false;
    } finally {
      this.renewing = false;
    }
  }
}
