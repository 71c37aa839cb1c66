/**
 * Routing, as a pure rule: which member of the team is offered a request.
 * The team desk (desk/TeamDesk.ts) calls it whenever a request or an agent changes.
 */
export interface RoutableAgent {
  userId: string;
  role: string;
  status: string;
  connected: boolean;
  activeConversations: number;
  maxConversations: number;
}

export interface RoutableRequest {
  /** only this user may take it (a transfer or conference to a named agent) */
  targetUserId: string;
  /** the team uses a bot first: only bots are offered it */
  forBot: boolean;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The available, connected member with room for one more conversation and the
 * fewest active ones (ties: the smallest user id, so the choice is stable), among
 * those the request is for: the named user, else the bots (forBot), else agents.
 * Null when nobody fits. Members in `passed` (they let this request's offer lapse)
 * are skipped, so the next candidate is offered it.
 */
export function pickAgent<A extends RoutableAgent>(request: RoutableRequest, agents: Iterable<A>, passed: ReadonlySet<string> = NONE): A | null {
  let best: A | null = null;
  for (const agent of agents) {
    // `passed`: members who let this request's offer lapse; the next candidate gets it
    if (passed.has(agent.userId)) { continue; }
    if (!agent.connected || agent.status !== "available" || agent.activeConversations >= agent.maxConversations) { continue; }
    const wanted = request.targetUserId
      ? agent.userId === request.targetUserId
      : (request.forBot ? agent.role === "bot" : agent.role === "agent");
    if (!wanted) { continue; }
    if (!best || agent.activeConversations < best.activeConversations
      || (agent.activeConversations === best.activeConversations && agent.userId.localeCompare(best.userId) < 0)) {
      best = agent;
    }
  }
  return best;
}
