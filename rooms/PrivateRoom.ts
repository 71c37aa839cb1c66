import type { ChatClient } from "../conversation/context";
import { who } from "../conversation/context";
import type { Identity } from "../server/auth";
import { mayJoinAnother } from "../server/cluster/agentRooms";
import { AuthError } from "../server/errors";
import { resolveJoin, type ResolvedJoin } from "../server/policy/permissions";
import { privateRoomCreated } from "../server/policy/privateRooms";
import { CustomerRoom } from "./CustomerRoom";

/**
 * A private room: a customer room with a member list, joined by id too, and removed
 * when nobody ever used it (server/policy/privateRooms.ts).
 */
export abstract class PrivateRoom extends CustomerRoom {
  protected async created(resolved: ResolvedJoin) {
    await privateRoomCreated(this.writer, this.services.config, resolved.limitFor);
  }

  /** joinById: the matchmaker resolved the room, so membership is checked against it. */
  protected async joinById(identity: Identity, options: unknown): Promise<ResolvedJoin> {
    const { store, config, agentRooms } = this.services;
    const found = await resolveJoin("private", identity, { ...(options as object), roomId: this.roomId }, store, config);
    if (identity.role === "agent" && !(await mayJoinAnother(agentRooms, identity.sub, this.roomId, config.maxRoomsPerAgent))) {
      throw new AuthError("too_many_rooms", `an agent is in at most ${config.maxRoomsPerAgent} customer rooms at once`);
    }
    return found;
  }

  /** Whoever comes in becomes a member. */
  protected async admit(client: ChatClient) {
    await super.admit(client);
    const identity = who(client);
    if (this.record.members.includes(identity.sub)) { return; }
    await this.serial(async () => {
      if (this.record.members.includes(identity.sub)) { return; }
      await this.writer.addMembers([identity.sub]);
      this.record.members.push(identity.sub);
    });
  }

  /** An unused private room with someone in it waits another period before removal. */
  protected async dueWithoutConversation() {
    if (this.state.lastSeq !== 0) { return super.dueWithoutConversation(); }
    await this.writer.setIdleDeadline(Date.now() + this.services.config.privateRoomUnusedMs);
  }
}
