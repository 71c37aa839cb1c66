import { matchMaker } from "@colyseus/core";
import { logger } from "../logger";
import { removeIfUnused } from "../policy/privateRooms";
import type { RoomKind, RoomStore } from "../store/types";

/**
 * Ends conversations whose idle deadline passed while no actor was alive to end
 * them (their node died). Every node runs one; each overdue room is claimed with a
 * lease in the store, so one node handles it, and the room's single actor (atomic
 * matchmaker insert) ends it, so it ends once.
 */
export class IdleSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private store: RoomStore,
    private intervalMs: number,
    /** options that make a room actor resume the given room without a client */
    private resumeOptions: (roomId: string, kind: RoomKind) => Record<string, unknown>,
  ) {}

  start() {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
  }

  async sweep() {
    if (this.running) { return; }
    this.running = true;
    try {
      // Dead processes are found by server/cluster/processWatch.ts, not only when one
      // of their rooms is due: by the time a deadline passes, a node killed before it
      // has been health-checked (2 s IPC), its listings are gone, and the room starts
      // at once.
      const due = await this.store.dueIdleDeadlines(Date.now(), DUE_PER_ROUND);
      if (due.length === 0) { return; }
      const live = await liveProcesses();
      await Promise.all(due.map(async (roomId) => {
        if (await this.store.claim(`sweep:${roomId}`, this.intervalMs)) {
          await this.sweepRoom(roomId, live).catch((err) => logger.warn({ err: err?.message, roomId }, "sweep failed; retried next round"));
        }
      }));
    } catch (err: any) {
      logger.warn({ err: err?.message }, "sweeper could not read deadlines");
    } finally {
      this.running = false;
    }
  }

  private async sweepRoom(roomId: string, live: Set<string>) {
    const listing = await matchMaker.driver.findOne({ roomId });
    if (listing && live.has(listing.processId)) {
      try {
        // a live actor decides with its exact activity clock
        await matchMaker.remoteRoomCall(roomId, "sweepIdle" as any, []);
        return;
      } catch (err: any) {
        // no answer: if its process is gone, this drops all of that process's listings
        if (await matchMaker.healthCheckProcessId(listing.processId)) { throw err; }
      }
    } else if (listing) {
      // its process listens on no channel: no remote call that can only time out; the
      // health check (shared by every room of that process, and usually finished long
      // ago by the process watch) confirms it and drops its listings, and the room
      // starts below, in this round
      if (await matchMaker.healthCheckProcessId(listing.processId)) { return; }
    }
    const record = await this.store.getRoom(roomId);
    if (!record?.activeConversationId) {
      // a private room's deadline without a conversation: the room was never used (server/policy/privateRooms.ts)
      if (!record || !(await removeIfUnused(this.store, record))) { await this.store.clearIdleDeadline(roomId); }
      return;
    }
    // no actor anywhere: start one; it resumes the room and ends the overdue conversation
    logger.info({ roomId, conversationId: record.activeConversationId }, "sweeper resumes an orphaned room");
    await matchMaker.createRoom(record.kind, this.resumeOptions(roomId, record.kind));
  }
}

/** rooms handled per round and node (more wait for the next round) */
const DUE_PER_ROUND = 200;

/** Processes subscribed to their IPC channel (`p:<id>`, Colyseus): a killed one drops out when its connection does. */
async function liveProcesses(): Promise<Set<string>> {
  const channels: string[] = await matchMaker.presence.channels("p:*");
  const live = new Set(channels.map((c) => c.slice(2)));
  live.add(matchMaker.processId);
  return live;
}
