// The team documents a team room's actor writes whole (desk/TeamDesk.ts): its queue,
// its live conversations and its agents' statuses. Re-exported by ./types.

import type { RoomKind } from "./types";

/** A conversation request waiting in a team's queue (desk/TeamDesk.ts). */
export interface QueuedRequest {
  id: string;
  kind: "new" | "requeue" | "transfer" | "conference" | "handover";
  roomId: string;
  roomKind: RoomKind;
  customerId: string;
  conversationId: string;
  targetUserId: string;
  fromUserId: string;
  reason: string;
  forBot: boolean;
  createdAt: number;
  escalated: boolean;
  /** waited past QUEUE_MAX_WAIT_MS (optional: queues stored before it have none) */
  followUp?: boolean;
}

/** One live customer conversation of a team, as the team's actor keeps it (saveLive). */
export interface LiveRecord {
  roomId: string;
  conversationId: string;
  customerId: string;
  startedAt: number;
  /** agents, supervisors and bots taking part, in order of arrival */
  agents: string[];
}

/** An agent's status as the team's actor keeps it (saveAgents); `available` agents are not stored. */
export interface AgentStatusRecord {
  userId: string;
  status: "available" | "busy" | "away" | "not_ready";
  /** why not_ready (a reason the agent gave, or `missed_offer`); empty otherwise */
  reason: string;
}
