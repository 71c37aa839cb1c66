import { logger } from "../server/logger";
import type { AgentStatusRecord, LiveRecord, QueuedRequest } from "../server/store/types";
import type { TeamContext } from "./TeamDesk";

/** how long a team document's changes are coalesced before they are written */
const PERSIST_MS = 100;

type TeamDocument = "queue" | "live" | "agents";

/**
 * The team desk's documents in the store: its queue, its live conversations and its
 * agents' statuses, each written whole through the room's fenced writer, so a new
 * team actor rebuilds from them. A burst of changes (1,000 live conversations
 * starting and ending) is coalesced into one write per document every PERSIST_MS
 * instead of one per change: the steady load test spent 2 % of the server's CPU
 * copying the whole live map on every change. A team actor that dies loses at most
 * that window of its documents.
 */
export class TeamDocuments {
  /** documents changed since the last write */
  private dirty = new Set<TeamDocument>();

  constructor(private readonly room: TeamContext, private readonly storedStatuses: () => Iterable<AgentStatusRecord>) {}

  changed(doc: TeamDocument) {
    if (this.dirty.size === 0) { this.room.clock.setTimeout(() => this.flush(), PERSIST_MS); }
    this.dirty.add(doc);
  }

  private flush() {
    const docs = [...this.dirty];
    this.dirty.clear();
    for (const doc of docs) {
      if (doc === "queue") { this.writeQueue(); } else if (doc === "live") { this.writeLive(); } else { this.writeAgents(); }
    }
  }

  private writeQueue() {
    const requests = [...this.room.state.requests.values()].map((r): QueuedRequest => ({
      id: r.id, kind: r.kind as QueuedRequest["kind"], roomId: r.roomId, roomKind: r.roomKind as QueuedRequest["roomKind"],
      customerId: r.customerId, conversationId: r.conversationId, targetUserId: r.targetUserId, fromUserId: r.fromUserId,
      reason: r.reason, forBot: r.forBot, createdAt: r.createdAt, escalated: r.escalated, followUp: r.followUp,
    }));
    this.room.serial(() => this.room.writer.saveQueue(this.room.record.teamId!, requests))
      .catch((e) => logger.error({ err: e, roomId: this.room.roomId }, "could not store the team queue"));
  }

  /** The live conversations, whole, so a new team actor rebuilds them and the agents' counts. */
  private writeLive() {
    const live = [...this.room.state.live.values()].map((l): LiveRecord => ({
      roomId: l.roomId, conversationId: l.conversationId, customerId: l.customerId, startedAt: l.startedAt, agents: [...l.agents],
    }));
    this.room.serial(() => this.room.writer.saveLive(this.room.record.teamId!, live))
      .catch((e) => logger.error({ err: e, roomId: this.room.roomId }, "could not store the team's live conversations"));
  }

  /** The agents' statuses other than available (with those not back yet), so a new team actor restores them. */
  private writeAgents() {
    const agents: AgentStatusRecord[] = [...this.storedStatuses()];
    for (const a of this.room.state.agents.values()) {
      if (a.status !== "available") { agents.push({ userId: a.userId, status: a.status as AgentStatusRecord["status"], reason: a.reason }); }
    }
    this.room.serial(() => this.room.writer.saveAgents(this.room.record.teamId!, agents))
      .catch((e) => logger.error({ err: e, roomId: this.room.roomId }, "could not store the agents' statuses"));
  }
}
