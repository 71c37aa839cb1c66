import { ArraySchema, Schema, type } from "@colyseus/schema";
import { ConversationState } from "./ChatState";
import { SafeMapSchema } from "./SafeMapSchema";

/** An agent, supervisor or bot of the team, as routing sees it (keyed by user id). */
export class AgentState extends Schema {
  @type("string") userId = "";
  @type("string") name = "";
  @type("string") role = "";
  /** available | busy | away | not_ready */
  @type("string") status = "available";
  /** why not_ready (e.g. missed_offer), "" otherwise */
  @type("string") reason = "";
  @type("number") activeConversations = 0;
  @type("number") maxConversations = 0;
  @type("boolean") connected = false;
}

/** A conversation request waiting in the team's queue (keyed by request id). */
export class RequestState extends Schema {
  @type("string") id = "";
  /** new | requeue | transfer | conference | handover */
  @type("string") kind = "new";
  @type("string") roomId = "";
  @type("string") roomKind = "";
  @type("string") customerId = "";
  @type("string") conversationId = "";
  /** only this user may accept (transfer or conference to a named agent) */
  @type("string") targetUserId = "";
  @type("string") fromUserId = "";
  @type("string") reason = "";
  /** the team uses a bot first: only bots are offered it */
  @type("boolean") forBot = false;
  @type("number") createdAt = 0;
  @type("boolean") escalated = false;
  @type("string") offeredTo = "";
  /** when the current offer was made (OFFER_TIMEOUT_MS runs from here) */
  @type("number") offeredAt = 0;
  /** waited past QUEUE_MAX_WAIT_MS: kept in the queue for an asynchronous follow-up */
  @type("boolean") followUp = false;
}

/** A customer conversation of the team that is active now (keyed by room id). */
export class LiveConversationState extends Schema {
  @type("string") roomId = "";
  @type("string") conversationId = "";
  @type("string") customerId = "";
  @type(["string"]) agents = new ArraySchema<string>();
  @type("number") startedAt = 0;
}

/**
 * The team room: its own chat (the fields of ChatState, which the team room's actor,
 * a RoomActor, uses), plus the team's queue, agents and live conversations.
 *
 * It repeats ChatState's four fields instead of extending it on purpose: a schema
 * class's subclasses are part of its handshake, so every customer room would send
 * the team types to its clients, and @colyseus/schema 5 keeps each client-side
 * reflected subclass in a static map (TypeContext.inheritedTypes) that is never
 * cleared, so an SDK client (a bot, an agent desktop, the load generator) leaked
 * ~25 KB per room it joined (test/chat.test.ts, docs/benchmarks.md).
 */
export class TeamState extends Schema {
  @type("string") roomId = "";
  @type("string") kind = "";
  @type("number") lastSeq = 0;
  @type(ConversationState) conversation: ConversationState | undefined = undefined;

  @type({ map: AgentState }) agents = new SafeMapSchema<AgentState>();
  @type({ map: RequestState }) requests = new SafeMapSchema<RequestState>();
  @type({ map: LiveConversationState }) live = new SafeMapSchema<LiveConversationState>();
}
