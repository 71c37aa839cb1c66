import assert from "node:assert/strict";
import { conversationEndedEvent, fillSeq, messageStoredEvent } from "../server/webhooks/events";
import type { ConversationRecord, NewMessage } from "../server/store/types";

const message: NewMessage = {
  id: "m-1", conversationId: "conv-1", senderId: "cust-1", senderRole: "customer", senderName: "Ann \"A\"",
  kind: "text", text: "seq \\u0001seq\\u0001 {\"seq\":1} \u0001 ✓", at: 1_700_000_000_123,
};

describe("webhook events (pure)", () => {
  it("message.stored: a template whose seq the store fills in, content never mistaken for the mark", () => {
    const body = JSON.parse(fillSeq(messageStoredEvent("cc-x", message), 42));
    assert.deepEqual(body, {
      id: "cc-x:42", type: "message.stored", roomId: "cc-x", conversationId: "conv-1", at: message.at,
      data: { ...message, seq: 42 },
    });
  });

  it("conversation.ended: id, time and record", () => {
    const record = { id: "conv-1", roomId: "cc-x", endedAt: 5 } as ConversationRecord;
    assert.deepEqual(JSON.parse(conversationEndedEvent(record)), {
      id: "conv-1:ended", type: "conversation.ended", roomId: "cc-x", conversationId: "conv-1", at: 5, data: record,
    });
  });
});
