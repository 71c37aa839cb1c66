import { logger } from "../logger";
import type { Config } from "../config";
import { StoreError } from "../store/errors";
import type { PurgeResult } from "../store/recordTypes";
import type { RoomKind, RoomStore } from "../store/types";

/**
 * The retention purge (docs/storage.md "Retention"): every node runs a timer, but a
 * lease in the store (`claim`) lets one node per interval do the work, so a cluster
 * purges once. A pass removes ended conversations older than their kind's retention
 * in pages, so one pass never holds a long transaction, and records what it removed
 * in the audit log (counts only).
 */
export const RETENTION_LEASE = "retention:purge";
const PAGE = 500;

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: RoomStore,
    private readonly retentionMs: Config["retentionMs"],
    private readonly intervalMs: number,
  ) {}

  get enabled() { return Object.values(this.retentionMs).some((ms) => ms > 0); }

  /**
   * Refuses a store that cannot purge (Redis) when a retention is set: a node must not
   * run believing old transcripts go when they never will.
   */
  async start() {
    if (!this.enabled) { return; }
    try {
      await this.store.purgeEnded("contact_center", 0, 0);
    } catch (err) {
      if (err instanceof StoreError && err.kind === "unsupported") {
        throw new Error(`RETENTION_DAYS_* is set but ${err.message}`);
      }
      throw err;
    }
    this.timer = setInterval(() => { void this.tick(); }, this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }

  /** One interval's turn: runs a pass when this node wins the lease. */
  tick(now = Date.now()): Promise<void> {
    if (this.running) { return this.running; }
    this.running = (async () => {
      try {
        // a little under the interval, so the next interval's tick is never refused by this one's lease
        if (!(await this.store.claim(RETENTION_LEASE, Math.max(1, Math.floor(this.intervalMs * 0.9))))) { return; }
        await this.purge(now);
      } catch (err: any) {
        logger.warn({ err: err?.message }, "retention purge failed; retried next interval");
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Purges every kind with a retention; returns what went, per kind. */
  async purge(now = Date.now()): Promise<Partial<Record<RoomKind, PurgeResult>>> {
    const done: Partial<Record<RoomKind, PurgeResult>> = {};
    for (const [kind, ms] of Object.entries(this.retentionMs) as [RoomKind, number][]) {
      if (!(ms > 0)) { continue; }
      const total: PurgeResult = { conversations: 0, messages: 0, rooms: 0 };
      for (;;) {
        const page = await this.store.purgeEnded(kind, now - ms, PAGE);
        total.conversations += page.conversations;
        total.messages += page.messages;
        total.rooms += page.rooms;
        if (page.conversations < PAGE) { break; }
      }
      done[kind] = total;
      if (total.conversations > 0) {
        await this.store.appendAudit({ at: Date.now(), actor: "system:retention", action: "retention_purge", subject: kind, detail: { ...total } });
        logger.info({ kind, ...total }, "retention purge");
      }
    }
    return done;
  }
}
