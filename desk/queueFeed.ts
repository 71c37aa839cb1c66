import client from "prom-client";
import { callRoom } from "../server/cluster/roomCalls";
import { logger } from "../server/logger";
import { registry } from "../server/metrics";
import type { RoomKind } from "../server/store/types";
import { isCustomerWaiting, places, type QueuedLike } from "./queueRules";

/**
 * What waiting customers and operators see of a team's queue: each waiting
 * customer's position and estimated wait, pushed to its room's actor when they
 * change (a remote room call, like the desk's other calls), and the Prometheus
 * gauges of queue depth and oldest wait per team.
 */
export class QueueFeed {
  /** room id -> the last place pushed, so only changes travel */
  private pushed = new Map<string, string>();

  /**
   * `isLive`: whether the actor is the team's one registered actor; a duplicate started
   * by a concurrent call (and discarded) pushes nothing and shows in no gauge.
   */
  constructor(readonly teamId: string, readonly isLive: () => boolean) {
    feeds.add(this);
  }

  /** The team's requests now, for the gauges. */
  snapshot: () => Iterable<QueuedLike> = () => [];

  update(requests: Iterable<QueuedLike & { roomKind: string; followUp?: boolean }>, recentAcceptMs: readonly number[], agentsServing: number) {
    if (!this.isLive()) { return; }
    const list = [...requests];
    const kinds = new Map(list.map((r) => [r.roomId, { kind: r.roomKind as RoomKind, followUp: !!r.followUp }]));
    const seen = new Set<string>();
    for (const place of places(list, recentAcceptMs, agentsServing)) {
      seen.add(place.roomId);
      const { kind, followUp } = kinds.get(place.roomId)!;
      const key = `${place.conversationId}:${place.position}:${place.estimatedWaitMs}:${followUp}`;
      if (this.pushed.get(place.roomId) === key) { continue; }
      this.pushed.set(place.roomId, key);
      // not applied (the room's actor was not ready) or lost: pushed again on the next update (the desk's tick)
      const retry = () => { if (this.pushed.get(place.roomId) === key) { this.pushed.delete(place.roomId); } };
      callRoom(place.roomId, kind, "queueUpdate", [place.conversationId, place.position, place.estimatedWaitMs, followUp])
        .then((applied) => { if (applied !== true) { retry(); logger.debug({ roomId: place.roomId, applied }, "queue position not applied"); } })
        .catch((e) => { retry(); logger.warn({ err: e?.message, roomId: place.roomId }, "could not push the queue position"); });
    }
    // a room that left the queue is pushed again when it comes back, whatever its place
    for (const roomId of this.pushed.keys()) { if (!seen.has(roomId)) { this.pushed.delete(roomId); } }
  }

  /** The room's actor is new: its place is pushed again on the next update. */
  forget(roomId: string) { this.pushed.delete(roomId); }

  dispose() { feeds.delete(this); }
}

const feeds = new Set<QueueFeed>();
const liveFeeds = () => [...feeds].filter((f) => f.isLive());

function waitingOf(feed: QueueFeed) {
  return [...feed.snapshot()].filter(isCustomerWaiting);
}

// collected on scrape from the team actors this process runs
new client.Gauge({
  name: "cc_queue_depth", help: "Customers waiting in a team's queue (team actors of this process)", labelNames: ["team"], registers: [registry],
  collect() {
    this.reset();
    for (const feed of liveFeeds()) { this.set({ team: feed.teamId }, waitingOf(feed).length); }
  },
});
new client.Gauge({
  name: "cc_queue_oldest_wait_seconds", help: "How long the longest-waiting customer of a team's queue has waited", labelNames: ["team"], registers: [registry],
  collect() {
    this.reset();
    const now = Date.now();
    for (const feed of liveFeeds()) {
      const team = feed.teamId;
      const oldest = Math.min(...waitingOf(feed).map((r) => r.createdAt));
      this.set({ team }, Number.isFinite(oldest) ? (now - oldest) / 1_000 : 0);
    }
  },
});
