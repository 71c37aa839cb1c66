import { randomUUID } from "node:crypto";
import type { ChatClient } from "../conversation/context";
import { data } from "../conversation/context";
import type { ConversationHost } from "../conversation/requests";
import { callTeam } from "../server/cluster/roomCalls";
import { RequestError } from "../server/errors";
import type { RequestCall, RequestTable } from "../server/policy/requestTable";
import type { RequestType } from "../server/policy/requests";
import type { QueuedRequest } from "../server/store/types";
import type { CustomerDesk } from "./CustomerDesk";

/** A customer room: a conversation and a desk link to its team. */
export interface DeskHost extends ConversationHost {
  readonly desk: CustomerDesk;
}

type DeskCall<T extends RequestType> = RequestCall<DeskHost, ChatClient, T>;

const needsConversation = ({ room }: { room: DeskHost }, action: string) => {
  if (!room.conversation.active) { throw new RequestError("no_active_conversation", `${action}: no active conversation`); }
};

/**
 * The one path of the desk actions that hand work to a team's queue (transfer,
 * conference invite, bot handover): under the room's queue, the request goes into
 * the team's queue first, then the transcript records it as an event.
 */
function handOff(call: DeskCall<RequestType>, order: {
  kind: QueuedRequest["kind"]; teamId?: string; targetUserId?: string; reason?: string; text: (name: string) => string;
}) {
  const { room, identity } = call;
  return room.serial(async () => {
    const request = room.desk.request(order.kind, {
      targetUserId: order.targetUserId ?? "", fromUserId: identity.sub, reason: order.reason ?? "",
    });
    await callTeam(order.teamId ?? room.desk.teamId, "enqueue", request).catch(() => {
      throw new RequestError("unavailable", "the team's queue is unreachable, retry");
    });
    const seq = await room.conversation.transcript.event(identity, order.text(identity.name));
    return { requestId: request.id, seq };
  });
}

const reasonSuffix = (reason: string | undefined) => (reason ? `: ${reason}` : "");

/** The desk actions of customer rooms (docs/desk.md). */
export const deskRequests: RequestTable<DeskHost, ChatClient> = {
  transfer: {
    action: "transfer",
    guard: (call) => {
      needsConversation(call, "transfer");
      if (!call.payload.toUserId && !call.payload.toTeamId) { throw new RequestError("invalid_payload", "transfer: toUserId or toTeamId is required"); }
    },
    run: (call) => {
      const { payload, room } = call;
      const teamId = payload.toTeamId ?? room.desk.teamId;
      const to = payload.toUserId ? `agent ${payload.toUserId}` : `team ${teamId}`;
      return handOff(call, {
        kind: "transfer", teamId, targetUserId: payload.toUserId, reason: payload.reason,
        text: (name) => `${name} transferred the conversation to ${to}${reasonSuffix(payload.reason)}`,
      });
    },
  },

  invite: {
    action: "invite",
    guard: (call) => needsConversation(call, "invite"),
    run: (call) => handOff(call, {
      kind: "conference", teamId: call.payload.teamId, targetUserId: call.payload.userId, reason: call.payload.reason,
      text: (name) => `${name} invited agent ${call.payload.userId} to the conversation`,
    }),
  },

  handover: {
    action: "handover",
    guard: (call) => needsConversation(call, "handover"),
    run: (call) => handOff(call, {
      kind: "handover", reason: call.payload?.reason,
      text: (name) => `${name} handed the conversation over to an agent${reasonSuffix(call.payload?.reason)}`,
    }),
  },

  /** An agent starts a conversation on purpose (an outbound follow-up): it holds it, nothing is queued. */
  start: {
    action: "start",
    guard: ({ room, client }) => {
      if (room.kind !== "contact_center") { throw new RequestError("forbidden", "start is for the desk's customer rooms"); }
      if (data(client).monitor) { throw new RequestError("forbidden", "a monitoring supervisor barges in instead"); }
    },
    run: ({ room, identity }) => room.serial(async () => {
      if (room.conversation.active) { throw new RequestError("conflict", "a conversation is already active in this room"); }
      const conversation = await room.conversation.start(identity);
      return { conversationId: conversation.id };
    }),
  },

  /** A waiting customer leaves an email address for the follow-up: kept as a note staff see. */
  follow_up: {
    action: "follow_up",
    guard: (call) => needsConversation(call, "follow_up"),
    run: ({ room, identity, payload }) => room.serial(async () => {
      const seq = (await room.conversation.transcript.append(identity, {
        id: `fu-${randomUUID()}`, kind: "note", text: `Follow-up requested; reply by email to ${payload.email}`,
      })).seq;
      return { seq };
    }),
  },

  /** A monitoring supervisor takes part: becomes a participant the customer sees. */
  barge: {
    action: "barge",
    guard: (call) => {
      needsConversation(call, "barge");
      if (!data(call.client).monitor) { throw new RequestError("invalid_payload", "barge: already taking part"); }
    },
    run: ({ room, client, identity }) => room.serial(async () => {
      await room.conversation.barge(client);
      const seq = await room.conversation.transcript.event(identity, `${identity.name} (supervisor) joined the conversation`);
      room.fire("onStaffJoined", { conversationId: room.conversation.active!.id, userId: identity.sub, role: "supervisor" });
      return { seq };
    }),
  },
};

/** The team room has no desk actions of its own: it refuses them, as before. */
export function refusedInTeamRooms<R>(): RequestTable<R, ChatClient> {
  const refuse = (action: string) => ({
    guard: () => { throw new RequestError("forbidden", `${action} is for customer rooms`); },
    run: () => undefined,
  });
  return {
    transfer: refuse("transfer"), invite: refuse("invite"), handover: refuse("handover"), barge: refuse("barge"),
    start: refuse("start"), follow_up: refuse("follow_up"),
  };
}
