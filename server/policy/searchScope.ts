import type { Identity } from "../auth";
import type { Config } from "../config";
import type { SearchQuery } from "../store/recordTypes";

/**
 * Which rooms a search may read (docs/security.md, permission table): applications
 * and, without AGENT_TEAM_SCOPED, staff read every room, as they may join every
 * customer room; with it, staff read their teams' rooms and rooms they are members of,
 * the rooms they could join.
 */
export function searchScope(identity: Pick<Identity, "role" | "sub" | "teams">, config: Pick<Config, "agentTeamScoped" | "defaultTeam">): SearchQuery["scope"] {
  if (identity.role === "app" || !config.agentTeamScoped) { return undefined; }
  return { teams: identity.teams, defaultTeam: config.defaultTeam, memberId: identity.sub };
}
