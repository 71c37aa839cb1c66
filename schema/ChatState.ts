import { ArraySchema, Schema, type, view } from "@colyseus/schema";
import { SafeMapSchema } from "./SafeMapSchema";

/** One attendee of the active conversation (keyed by user id in `participants`). */
export class ParticipantState extends Schema {
  @type("string") userId = "";
  @type("string") role = "";
  @type("string") name = "";
  @type("number") joinedAt = 0;
  /** 0 while the participant is in the conversation */
  @type("number") leftAt = 0;
  @type("boolean") connected = false;
  /** highest seq this participant has read */
  @type("number") readSeq = 0;
  @type("boolean") typing = false;
}

/** One customer's presence on one media channel (keyed by session id). */
export class ChannelSessionState extends Schema {
  @type("string") id = "";
  @type("string") customerId = "";
  @type("string") type = "";
  @type("string") address = "";
  @type("number") startedAt = 0;
  @type("number") endedAt = 0;
  @type("string") state = "active";
  /** "connector": a channel connector's session (docs/channels.md); "" for an SDK connection */
  @type("string") via = "";
  /** delivery status reported by the connector: highest seq sent, delivered, read */
  @type("number") sentSeq = 0;
  @type("number") deliveredSeq = 0;
  @type("number") readSeq = 0;
  /** the latest failed delivery on this session (0 when none) and its code (server/channels/rules.ts FailureCode: the customer sees it too, the detail is a staff note) */
  @type("number") failedSeq = 0;
  @type("string") failedReason = "";
  /** server-only: the connector's thread data and the last inbound message's time */
  context = "";
  lastActivityAt = 0;
}

/** A file a message carries; its URL comes from the HTTP API (docs/channels.md "Attachments"). */
export class AttachmentState extends Schema {
  @type("string") id = "";
  @type("string") name = "";
  @type("string") type = "";
  @type("number") size = 0;
}

export class MessageState extends Schema {
  @type("number") seq = 0;
  @type("string") id = "";
  @type("string") senderId = "";
  @type("string") senderRole = "";
  @type("string") senderName = "";
  @type("string") kind = "text";
  @type("string") text = "";
  @type("number") at = 0;
  @type([AttachmentState]) attachments = new ArraySchema<AttachmentState>();
  /** quick replies and cards as JSON (docs/channels.md "Rich messages"); "" when none */
  @type("string") rich = "";
}

/** Where a conversation is in its lifecycle (docs/desk.md, "A conversation"). */
export type ConversationStatus = "queued" | "bot" | "active" | "on_hold" | "wrap_up" | "ended";

export class ConversationState extends Schema {
  @type("string") id = "";
  @type("number") startedAt = 0;
  /** queued | bot | active | on_hold | wrap_up | ended */
  @type("string") status: ConversationStatus = "active";
  /** user id of the agent or bot holding it, "" for none */
  @type("string") holder = "";
  @type("number") endedAt = 0;
  @type("string") endReason = "";
  /** 1-based place in its team's queue, 0 when not queued */
  @type("number") queuePosition = 0;
  /** estimated time until an agent accepts, -1 when unknown */
  @type("number") estimatedWaitMs = -1;
  /** waited past QUEUE_MAX_WAIT_MS: an agent answers here later (asynchronous follow-up) */
  @type("boolean") followUp = false;
  @type({ map: ParticipantState }) participants = new SafeMapSchema<ParticipantState>();
  @type({ map: ChannelSessionState }) channelSessions = new SafeMapSchema<ChannelSessionState>();
  /** the newest text and event messages, oldest first, bounded by the room's window */
  @type([MessageState]) messages = new ArraySchema<MessageState>();
  /** agent notes: only clients whose StateView holds this array (agents, supervisors) see them */
  @view() @type([MessageState]) notes = new ArraySchema<MessageState>();
}

export class ChatState extends Schema {
  @type("string") roomId = "";
  @type("string") kind = "";
  /** the last seq of the room; a client whose last seen seq is lower can page `history` */
  @type("number") lastSeq = 0;
  /** the active conversation; after its end it stays, with status "ended", until the next starts */
  @type(ConversationState) conversation: ConversationState | undefined = undefined;
}
