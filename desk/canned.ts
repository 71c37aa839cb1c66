import { RequestError } from "../server/errors";
import type { RequestTable } from "../server/policy/requestTable";
import { guardStore } from "../server/store/guard";
import type { CannedReply, RoomStore } from "../server/store/types";
import type { ChatClient, RoomContext } from "../conversation/context";

/**
 * A team's canned replies: read by every member of the team room (`canned`), replaced
 * as a whole by its supervisors (`canned_set`) or an application (PUT
 * /api/teams/:teamId/canned). Stored per team in the store; placeholders such as
 * {{customer.name}} are the console's to fill.
 */
export function checkCanned(replies: CannedReply[]): CannedReply[] {
  const seen = new Set<string>();
  for (const reply of replies) {
    const key = reply.shortcut.toLowerCase();
    if (seen.has(key)) { throw new RequestError("invalid_payload", `canned_set: shortcut ${reply.shortcut} appears twice`); }
    seen.add(key);
  }
  return replies.map(({ shortcut, text }) => ({ shortcut, text }));
}

export async function saveCanned(store: RoomStore, teamId: string, replies: CannedReply[]) {
  const checked = checkCanned(replies);
  await guardStore(() => store.saveCanned(teamId, checked), { roomId: `team-${teamId}` });
  return { replies: checked };
}

export const teamIdOf = (room: RoomContext) => room.roomId.slice("team-".length);

export const cannedRequests: RequestTable<RoomContext, ChatClient> = {
  canned: {
    run: async ({ room }) => ({ replies: await guardStore(() => room.services.store.loadCanned(teamIdOf(room)), { roomId: room.roomId }) }),
  },
  canned_set: {
    action: "manage_canned",
    run: ({ room, payload }) => room.serial(() => saveCanned(room.services.store, teamIdOf(room), payload.replies)),
  },
};
