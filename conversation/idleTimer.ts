import type { Delayed } from "@colyseus/timer";
import { logger } from "../server/logger";
import type { RoomContext } from "./context";
import { nextDeadline, type EndReason } from "./lifecycleRules";

/**
 * The timer of a room's active conversation: activity by the customer or the staff
 * pushes its deadline back; at the deadline the conversation ends (`onDue`), as
 * idle or at its maximum lifetime (conversation/lifecycleRules.ts: a queued
 * conversation is never idle). The deadline is also written to the store, so the
 * cluster's sweeper (server/cluster/sweeper.ts) ends it when no actor is alive to.
 */
export class IdleTimer {
  lastCustomerAt = 0;
  lastStaffAt = 0;
  private armed: Delayed | null = null;
  private deadlineWritten = 0;

  constructor(private readonly room: RoomContext, private readonly onDue: (endedAt: number, reason: EndReason) => Promise<void>) {}

  /** Both sides' clocks at once (a resumed conversation knows only the room's last activity). */
  set lastActivityAt(at: number) { this.lastCustomerAt = at; this.lastStaffAt = at; }

  private next() {
    const conversation = this.room.state.conversation;
    const { customerIdleMs, agentIdleMs, conversationMaxMs } = this.room.services.config;
    return nextDeadline({
      status: conversation?.status ?? "ended", startedAt: conversation?.startedAt ?? 0,
      lastCustomerAt: this.lastCustomerAt, lastStaffAt: this.lastStaffAt,
    }, { customerIdleMs, agentIdleMs, conversationMaxMs });
  }

  /** The conversation ends at its deadline, whenever the ending runs. */
  deadline() { return this.next().at; }
  reason() { return this.next().reason; }

  isDue(now = Date.now()) {
    return now >= this.deadline();
  }

  /** Activity by an attendee: pushes the deadline back (by role: whose turn it is next). */
  touch(role: string) {
    if (role === "customer") { this.lastCustomerAt = Date.now(); } else { this.lastStaffAt = Date.now(); }
    this.touchDeadline();
  }

  /** The sweeper asked and it is not due yet, or the status changed: write the deadline again. */
  rewriteDeadline() {
    this.deadlineWritten = 0;
    this.touchDeadline();
  }

  /** The status changed (queued, active, on hold): another rule applies from now. */
  reschedule() {
    this.armed?.clear();
    this.armed = null;
    this.rewriteDeadline();
    this.arm();
  }

  private touchDeadline() {
    const deadline = this.deadline();
    // the stored deadline may lag by a little; writing it on every message would double the writes
    if (Math.abs(deadline - this.deadlineWritten) >= Math.min(1_000, this.room.services.config.conversationIdleMs / 10)) {
      this.deadlineWritten = deadline;
      this.room.writer.setIdleDeadline(deadline).catch((e) =>
        logger.warn({ err: e, roomId: this.room.roomId }, "could not store idle deadline"));
    }
  }

  /** One timer per conversation: on firing it re-arms itself for the remaining time. */
  arm() {
    if (this.armed) { return; }
    const { room } = this;
    const check = () => {
      this.armed = null;
      if (!room.state.conversation || room.state.conversation.status === "ended") { return; }
      const remaining = this.deadline() - Date.now();
      // before this actor won its registration it must not write: a duplicate
      // started by a concurrent join is discarded
      if (remaining > 0 || !room.isLive()) {
        this.armed = room.clock.setTimeout(check, Math.min(Math.max(remaining, 50), 2_147_000_000));
        return;
      }
      room.serial(async () => {
        const conversation = room.state.conversation;
        if (conversation && conversation.status !== "ended" && this.isDue()) {
          await this.onDue(this.deadline(), this.reason());
        } else {
          this.arm();
        }
      }).catch((e) => {
        // storage unavailable: try again shortly rather than leave the conversation open forever
        logger.error({ err: e, roomId: room.roomId }, "idle end failed");
        this.armed = room.clock.setTimeout(check, 1_000);
      });
    };
    this.armed = room.clock.setTimeout(check, Math.min(Math.max(0, this.deadline() - Date.now()), 2_147_000_000));
  }
}
