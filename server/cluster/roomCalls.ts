import { matchMaker } from "@colyseus/core";
import { asChatError } from "../errors";
import { roomIdFor } from "../ids";
import { logger } from "../logger";
import type { RoomKind, RoomRecord } from "../store/types";
import { resumeOptions } from "./joinOptions";

/**
 * Calls into a room's one actor from outside it: customer-room actors telling their
 * team room (queue, routing, live conversations), and the HTTP API posting an app's
 * message. Colyseus' remote room calls travel over presence (Redis pub/sub in a
 * cluster); when no actor runs, one is started, wherever the matchmaker places it.
 */
export type TeamCall = "enqueue" | "requeue" | "placeWanted" | "conversationStarted" | "conversationEnded" | "staffJoined";

export async function callRoom(roomId: string, kind: RoomKind, method: string, args: unknown[], create: RoomRecord | null = null): Promise<unknown> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const listing = await matchMaker.driver.findOne({ roomId });
    if (!listing) {
      // a concurrent start elsewhere is fine: the matchmaker keeps one actor
      await matchMaker.createRoom(kind, resumeOptions(roomId, kind, create)).catch((e) => { lastError = e; });
      continue;
    }
    try {
      return await matchMaker.remoteRoomCall(roomId, method as any, args);
    } catch (e: any) {
      // a refusal by the actor itself (a ChatError, or its { code } over IPC) is final
      const refusal = asChatError(e);
      if (refusal) { throw refusal; }
      lastError = e;
      if (!(await matchMaker.healthCheckProcessId(listing.processId))) { continue; }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  logger.warn({ roomId, method, err: (lastError as Error)?.message }, "room unreachable");
  throw lastError;
}

export function callTeam(teamId: string, method: TeamCall, ...args: unknown[]): Promise<unknown> {
  const roomId = roomIdFor.team(teamId);
  const now = Date.now();
  const create: RoomRecord = {
    roomId, kind: "team", members: [], customers: [], teamId, createdAt: now, lastActivityAt: now,
    activeConversationId: null, lastSeq: 0, pastConversations: 0,
  };
  return callRoom(roomId, "team", method, args, create);
}
