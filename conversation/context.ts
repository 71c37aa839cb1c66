import type { Client } from "@colyseus/core";
import type { ClockTimer } from "@colyseus/timer";
import type { ConversationState } from "../schema/ChatState";
import type { Identity } from "../server/auth";
import type { Services } from "../server/services";
import type { ConversationRecord, MessageRecord, RoomKind, RoomRecord, RoomWriter } from "../server/store/types";

/** What a room keeps per connection. */
export interface ClientData {
  channel: { type: string; address: string } | null;
  /** dropped and waiting for a reconnection */
  dropped: boolean;
  /** a supervisor monitoring silently: no participant, notes (whispers) only */
  monitor: boolean;
  /**
   * joined while the room held no conversation, ended or not: staff connections like
   * this attend the next one that starts; a tab open on an earlier conversation does not
   */
  fresh: boolean;
}

export type ChatClient = Client<{ userData: ClientData; auth: Identity }>;

/** onAuth and onJoin set these before any handler can run. */
export const who = (client: ChatClient): Identity => client.auth as Identity;
export const data = (client: ChatClient) => client.userData as ClientData;

/** The chat part of every room's state (ChatState, and TeamState's copy of it). */
export interface ChatStateLike {
  roomId: string;
  kind: string;
  lastSeq: number;
  conversation: ConversationState | undefined;
}

/**
 * Named moments of a room that side effects plug into (webhook dispatch, the team
 * desk link, metrics), instead of being written inline where they happen. A hook
 * never blocks or fails the room: the fan-out (rooms/hooks.ts) logs what throws.
 */
export interface RoomHooks {
  onActorStarted?(room: RoomContext): void;
  onActorDisposed?(room: RoomContext): void;
  onConversationStarted?(room: RoomContext, conversation: ConversationRecord): void;
  /** a new actor took over the room's active conversation from the store */
  onConversationResumed?(room: RoomContext, conversation: ConversationRecord): void;
  afterMessageStored?(room: RoomContext, message: MessageRecord): void;
  onConversationEnded?(room: RoomContext, conversation: ConversationRecord): void;
  /** a participant of the active conversation connected, dropped, left or came back; or an actor resumed it */
  onAttendanceChanged?(room: RoomContext): void;
  /** an agent, supervisor or bot became a participant of the active conversation */
  onStaffJoined?(room: RoomContext, staff: { conversationId: string; userId: string; role: string }): void;
  /** an agent, supervisor or bot participant's last connection left the room for good */
  onStaffLeft?(room: RoomContext, staff: { conversationId: string; userId: string; role: string }): void;
}

export type HookName = keyof RoomHooks;

/**
 * What the room actor (rooms/RoomActor.ts) offers the features composed into it:
 * the conversation, the transcript, the idle timer, the desk.
 */
export interface RoomContext {
  readonly roomId: string;
  readonly kind: RoomKind;
  readonly record: RoomRecord;
  readonly state: ChatStateLike;
  readonly services: Services;
  /**
   * The room's writes, fenced with this actor's owner epoch (rooms/ownership.ts):
   * the ONLY way a feature writes its room. A refused write stops the actor and
   * rejects with `unavailable`.
   */
  readonly writer: RoomWriter;
  readonly clients: readonly ChatClient[];
  readonly clock: ClockTimer;
  /** Runs mutations of this room one at a time, in arrival order. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** Calls every extension's hook of that name. */
  fire<K extends HookName>(hook: K, ...args: Parameters<NonNullable<RoomHooks[K]>> extends [RoomContext, ...infer A] ? A : never): void;
  broadcast(type: string, message: unknown): void;
  /** sends the state changes now instead of at the next patch tick */
  broadcastPatch(): void;
  /** true once the matchmaker has registered this actor as the room's one actor */
  isLive(): boolean;
  /** re-reads what keeps the actor alive with nobody in it */
  updateAutoDispose(): void;
}
