import { logger } from "../server/logger";
import type { RoomContext } from "./context";

/**
 * The idle timer of a room's active conversation: activity by an attendee pushes
 * the deadline back; at the deadline the conversation ends (`onIdle`). The deadline
 * is also written to the store, so the cluster's sweeper (server/cluster/sweeper.ts)
 * ends it when no actor is alive to.
 */
export class IdleTimer {
  lastActivityAt = 0;
  private armed = false;
  private deadlineWritten = 0;

  constructor(private readonly room: RoomContext, private readonly onIdle: (endedAt: number) => Promise<void>) {}

  private get idleMs() { return this.room.services.config.conversationIdleMs; }

  /** An idle conversation ends at its deadline, whenever the ending runs. */
  deadline() {
    return this.lastActivityAt + this.idleMs;
  }

  isDue(now = Date.now()) {
    return now - this.lastActivityAt >= this.idleMs;
  }

  /** Activity by an attendee: pushes the idle deadline back. */
  touch() {
    this.lastActivityAt = Date.now();
    this.touchDeadline();
  }

  /** The sweeper asked and it is not due yet: write the deadline again. */
  rewriteDeadline() {
    this.deadlineWritten = 0;
    this.touchDeadline();
  }

  private touchDeadline() {
    const deadline = this.deadline();
    // the stored deadline may lag by a little; writing it on every message would double the writes
    if (deadline - this.deadlineWritten >= Math.min(1_000, this.idleMs / 10)) {
      this.deadlineWritten = deadline;
      this.room.writer.setIdleDeadline(deadline).catch((e) =>
        logger.warn({ err: e, roomId: this.room.roomId }, "could not store idle deadline"));
    }
  }

  /** One timer per conversation: on firing it re-arms itself for the remaining time. */
  arm() {
    if (this.armed) { return; }
    this.armed = true;
    const { room } = this;
    const check = () => {
      this.armed = false;
      if (!room.state.conversation) { return; }
      const remaining = this.deadline() - Date.now();
      // before this actor won its registration it must not write: a duplicate
      // started by a concurrent join is discarded
      if (remaining > 0 || !room.isLive()) {
        this.armed = true;
        room.clock.setTimeout(check, Math.max(remaining, 50));
        return;
      }
      room.serial(async () => {
        if (room.state.conversation && this.isDue()) {
          await this.onIdle(this.deadline());
        } else {
          this.arm();
        }
      }).catch((e) => {
        // storage unavailable: try again shortly rather than leave the conversation open forever
        logger.error({ err: e, roomId: room.roomId }, "idle end failed");
        this.armed = true;
        room.clock.setTimeout(check, 1_000);
      });
    };
    room.clock.setTimeout(check, Math.max(0, this.deadline() - Date.now()));
  }
}
