import assert from "node:assert/strict";
import { toMessage } from "../client/delivery";
import { cleanFileName, largestUpload, uploadRefusal } from "../server/attachments/limits";
import { channelMessageEvent } from "../server/channels/events";
import { plainFallback } from "../server/channels/rich";
import {
  applyStatus, FAILURE_CODES, FAILURE_DETAIL_MAX, failureNote, failureNoteId, goesOut, providerMessageKey, sessionIdle, type DeliveryHorizons,
} from "../server/channels/rules";
import { ID_PATTERN } from "../server/ids";
import { fillSeq } from "../server/store/types";

/** The pure rules of server/channels/ (docs/channels.md). */
describe("channel rules", () => {
  const fresh = (): DeliveryHorizons => ({ sentSeq: 0, deliveredSeq: 0, readSeq: 0, failedSeq: 0, failedReason: "" });

  it("statuses only raise their horizons and pull the lower ones with them", () => {
    const s = fresh();
    assert.equal(applyStatus(s, 3, "read"), true);
    assert.deepEqual(s, { sentSeq: 3, deliveredSeq: 3, readSeq: 3, failedSeq: 0, failedReason: "" });
    assert.equal(applyStatus(s, 2, "delivered"), false, "an older report changes nothing");
    applyStatus(s, 5, "sent");
    assert.deepEqual([s.sentSeq, s.deliveredSeq, s.readSeq], [5, 3, 3]);
  });

  it("keeps the latest failure, cleared only by a later success of that same message", () => {
    const s = fresh();
    applyStatus(s, 4, "failed", "gave_up");
    assert.deepEqual([s.failedSeq, s.failedReason], [4, "gave_up"]);
    applyStatus(s, 2, "failed", "no_endpoint");
    assert.deepEqual([s.failedSeq, s.failedReason], [4, "gave_up"], "an older failure does not hide a newer one");
    applyStatus(s, 5, "delivered");
    assert.equal(s.failedSeq, 4, "another message's success does not hide the failure");
    applyStatus(s, 4, "sent");
    assert.deepEqual([s.failedSeq, s.failedReason], [0, ""]);
    applyStatus(s, 6, "failed");
    assert.equal(s.failedReason, "provider_rejected", "a connector's report without a code");
  });

  it("words a failure for staff on one line, bounded; its note id is stable per message, session and code", () => {
    const raw = "131047:\n Re-engagement\u0000 message\u202E\t" + "x".repeat(400);
    const note = failureNote({ seq: 7, type: "whatsapp", address: "+15550001", code: "provider_rejected", detail: raw });
    assert.match(note, /^Message 7 was not delivered on whatsapp to \+15550001: provider_rejected \(131047: Re-engagement message x+…\)$/);
    assert.equal([...note.slice(note.indexOf("(") + 1, -1)].length, FAILURE_DETAIL_MAX);
    assert.equal(failureNote({ seq: 2, type: "sms", address: "a", code: "gave_up" }), "Message 2 was not delivered on sms to a: gave_up");
    assert.equal(failureNoteId("chs-1", 7, "gave_up"), failureNoteId("chs-1", 7, "gave_up"));
    assert.notEqual(failureNoteId("chs-1", 7, "gave_up"), failureNoteId("chs-1", 8, "gave_up"));
    assert.notEqual(failureNoteId("chs-1", 7, "gave_up"), failureNoteId("chs-1", 7, "provider_rejected"));
    assert.match(failureNoteId("chs-1", 7, "gave_up"), ID_PATTERN);
    assert.deepEqual([...FAILURE_CODES].sort(), ["gave_up", "no_endpoint", "provider_rejected"]);
  });

  it("sends out staff, bot and app texts only", () => {
    for (const role of ["agent", "supervisor", "bot", "app"] as const) { assert.ok(goesOut({ kind: "text", senderRole: role })); }
    assert.ok(!goesOut({ kind: "text", senderRole: "customer" }));
    assert.ok(!goesOut({ kind: "note", senderRole: "agent" }));
    assert.ok(!goesOut({ kind: "event", senderRole: "agent" }));
  });

  it("keys a provider's message by channel type and id, as a valid message id", () => {
    const key = providerMessageKey("email", "<CA+abc/def@mail.example.com>");
    assert.match(key, ID_PATTERN);
    assert.equal(key, providerMessageKey("email", "<CA+abc/def@mail.example.com>"));
    assert.notEqual(key, providerMessageKey("whatsapp", "<CA+abc/def@mail.example.com>"));
    assert.notEqual(key, providerMessageKey("email", "<CA+abc/deg@mail.example.com>"));
  });

  it("times a session out from its last inbound message", () => {
    assert.equal(sessionIdle({ startedAt: 1_000, lastActivityAt: 5_000 }, 1_000, 5_999), false);
    assert.equal(sessionIdle({ startedAt: 1_000, lastActivityAt: 5_000 }, 1_000, 6_000), true);
    assert.equal(sessionIdle({ startedAt: 1_000 }, 1_000, 2_000), true);
  });

  it("builds a delivery event whose seq the store fills in, any text included", () => {
    const text = "quotes \" \\ \u0000 ✓ \u0001seq";
    const template = channelMessageEvent("cc-x", {
      id: "a1", conversationId: "conv-1", senderId: "ag", senderRole: "agent", senderName: "Al", kind: "text", text, at: 7,
    }, { sessionId: "chs-1", type: "email", address: "a@b.c", context: "{\"subject\":\"Hi\"}" });
    const event = JSON.parse(fillSeq(template, 42));
    assert.deepEqual(event, {
      id: "cc-x:42:chs-1", type: "channel.message", roomId: "cc-x", conversationId: "conv-1", at: 7,
      channel: { sessionId: "chs-1", type: "email", address: "a@b.c", context: "{\"subject\":\"Hi\"}" },
      data: { seq: 42, id: "a1", conversationId: "conv-1", senderId: "ag", senderRole: "agent", senderName: "Al", kind: "text", text, at: 7 },
    });
  });
});

describe("attachment limits and rich fallbacks", () => {
  it("refuses types a channel does not take and files over its limit", () => {
    assert.equal(uploadRefusal("web", "image/png", 10 * 1024 * 1024), null);
    assert.equal(uploadRefusal("web", "image/png", 10 * 1024 * 1024 + 1)?.code, "payload_too_large");
    assert.equal(uploadRefusal("web", "application/x-msdownload", 10)?.code, "invalid_payload");
    assert.equal(uploadRefusal("whatsapp", "image/png", 5_000_001)?.code, "payload_too_large", "WhatsApp's 5 MB for images");
    assert.equal(uploadRefusal("sms", "image/png", 100), null, "a channel without a table takes the web's");
    assert.equal(uploadRefusal("web", "image/png", 0)?.code, "invalid_payload");
    assert.equal(largestUpload(), 16_000_000);
    assert.equal(cleanFileName("../../etc/passwd"), "passwd");
    assert.equal(cleanFileName("C:\\\\x\\\\a\u202e.png\u0000"), "a.png");
    assert.equal(cleanFileName(".."), "attachment");
    assert.equal(cleanFileName(undefined), "attachment");
  });

  it("writes rich content as plain text: cards with their links, quick replies numbered", () => {
    assert.equal(plainFallback("hi", undefined), "hi");
    assert.equal(plainFallback("Pick one:", { quickReplies: [{ id: "a", title: "Yes" }, { id: "b", title: "No" }] }), "Pick one:\n\n1. Yes\n2. No");
    assert.equal(plainFallback("", { cards: [{ title: "T", subtitle: "S", buttons: [{ id: "x", title: "Open", url: "https://e.example/1" }, { id: "y", title: "Call" }] }] }),
      "T\nS\nOpen: https://e.example/1\n- Call");
  });
});

describe("the client library's messages carry attachments and rich content", () => {
  it("from a state row (rich as JSON) and a history row (rich as an object) alike", () => {
    const files = [{ id: "att-1", name: "a.png", type: "image/png", size: 3 }];
    const rich = { quickReplies: [{ id: "y", title: "Yes" }] };
    const base = { seq: 1, id: "m", senderId: "a", senderRole: "agent", senderName: "A", kind: "text", text: "t", at: 1 };
    assert.deepEqual(toMessage({ ...base, attachments: files, rich: JSON.stringify(rich) }, "c"), { ...base, conversationId: "c", attachments: files, rich });
    assert.deepEqual(toMessage({ ...base, attachments: files, rich }, "c"), { ...base, conversationId: "c", attachments: files, rich });
    assert.deepEqual(toMessage({ ...base, attachments: [], rich: "" }, "c"), { ...base, conversationId: "c" });
  });
});
