import { who, type ChatClient } from "../conversation/context";
import { csatRequests } from "../conversation/csat";
import { joinEvents } from "../conversation/joinEvents";
import { conversationRequests } from "../conversation/requests";
import { deskRequests, type DeskHost } from "../desk/actions";
import { ChannelSessions, type ChannelInbound, type ChannelReport } from "../conversation/channels";
import { CustomerDesk } from "../desk/CustomerDesk";
import { ChatState } from "../schema/ChatState";
import type { Identity } from "../server/auth";
import { logger } from "../server/logger";
import { checkText } from "../server/policy/requests";
import type { RequestTable } from "../server/policy/requestTable";
import { RoomActor } from "./RoomActor";

/**
 * A customer room (`contact_center`, `private`): the conversation, plus the desk
 * link to the room's team and the desk actions (transfer, invite, handover, barge).
 */
export abstract class CustomerRoom extends RoomActor<ChatState> implements DeskHost {
  state = new ChatState();
  readonly desk = new CustomerDesk(this);
  /** connector sessions (docs/channels.md) */
  channels!: ChannelSessions;

  protected async started() {
    this.extensions.push(this.desk, joinEvents);
    this.channels = new ChannelSessions(this, this.conversation);
    // channels' inactivity timers: checked every second, exact enough for timers of minutes to days
    this.clock.setInterval(() => {
      if (this.channels.hasConnectorSessions()) { this.serial(() => this.channels.expire()).catch(() => {}); }
    }, 1_000);
    this.desk.actorStarted();
  }

  /** An agent's customer rooms are counted cluster-wide for MAX_ROOMS_PER_AGENT. */
  protected async admit(client: ChatClient) {
    const identity = who(client);
    if (identity.role !== "agent") { return; }
    await this.services.agentRooms.add(identity.sub, this.roomId)
      .catch((e) => logger.warn({ err: e?.message, roomId: this.roomId }, "could not count the agent's room"));
  }

  protected left(client: ChatClient, remaining: number) {
    const identity = who(client);
    if (remaining > 0 || identity.role !== "agent") { return; }
    this.services.agentRooms.remove(identity.sub, this.roomId)
      .catch((e) => logger.warn({ err: e?.message, roomId: this.roomId }, "could not uncount the agent's room"));
  }

  protected requests(): RequestTable<this, ChatClient> {
    return { ...conversationRequests, ...deskRequests, ...csatRequests } as RequestTable<this, ChatClient>;
  }

  // --- remote room calls from the team's actor (desk/TeamDesk.ts) -------------------

  queueUpdate(conversationId: string, position: number, estimatedWaitMs: number, followUp: boolean) {
    return this.desk.queueUpdate(conversationId, position, estimatedWaitMs, followUp);
  }
  followUp(conversationId: string) { return this.desk.followUp(conversationId); }

  // --- remote room calls from the HTTP APIs ------------------------------------------

  /** A customer's message from a connector (server/channels/http.ts), by a remote room call. */
  async postFromChannel(input: ChannelInbound) {
    // a file without words (a photo) is a message too
    const text = input.attachments?.length && !input.text.trim() ? "" : checkText(input.text, this.services.config.maxTextCodePoints);
    return this.channels.inbound({ ...input, text });
  }

  /** A delivery status from a connector, or a delivery the outbox gave up on (server/wiring/app.ts). */
  async channelStatus(report: ChannelReport) {
    return this.channels.status(report);
  }

  /**
   * An application's message, posted through the HTTP API (server/http/appApi.ts)
   * and routed here, to the room's one actor, by a remote room call: it is
   * sequenced, stored and delivered like any message, and the app becomes a participant.
   */
  async postFromApp(identity: Identity, payload: { id: string; text: string }) {
    const text = checkText(payload.text, this.services.config.maxTextCodePoints);
    return this.serial(async () => {
      const stored = await this.conversation.transcript.append(identity, { id: payload.id, kind: "text", text }, { asParticipant: true });
      return { seq: stored.seq };
    });
  }
}
