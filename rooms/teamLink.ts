import { matchMaker } from "@colyseus/core";
import { logger } from "../server/logger";
import { roomIdFor } from "../server/ids";
import type { RoomKind, RoomRecord } from "../server/store/types";

/**
 * Calls into a room's one actor from outside it: customer-room actors telling their
 * team room (queue, routing, live conversations), and the HTTP API posting an app's
 * message. Colyseus' remote room calls travel over presence (Redis pub/sub in a
 * cluster); when no actor runs, one is started, wherever the matchmaker places it.
 */
export type TeamCall = "enqueue" | "conversationStarted" | "conversationEnded" | "staffJoined";

type ResumeOptions = (roomId: string, kind: RoomKind, create?: RoomRecord | null) => Record<string, unknown>;

let resume: ResumeOptions | undefined;

/** rooms/ChatRoom.ts installs how an actor is started without a client. */
export function setTeamResume(fn: ResumeOptions) { resume = fn; }

export async function callRoom(roomId: string, kind: RoomKind, method: string, args: unknown[], create: RoomRecord | null = null): Promise<unknown> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const listing = await matchMaker.driver.findOne({ roomId });
    if (!listing) {
      // a concurrent start elsewhere is fine: the matchmaker keeps one actor
      await matchMaker.createRoom(kind, resume!(roomId, kind, create)).catch((e) => { lastError = e; });
      continue;
    }
    try {
      return await matchMaker.remoteRoomCall(roomId, method as any, args);
    } catch (e: any) {
      // a refusal by the actor itself (a RequestError, or its { code } over IPC) is final
      if (typeof e?.code === "string") { throw e; }
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
