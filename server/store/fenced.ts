import type { ConversationRecord, RoomStore, RoomWriter } from "./types";

/**
 * `RoomStore.forOwner` of every store: the room's writes, each passing the owner's
 * epoch to the store method, which checks it in the same atomic step as the write.
 */
export function ownerView(store: RoomStore, roomId: string, epoch: number): RoomWriter {
  const ours = (conversation: ConversationRecord) => {
    // a view writes its own room only: another room's write would pass a wrong epoch
    if (conversation.roomId !== roomId) { throw new Error(`the writer of ${roomId} cannot write a conversation of ${conversation.roomId}`); }
    return conversation;
  };
  return {
    roomId,
    epoch,
    addMembers: (userIds) => store.addMembers(roomId, userIds, epoch),
    startConversation: (conversation, events = []) => store.startConversation(ours(conversation), events, epoch),
    saveConversation: (conversation) => store.saveConversation(ours(conversation), epoch),
    endConversation: (conversation, events = []) => store.endConversation(ours(conversation), events, epoch),
    rateConversation: (conversationId, csat, events = []) => store.rateConversation(roomId, conversationId, csat, events, epoch),
    appendMessage: (message, events = []) => store.appendMessage(roomId, message, events, epoch),
    setIdleDeadline: (deadline) => store.setIdleDeadline(roomId, deadline, epoch),
    clearIdleDeadline: () => store.clearIdleDeadline(roomId, epoch),
    appendOutbox: (payloads) => store.appendOutbox(roomId, payloads, epoch),
    saveQueue: (teamId, requests) => store.saveQueue(teamId, requests, { roomId, epoch }),
    saveLive: (teamId, live) => store.saveLive(teamId, live, { roomId, epoch }),
    saveAgents: (teamId, agents) => store.saveAgents(teamId, agents, { roomId, epoch }),
  };
}
