import { randomUUID } from "node:crypto";
import { ChannelSessionState, type ConversationState } from "../schema/ChatState";
import type { Identity } from "../server/auth";
import { channelMessageEvent } from "../server/channels/events";
import { plainFallback } from "../server/channels/rich";
import {
  applyStatus, channelIdleMs, failureNote, failureNoteId, goesOut, isConnectorSession, sessionIdle, type DeliveryStatus, type FailureCode,
} from "../server/channels/rules";
import { logger } from "../server/logger";
import { guardStore } from "../server/store/guard";
import type { NewMessage } from "../server/store/types";
import type { RoomContext } from "./context";
import type { Conversation } from "./Conversation";

/** A customer's message from a connector (server/channels/http.ts), routed to the room's actor. */
export interface ChannelInbound {
  customerId: string;
  /** the provider's name for the customer; absent: the name it had, else its address */
  name?: string;
  type: string;
  address: string;
  /** providerMessageKey(type, provider's message id): the idempotency key */
  messageKey: string;
  text: string;
  /** the connector's thread data for this session, when it sent any */
  context?: string;
  /** files the customer sent, uploaded by the connector for this customer (server/attachments/) */
  attachments?: string[];
}

export interface ChannelReport {
  /** the reporting connector's channel type: a report about another channel's session changes nothing */
  type?: string;
  sessionId: string;
  seq: number;
  status: DeliveryStatus;
  /** a failure's code for the state (absent: provider_rejected) */
  code?: FailureCode;
  /** a failure's detail from the provider or the transport: staff see it in a note only */
  reason?: string;
}

/** The sender of the staff-only failure notes (like the desk's events, an application of the server's own). */
const CHANNELS: Identity = { sub: "channels", role: "app", name: "Channels", teams: [] };

/**
 * Channel sessions of connectors in a customer room (docs/channels.md): a message
 * from a connector opens (or refreshes) the customer's session on that channel in
 * the active conversation, or in a new one started through the normal routing; staff
 * messages go out to every active connector session from the outbox; the sessions'
 * delivery status is kept in the replicated state (agents see it) and stored with the
 * conversation; a session ends after its channel's inactivity timer or with the
 * conversation. Everything runs under the room's serial queue.
 */
export class ChannelSessions {
  constructor(private readonly room: RoomContext, private readonly conversation: Conversation) {}

  async inbound(input: ChannelInbound) {
    return this.room.serial(async () => {
      const known = this.conversation.active?.participants.get(input.customerId)?.name;
      const identity: Identity = { sub: input.customerId, role: "customer", name: input.name ?? known ?? input.address, teams: [] };
      if (!this.conversation.active) {
        // a provider's redelivery of a message of an ended conversation must not start
        // an empty one: the idempotency check comes before any conversation check (the
        // store refuses a new message outside an active conversation, and answers a
        // stored one as a duplicate); through the fenced writer like every room write
        const probe = await guardStore(() => this.room.writer.appendMessage(this.message(identity, input, "conv-none")), { roomId: this.room.roomId })
          .catch(() => null);
        if (probe?.duplicate) {
          return { conversationId: probe.message.conversationId, sessionId: "", seq: probe.message.seq, duplicate: true };
        }
        await this.conversation.start();
      }
      const conversation = this.conversation.active!;
      const session = this.open(conversation, input, identity);
      await this.conversation.save();
      const before = this.room.state.lastSeq;
      const stored = await this.conversation.transcript.append(identity, {
        id: input.messageKey, kind: "text", text: input.text, ...(input.attachments?.length ? { attachments: input.attachments } : {}),
      }, { asParticipant: true });
      return { conversationId: stored.conversationId, sessionId: session.id, seq: stored.seq, duplicate: stored.seq <= before };
    });
  }

  /** The customer's active connector session on that channel and address, opened when there is none. */
  private open(conversation: ConversationState, input: ChannelInbound, identity: Identity): ChannelSessionState {
    const now = Date.now();
    let session = [...conversation.channelSessions.values()].find((s) =>
      isConnectorSession(s) && s.customerId === input.customerId && s.type === input.type && s.address === input.address);
    if (!session) {
      session = new ChannelSessionState();
      Object.assign(session, {
        id: `chs-${randomUUID()}`, customerId: input.customerId, type: input.type, address: input.address,
        startedAt: now, state: "active", via: "connector",
      });
      conversation.channelSessions.set(session.id, session);
      logger.info({ roomId: this.room.roomId, conversationId: conversation.id, type: input.type }, "channel session opened");
    }
    session.lastActivityAt = now;
    if (input.context !== undefined) { session.context = input.context; }
    this.conversation.addParticipant(conversation, identity);
    this.conversation.markDirty();
    return session;
  }

  private message(identity: Identity, input: ChannelInbound, conversationId: string): NewMessage {
    return {
      id: input.messageKey, conversationId, senderId: identity.sub, senderRole: "customer",
      senderName: identity.name, kind: "text", text: input.text, at: Date.now(),
    };
  }

  /** A delivery status from the connector, or a delivery the outbox gave up on. */
  async status(report: ChannelReport): Promise<{ applied: boolean }> {
    return this.room.serial(async () => {
      const session = this.conversation.active?.channelSessions.get(report.sessionId);
      // a report about a conversation that has ended changes nothing: its record is final
      if (!session || session.via !== "connector" || (report.type !== undefined && report.type !== session.type)) { return { applied: false }; }
      const code = report.code ?? "provider_rejected";
      if (applyStatus(session, report.seq, report.status, code)) {
        await this.conversation.save();
        this.room.broadcastPatch();
      }
      if (report.status === "failed") {
        logger.warn({ roomId: this.room.roomId, sessionId: session.id, seq: report.seq, code, reason: report.reason }, "channel delivery failed");
        // the detail is for staff only: a note (customers never receive notes). Written on every
        // report, not only on a change: idempotent on its id, so a report retried after a store
        // failure still leaves its note, and a repeated one leaves one note.
        await this.conversation.transcript.append(CHANNELS, {
          id: failureNoteId(session.id, report.seq, code), kind: "note",
          text: failureNote({ seq: report.seq, type: session.type, address: session.address, code, detail: report.reason }),
        });
      }
      return { applied: true };
    });
  }

  /** Whether any connector session is active (the timer check is skipped for rooms without). */
  hasConnectorSessions(): boolean {
    const conversation = this.conversation.active;
    if (!conversation) { return false; }
    for (const session of conversation.channelSessions.values()) { if (isConnectorSession(session)) { return true; } }
    return false;
  }

  /** Ends connector sessions whose channel's inactivity timer ran out. */
  async expire(now = Date.now()) {
    const conversation = this.conversation.active;
    if (!conversation) { return; }
    let ended = false;
    for (const session of conversation.channelSessions.values()) {
      if (isConnectorSession(session) && sessionIdle(session, channelIdleMs(this.room.services.config, session.type), now)) {
        session.state = "ended";
        session.endedAt = now;
        ended = true;
      }
    }
    if (ended) { await this.conversation.save(); }
  }
}

/**
 * The outbox entries delivering one message to the conversation's active connector
 * sessions whose channel has a connector endpoint (written with the message by
 * Transcript.append). A session whose channel has none is marked failed at once.
 */
export function channelDeliveries(room: RoomContext, conversation: ConversationState, message: NewMessage): string[] {
  if (!goesOut(message)) { return []; }
  const sessions = [...conversation.channelSessions.values()].filter(isConnectorSession);
  if (sessions.length === 0) { return []; } // the common case: web customers only, nothing to build
  const events: string[] = [];
  const { attachments, config } = room.services;
  // URLs that last through the outbox's retries: the connector, or its provider, fetches them
  const extras = {
    attachments: (message.attachments ?? []).map((ref) => ({ ...ref, url: attachments.url(room.roomId, ref.id, config.attachmentDeliveryUrlTtlSeconds).url })),
    fallbackText: plainFallback(message.text, message.rich),
  };
  for (const session of sessions) {
    if (!room.services.config.connectorUrls[session.type]) {
      // a code only: the state reaches the customer (server/channels/rules.ts FailureCode)
      session.failedReason = "no_endpoint";
      continue;
    }
    events.push(channelMessageEvent(room.roomId, message, { sessionId: session.id, type: session.type, address: session.address, context: session.context }, extras));
  }
  return events;
}
