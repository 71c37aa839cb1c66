import type { StateView } from "@colyseus/schema";
import { AttachmentState, ChannelSessionState, ConversationState, MessageState, ParticipantState } from "../schema/ChatState";
import type { ChannelSessionRecord, ConversationRecord, MessageRecord, ParticipantRecord } from "../server/store/types";

/**
 * Record <-> state: what the store keeps and what the clients see are two shapes
 * of one conversation. The store's message counters (firstSeq, lastSeq,
 * messageCount) are the store's own, so a record made here carries zeros there.
 */
export function conversationRecord(roomId: string, conversation: ConversationState): ConversationRecord {
  return {
    id: conversation.id,
    roomId,
    state: "active",
    startedAt: conversation.startedAt,
    endedAt: 0, endReason: "", endedBy: "",
    firstSeq: 0, lastSeq: 0, messageCount: 0,
    participants: [...conversation.participants.values()].map((p): ParticipantRecord => ({
      userId: p.userId, role: p.role as ParticipantRecord["role"], name: p.name,
      joinedAt: p.joinedAt, leftAt: p.leftAt, readSeq: p.readSeq,
    })),
    channelSessions: [...conversation.channelSessions.values()].map((s): ChannelSessionRecord => ({
      id: s.id, customerId: s.customerId, type: s.type, address: s.address,
      startedAt: s.startedAt, endedAt: s.endedAt, state: s.state as ChannelSessionRecord["state"],
      // a connector's session carries its delivery status (docs/channels.md); an SDK one keeps its old shape
      ...(s.via === "connector" ? {
        via: "connector" as const, context: s.context, lastActivityAt: s.lastActivityAt, sentSeq: s.sentSeq,
        deliveredSeq: s.deliveredSeq, readSeq: s.readSeq, failedSeq: s.failedSeq, failedReason: s.failedReason,
      } : {}),
    })),
  };
}

export function conversationStateFrom(record: ConversationRecord): ConversationState {
  const conversation = new ConversationState();
  conversation.id = record.id;
  conversation.startedAt = record.startedAt;
  for (const p of record.participants) {
    const participant = new ParticipantState();
    Object.assign(participant, { userId: p.userId, role: p.role, name: p.name, joinedAt: p.joinedAt, leftAt: p.leftAt, readSeq: p.readSeq });
    participant.connected = false;
    conversation.participants.set(p.userId, participant);
  }
  for (const s of record.channelSessions) {
    const session = new ChannelSessionState();
    Object.assign(session, s);
    conversation.channelSessions.set(s.id, session);
  }
  return conversation;
}

export function messageState(message: MessageRecord): MessageState {
  const state = new MessageState();
  state.seq = message.seq;
  state.id = message.id;
  state.senderId = message.senderId;
  state.senderRole = message.senderRole;
  state.senderName = message.senderName;
  state.kind = message.kind;
  state.text = message.text;
  state.at = message.at;
  for (const ref of message.attachments ?? []) {
    const attachment = new AttachmentState();
    Object.assign(attachment, { id: ref.id, name: ref.name, type: ref.type, size: ref.size });
    state.attachments.push(attachment);
  }
  if (message.rich) { state.rich = JSON.stringify(message.rich); }
  return state;
}

/** Makes the conversation's notes, present and past, visible to one staff client. */
export function showNotes(view: StateView, conversation: ConversationState) {
  view.add(conversation.notes);
  for (const note of conversation.notes) { view.add(note); }
}

export function sameChannel(a: { type: string; address: string } | null | undefined, b: { type: string; address: string }) {
  return !!a && a.type === b.type && a.address === b.address;
}
