import { randomUUID } from "node:crypto";
import type { Identity } from "../server/auth";
import { mayJoinAnother } from "../server/cluster/agentRooms";
import { JOIN_KEY } from "../server/cluster/joinOptions";
import { AuthError, ChatError, joinRefusal, type ErrorCode as ErrorCode_ } from "../server/errors";
import { resolveJoin } from "../server/policy/permissions";
import { overBudgetMessage } from "../server/policy/budgets";
import type { Services } from "../server/services";
import type { RoomKind } from "../server/store/types";

/**
 * Join authentication, before any room is found or created: verifies the token,
 * applies the join limiter and the permission table, and fixes the room id for the
 * matchmaker. Colyseus calls a static onAuth unbound, so each room definition
 * (rooms/definitions.ts) passes its name and services (the join budget is the
 * user's, server/policy/budgets.ts).
 */
export async function authenticate(services: Services, roomName: RoomKind, token: string, options: any): Promise<Identity> {
  return asJoinRefusal(async () => {
    const { verifier, store, config, agentRooms, budgets } = services;
    const identity = await verifier.verify(token);
    if (options === null || typeof options !== "object" || Array.isArray(options)) { throw new AuthError("invalid_options", "join options must be an object"); }
    if (!budgets.take(identity.sub, "join")) { throw new AuthError("rate_limited", overBudgetMessage("join", budgets.rates)); }
    const resolved = await resolveJoin(roomName, identity, options, store, config);
    if (identity.role === "agent" && roomName !== "team" && resolved.roomId && !(await mayJoinAnother(agentRooms, identity.sub, resolved.roomId, config.maxRoomsPerAgent))) {
      throw new AuthError("too_many_rooms", `an agent is in at most ${config.maxRoomsPerAgent} customer rooms at once`);
    }
    // `roomId` is reserved by the matchmaker, so the room definitions filter on `roomKey`
    // (no room id: a joinById, checked by the room found; a create then fails in onCreate)
    options.roomKey = resolved.roomId || `unresolved-${randomUUID()}`;
    options[JOIN_KEY] = resolved;
    return identity;
  });
}

/** A ChatError thrown while joining becomes the refusal Colyseus answers (server/errors.ts joinRefusal). */
export async function asJoinRefusal<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ChatError) { throw joinRefusal(e); }
    throw e;
  }
}

/** Refuses a join from inside the actor (onCreate, onJoin) the way onAuth does. */
export function refuseJoin(code: ErrorCode_, message: string): Promise<never> {
  return asJoinRefusal(async () => { throw new ChatError(code, message); });
}
