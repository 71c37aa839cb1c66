import type { ConversationStatus } from "../schema/ChatState";

/**
 * The pure timing rules of a conversation (docs/desk.md, "Timers"): when it ends on
 * its own, and why. Time in the queue is not idleness: a queued conversation waits
 * for the desk, not for its customer or its agent, and only the maximum lifetime
 * ends it. On hold (its agent gone for less than AGENT_DISCONNECT_MS) the turn rule
 * still runs: a conversation whose customer and agent both went quiet (their node
 * died, say) ends as idle at its deadline, as before.
 */
export interface TimerSettings {
  customerIdleMs: number;
  agentIdleMs: number;
  conversationMaxMs: number;
}

export interface Activity {
  status: ConversationStatus;
  startedAt: number;
  /** last activity of the customer side (messages, reads, typing, joins) */
  lastCustomerAt: number;
  /** last activity of the agents, supervisors, bots and apps */
  lastStaffAt: number;
}

export type EndReason = "idle" | "max_lifetime";

/** The conversation's own end: the earliest deadline that applies, and its reason. */
export function nextDeadline(activity: Activity, settings: TimerSettings): { at: number; reason: EndReason } {
  const lifetime = { at: activity.startedAt + settings.conversationMaxMs, reason: "max_lifetime" as const };
  if (activity.status === "queued" || activity.status === "ended") { return lifetime; }
  // whose turn it is: after a staff message the customer has CUSTOMER_IDLE_MS to
  // answer, after the customer's the agent has AGENT_IDLE_MS
  const idle = activity.lastStaffAt >= activity.lastCustomerAt
    ? activity.lastStaffAt + settings.customerIdleMs
    : activity.lastCustomerAt + settings.agentIdleMs;
  return idle < lifetime.at ? { at: idle, reason: "idle" } : lifetime;
}

/** Staff roles hold a conversation; customers wait on them. */
export const HOLDING_ROLES = new Set(["agent", "supervisor", "bot"]);

/**
 * The status a conversation has when an actor takes it over from the store: held
 * by the first staff participant still in it (connected or not: an absent holder is
 * on hold until AGENT_DISCONNECT_MS decides), else queued.
 */
export function resumedStatus(participants: Iterable<{ userId: string; role: string; leftAt: number }>): { status: ConversationStatus; holder: string } {
  for (const p of participants) {
    if (HOLDING_ROLES.has(p.role) && !p.leftAt) { return { status: "on_hold", holder: p.userId }; }
  }
  return { status: "queued", holder: "" };
}

/** An absent holder's window: due AGENT_DISCONNECT_MS after its last connection closed. */
export function absenceDue(absentSince: number, now: number, agentDisconnectMs: number): boolean {
  return absentSince > 0 && now - absentSince >= agentDisconnectMs;
}
