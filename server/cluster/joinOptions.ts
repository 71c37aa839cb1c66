import type { ResolvedJoin } from "../policy/permissions";
import type { RoomKind, RoomRecord } from "../store/types";

/**
 * The join options a room actor starts from. onAuth resolves a join (the
 * permission table) and writes the result under JOIN_KEY, a key a client's own
 * options can never set (onAuth overwrites it); the actor trusts nothing else.
 */
export const JOIN_KEY = "__join";

/** Join options under which an actor starts for a room without a client (the sweeper, a room call). */
export function resumeOptions(roomId: string, kind: RoomKind, create: RoomRecord | null = null) {
  const resolved: ResolvedJoin = { roomId, kind, create, channel: null, monitor: false };
  return { roomKey: roomId, [JOIN_KEY]: resolved };
}

/** The resolved join onAuth left in the options, if any. */
export function resolvedJoin(options: unknown): ResolvedJoin | undefined {
  return (options as Record<string, ResolvedJoin> | undefined)?.[JOIN_KEY];
}
