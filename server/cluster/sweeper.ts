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
      const due = await this.store.dueIdleDeadlines(Date.now(), 50);
      await Promise.all(due.map(async (roomId) => {
        if (await this.store.claim(`sweep:${roomId}`, this.intervalMs)) {
          await this.sweepRoom(roomId).catch((err) => logger.warn({ err: err?.message, roomId }, "sweep failed; retried next round"));
        }
      }));
    } catch (err: any) {
      logger.warn({ err: err?.message }, "sweeper could not read deadlines");
    } finally {
      this.running = false;
    }
  }

  private async sweepRoom(roomId: string) {
    const listing = await matchMaker.driver.findOne({ roomId });
    if (listing) {
      try {
        // a live actor decides with its exact activity clock
        await matchMaker.remoteRoomCall(roomId, "sweepIdle" as any, []);
      } catch (err: any) {
        // no answer: if its process is gone, this drops all of that process's
        // listings, and the next round starts an actor for each of its rooms
        const alive = await matchMaker.healthCheckProcessId(listing.processId);
        if (alive) { throw err; }
      }
      return;
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
