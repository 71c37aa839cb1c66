import { matchMaker } from "@colyseus/core";
import { logger } from "../server/logger";
import { roomIdFor } from "../server/ids";
import type { RoomRecord } from "../server/store/types";

/**
 * Customer-room actors talk to their team's room actor (queue, routing, live
 * conversations) with Colyseus' remote room calls, which travel over presence
 * (Redis pub/sub in a cluster). The team actor is started when none runs.
 */
export type TeamCall = "enqueue" | "conversationStarted" | "conversationEnded" | "staffJoined";

type ResumeOptions = (roomId: string, kind: "team", create?: RoomRecord | null) => Record<string, unknown>;

let resume: ResumeOptions | undefined;

/** rooms/ChatRoom.ts installs how an actor is started without a client. */
export function setTeamResume(fn: ResumeOptions) { resume = fn; }

export async function callTeam(teamId: string, method: TeamCall, ...args: unknown[]): Promise<unknown> {
  const roomId = roomIdFor.team(teamId);
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const listing = await matchMaker.driver.findOne({ roomId });
    if (!listing) {
      const now = Date.now();
      const create: RoomRecord = {
        roomId, kind: "team", members: [], customers: [], teamId, createdAt: now, lastActivityAt: now,
        activeConversationId: null, lastSeq: 0, pastConversations: 0,
      };
      // a concurrent start elsewhere is fine: the matchmaker keeps one actor
      await matchMaker.createRoom("team", resume!(roomId, "team", create)).catch((e) => { lastError = e; });
      continue;
    }
    try {
      return await matchMaker.remoteRoomCall(roomId, method as any, args);
    } catch (e) {
      lastError = e;
      if (!(await matchMaker.healthCheckProcessId(listing.processId))) { continue; }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  logger.warn({ teamId, method, err: (lastError as Error)?.message }, "team room unreachable");
  throw lastError;
}
