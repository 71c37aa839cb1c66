import type { ChatClient } from "../conversation/context";
import { who } from "../conversation/context";
import { conversationRequests } from "../conversation/requests";
import { refusedInTeamRooms } from "../desk/actions";
import { TeamDesk, type LiveInfo, type TeamContext } from "../desk/TeamDesk";
import { wrapUpReasonsFor } from "../desk/wrapUp";
import { cannedRequests } from "../desk/canned";
import { TeamState } from "../schema/TeamState";
import type { RequestTable } from "../server/policy/requestTable";
import type { QueuedRequest } from "../server/store/types";
import { RoomActor } from "./RoomActor";

/**
 * The team room: the team's own chat (the conversation, like every room) with the
 * team's desk composed in (desk/TeamDesk.ts): the queue, the agents, the live
 * conversations. It does not extend the customer room: it has no desk link and no
 * desk actions.
 */
export abstract class TeamRoom extends RoomActor<TeamState> implements TeamContext {
  state = new TeamState();
  readonly desk = new TeamDesk(this);

  protected async started() {
    await this.desk.load();
    this.extensions.push({ onActorDisposed: () => this.desk.dispose() });
  }

  protected mustStayAlive() {
    return super.mustStayAlive() || this.desk.busy();
  }

  protected requests(): RequestTable<this, ChatClient> {
    const table: RequestTable<TeamRoom, ChatClient> = {
      ...conversationRequests,
      ...refusedInTeamRooms<TeamRoom>(),
      ...cannedRequests,
      accept: { run: ({ room, client, payload }) => room.desk.accept(who(client), payload) },
      status: { run: ({ room, client, payload }) => room.desk.setStatus(who(client), payload) },
      wrap_up_reasons: {
        run: ({ room }) => ({ reasons: wrapUpReasonsFor(room.services.config, room.roomId.slice("team-".length)), required: room.services.config.wrapUpRequired }),
      },
    };
    return table as RequestTable<this, ChatClient>;
  }

  protected joined(client: ChatClient) { this.desk.joined(client); }
  protected left(client: ChatClient) { this.desk.left(client); }

  // --- remote room calls from customer-room actors (desk/CustomerDesk.ts) ----------

  enqueue(request: QueuedRequest) { return this.desk.enqueue(request); }
  requeue(request: QueuedRequest, gone: string[]) { return this.desk.requeue(request, gone); }
  placeWanted(roomId: string) { return this.desk.placeWanted(roomId); }
  conversationStarted(info: LiveInfo) { return this.desk.conversationStarted(info); }
  conversationEnded(roomId: string, conversationId: string) { return this.desk.conversationEnded(roomId, conversationId); }
  staffJoined(roomId: string, conversationId: string, userId: string, role: string) {
    return this.desk.staffJoined(roomId, conversationId, userId, role);
  }
}
