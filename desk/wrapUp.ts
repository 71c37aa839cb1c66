import { RequestError } from "../server/errors";
import type { Config } from "../server/config";

/**
 * Wrap-up reasons: what an agent picks when it ends a conversation (the `end`
 * request's reason, stored as the conversation's endReason). Per team, from
 * WRAP_UP_REASONS (`support=resolved|follow-up needed|spam;sales=won|lost`, `*` for
 * every team without a list of its own; parsed in server/config.ts); with WRAP_UP_REQUIRED=true an `end` in a
 * room of a team with a list must name one of them. Pure rules, no storage.
 */
export type WrapUpConfig = Pick<Config, "wrapUpReasons" | "wrapUpRequired" | "defaultTeam">;

/** The team's reasons, else the `*` list, else none (then any reason goes). */
export function wrapUpReasonsFor(config: WrapUpConfig, teamId: string | undefined): string[] {
  const team = teamId || config.defaultTeam;
  return config.wrapUpReasons[team] ?? config.wrapUpReasons["*"] ?? [];
}

/** Refuses an `end` whose reason is not on a required list (`invalid_payload`). */
export function checkWrapUp(config: WrapUpConfig, teamId: string | undefined, reason: string | undefined) {
  const reasons = wrapUpReasonsFor(config, teamId);
  if (!config.wrapUpRequired || reasons.length === 0) { return; }
  if (!reason || !reasons.includes(reason)) {
    throw new RequestError("invalid_payload", `end: reason must be one of the team's wrap-up reasons: ${reasons.join(", ")}`);
  }
}
