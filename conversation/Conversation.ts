import { randomUUID } from "node:crypto";
import { StateView } from "@colyseus/schema";
import { ChannelSessionState, ConversationState, ParticipantState } from "../schema/ChatState";
import type { Identity } from "../server/auth";
import { logger } from "../server/logger";
import { seesNotes } from "../server/policy/permissions";
import { guardStore } from "../server/store/guard";
import type { ConversationRecord } from "../server/store/types";
import { conversationEndedEvent, conversationStartedEvent } from "../server/webhooks/events";
import { data, who, type ChatClient, type RoomContext } from "./context";
import { IdleTimer } from "./idleTimer";
import { HOLDING_ROLES, resumedStatus } from "./lifecycleRules";
import { conversationRecord, conversationStateFrom, messageState, sameChannel, showNotes } from "./mapping";
import { Transcript } from "./Transcript";

/**
 * A room's one active conversation: its lifecycle (resume, start, end), who attends
 * it (participants and the customers' channel sessions) and the idle timer. Every
 * mutation runs under the room's serial queue; the replicated state is the truth
 * while the actor lives, the store is written before anything is acknowledged.
 */
export class Conversation {
  readonly idle: IdleTimer;
  readonly transcript: Transcript;
  private participantsDirty = false;

  constructor(private readonly room: RoomContext) {
    this.idle = new IdleTimer(room, (endedAt, reason) => this.end(reason, "system", endedAt));
    this.transcript = new Transcript(room, this);
  }

  /** The active conversation; an ended one stays in the state (status "ended") but is not active. */
  get active(): ConversationState | undefined {
    const conversation = this.room.state.conversation;
    return conversation && conversation.status !== "ended" ? conversation : undefined;
  }

  /** Customer rooms of the desk: a conversation is queued until an agent or bot holds it. */
  private get queues() { return this.room.kind === "contact_center"; }

  private get store() { return this.room.services.store; }

  /** Loads the active conversation a previous actor left behind, if any. */
  async resume() {
    const { room } = this;
    const conversationId = room.record.activeConversationId;
    if (!conversationId) { return; }
    const stored = await this.store.getConversation(room.roomId, conversationId);
    if (!stored) { return; }
    const conversation = conversationStateFrom(stored);
    if (this.queues) { Object.assign(conversation, resumedStatus(conversation.participants.values())); }
    const recent = await this.store.readMessages(room.roomId, conversationId, {
      limit: room.services.config.stateMessageWindow, includeNotes: true,
    });
    for (const message of recent) {
      (message.kind === "note" ? conversation.notes : conversation.messages).push(messageState(message));
    }
    room.state.conversation = conversation;
    room.fire("onConversationResumed", this.record(conversation));
    this.idle.lastActivityAt = Math.max(room.record.lastActivityAt, stored.startedAt);
    room.fire("onAttendanceChanged");
    // When the deadline already passed (no actor was alive to end it), the timer
    // fires at once, but only after this actor won its registration.
    this.idle.arm();
  }

  /**
   * Starts a conversation. In a desk's customer room the customers attend it, the
   * staff member who starts one on purpose (`start`), and staff who came into the
   * room before it had any conversation; a tab still open on an ended conversation
   * never receives the next one, which goes through the queue (docs/desk.md). In
   * other rooms everyone present attends.
   */
  async start(starter?: Identity): Promise<ConversationState> {
    const { room } = this;
    const now = Date.now();
    const conversation = new ConversationState();
    conversation.id = `conv-${randomUUID()}`;
    conversation.startedAt = now;
    conversation.status = this.queues ? "queued" : "active";
    for (const client of room.clients) {
      if (client.userData?.dropped || client.userData?.monitor) { continue; }
      const identity = who(client);
      const attends = !this.queues || identity.role === "customer" || identity.sub === starter?.sub || !!client.userData?.fresh;
      if (attends) { this.attend(conversation, client); }
    }
    const record = this.record(conversation);
    const events = room.services.webhooks.enabled ? [conversationStartedEvent(record)] : [];
    await guardStore(() => room.writer.startConversation(record, events), { roomId: room.roomId });
    room.record.activeConversationId = conversation.id;
    room.state.conversation = conversation;
    room.updateAutoDispose();
    for (const client of room.clients) { if (client.view) { showNotes(client.view, conversation); } }
    this.idle.lastActivityAt = now;
    this.idle.reschedule();
    logger.info({ roomId: room.roomId, conversationId: conversation.id }, "conversation started");
    room.fire("onConversationStarted", record);
    return conversation;
  }

  async end(reason: string, endedBy: string, endedAt = Date.now()) {
    const { room } = this;
    const conversation = this.active;
    if (!conversation) { return; }
    for (const participant of conversation.participants.values()) {
      if (!participant.leftAt) { participant.leftAt = endedAt; }
      participant.typing = false;
    }
    for (const session of conversation.channelSessions.values()) {
      if (session.state === "active") { session.state = "ended"; session.endedAt = endedAt; }
    }
    const record: ConversationRecord = { ...this.record(conversation), state: "ended", endedAt, endReason: reason, endedBy };
    const events = room.services.webhooks.enabled ? [conversationEndedEvent(record)] : [];
    await guardStore(() => room.writer.endConversation(record, events), { roomId: room.roomId });
    this.participantsDirty = false;
    room.record.activeConversationId = null;
    room.record.pastConversations++;
    // it stays in the state, ended, so a client keeps the transcript until the next one starts
    Object.assign(conversation, { status: "ended", holder: "", endedAt, endReason: reason, queuePosition: 0, estimatedWaitMs: -1 });
    for (const participant of conversation.participants.values()) { participant.connected = false; }
    for (const client of room.clients) { if (client.userData) { client.userData.fresh = false; } }
    room.broadcast("conversation_ended", { conversationId: conversation.id, reason });
    logger.info({ roomId: room.roomId, conversationId: conversation.id, reason }, "conversation ended");
    room.updateAutoDispose();
    room.fire("onConversationEnded", record);
  }

  /** A client joined the room: it sees the notes if staff, and attends the active conversation. */
  async join(client: ChatClient) {
    const identity = who(client);
    if (seesNotes(identity)) {
      client.view = new StateView();
      if (this.room.state.conversation) { showNotes(client.view, this.room.state.conversation); }
    }
    await this.room.serial(async () => {
      const conversation = this.active;
      if (!conversation || data(client).monitor) { return; }
      this.attend(conversation, client);
      this.idle.touch(identity.role);
      await this.save();
      if (identity.role !== "customer") {
        this.room.fire("onStaffJoined", { conversationId: conversation.id, userId: identity.sub, role: identity.role });
      }
      this.room.fire("onAttendanceChanged");
    });
  }

  /** A monitoring supervisor takes part: becomes a participant the customer sees. */
  async barge(client: ChatClient) {
    data(client).monitor = false;
    this.attend(this.active!, client);
    await this.save();
  }

  /** A client's last connection left: it leaves the conversation, its channel session ends. */
  async leave(client: ChatClient, remaining: number) {
    const conversation = this.active;
    if (!conversation) { return; }
    const userId = who(client).sub;
    const now = Date.now();
    if (remaining === 0) {
      const participant = conversation.participants.get(userId);
      if (participant) { participant.leftAt = now; participant.connected = false; participant.typing = false; }
      if (participant && participant.role !== "customer") {
        this.room.fire("onStaffLeft", { conversationId: conversation.id, userId, role: participant.role });
      }
    }
    const channel = client.userData?.channel;
    if (channel && !this.room.clients.some((c) => c !== client && who(c).sub === userId && sameChannel(c.userData?.channel, channel))) {
      for (const session of conversation.channelSessions.values()) {
        if (session.customerId === userId && session.state === "active" && sameChannel(session, channel)) {
          session.state = "ended"; session.endedAt = now;
        }
      }
    }
    await this.save();
    this.room.fire("onAttendanceChanged");
  }

  /** Adds a client's user to the conversation and opens its channel session. */
  attend(conversation: ConversationState, client: ChatClient) {
    const identity = who(client);
    const now = Date.now();
    const participant = this.addParticipant(conversation, identity);
    participant.leftAt = 0;
    participant.connected = true;
    if (this.queues && HOLDING_ROLES.has(identity.role)) { this.hold(conversation, identity); }

    const channel = client.userData?.channel;
    if (channel) {
      const open = [...conversation.channelSessions.values()].some((s) =>
        s.customerId === identity.sub && s.state === "active" && sameChannel(s, channel));
      if (!open) {
        const session = new ChannelSessionState();
        session.id = `chs-${randomUUID()}`;
        session.customerId = identity.sub;
        session.type = channel.type;
        session.address = channel.address;
        session.startedAt = now;
        session.state = "active";
        conversation.channelSessions.set(session.id, session);
      }
    }
    this.participantsDirty = true;
  }

  /**
   * A staff member attends: the first one (or a human after a bot) holds the
   * conversation, which leaves the queue.
   */
  private hold(conversation: ConversationState, identity: Identity) {
    const holder = conversation.participants.get(conversation.holder);
    const humanAfterBot = holder?.role === "bot" && identity.role !== "bot";
    if (!conversation.holder || humanAfterBot || conversation.status === "queued" || !holder || holder.leftAt) {
      conversation.holder = identity.sub;
    }
    const wasWaiting = conversation.status === "queued" || conversation.status === "on_hold";
    conversation.status = conversation.participants.get(conversation.holder)?.role === "bot" ? "bot" : "active";
    conversation.queuePosition = 0;
    conversation.estimatedWaitMs = -1;
    if (wasWaiting) { this.idle.lastStaffAt = Date.now(); this.idle.reschedule(); }
  }

  /** The user's participant, created on first sight (an app posting through the HTTP API). */
  addParticipant(conversation: ConversationState, identity: Identity): ParticipantState {
    let participant = conversation.participants.get(identity.sub);
    if (!participant) {
      participant = new ParticipantState();
      Object.assign(participant, { userId: identity.sub, role: identity.role, name: identity.name, joinedAt: Date.now() });
      conversation.participants.set(identity.sub, participant);
      this.participantsDirty = true;
    }
    return participant;
  }

  setConnected(userId: string, connected: boolean) {
    const participant = this.active?.participants.get(userId);
    if (!participant) { return; }
    const others = this.room.clients.some((c) => who(c).sub === userId && !c.userData?.dropped);
    participant.connected = connected || others;
    if (!participant.connected) { participant.typing = false; }
    this.room.fire("onAttendanceChanged");
  }

  /** Read horizons changed: flushed with the participants. */
  markDirty() { this.participantsDirty = true; }

  async save() {
    const conversation = this.active;
    if (!conversation) { return; }
    await guardStore(() => this.room.writer.saveConversation(this.record(conversation)), { roomId: this.room.roomId });
    this.participantsDirty = false;
  }

  async flush() {
    if (this.participantsDirty) { await this.save(); }
  }

  record(conversation: ConversationState): ConversationRecord {
    return conversationRecord(this.room.roomId, conversation);
  }
}
