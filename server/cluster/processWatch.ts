import { matchMaker } from "@colyseus/core";
import { logger } from "../logger";

/**
 * Finds dead processes of the cluster early. A process killed with `kill -9` drops its
 * IPC channel (`p:<id>`) at once, with its Redis connection; every PROCESS_CHECK_MS
 * this compares the registered processes with the subscribed channels (two cheap
 * Redis reads) and has Colyseus health-check the missing ones (one IPC round, 2 s),
 * which drops their listings. Without it, the first join to each of their rooms
 * waits for its own IPC timeout and health check (4 s) before it can start a new
 * actor; with it, the check runs once, in the background, shared by those joins and
 * the sweeper (server/cluster/sweeper.ts).
 */
export class ProcessWatch {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly intervalMs: number) {}

  start() {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop() { clearInterval(this.timer); }

  async check() {
    // one at a time: with Redis frozen the reads hang, and must not pile up
    if (this.running) { return; }
    this.running = true;
    try {
      await matchMaker.healthCheckAllProcesses();
    } catch (err: any) {
      logger.warn({ err: err?.message }, "process health check failed");
    } finally {
      this.running = false;
    }
  }
}
