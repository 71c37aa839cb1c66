import assert from "node:assert/strict";
import { backoffDelay } from "../client/backoff";
import { fetchMissed } from "../client/catchUp";
import { SeqDelivery, windowAbove, windowHasGap } from "../client/delivery";
import { ChatError, toChatError } from "../client/errors";
import type { ChatMessage } from "../client/protocol";
import { tokenExp } from "../client/token";

const msg = (seq: number, conversationId = "v1"): ChatMessage => ({ seq, id: `m${seq}`, senderId: "u", senderRole: "customer", senderName: "U", kind: "text", text: `t${seq}`, at: seq, conversationId });

describe("client library rules (pure parts)", () => {
  describe("SeqDelivery", () => {
    it("delivers each seq once, in order, whatever order and repeats it is offered in", () => {
      const out: number[] = [];
      const d = new SeqDelivery((m) => out.push(m.seq));
      d.offer([msg(2), msg(1), msg(3)]);
      d.offer([msg(1), msg(2), msg(3), msg(4)]);
      d.offer([msg(4), msg(4), msg(6)]);
      assert.deepEqual(out, [1, 2, 3, 4, 6]);
      assert.equal(d.lastSeq, 6);
    });

    it("while held, live messages wait behind the missed ones, and each comes once", () => {
      const out: number[] = [];
      const d = new SeqDelivery((m) => out.push(m.seq), 10);
      d.hold();
      assert.equal(d.offer([msg(9), msg(10), msg(14), msg(15)]), 0, "nothing delivered while held");
      d.offer([msg(11), msg(12), msg(13), msg(14)]); // history brings the gap and a repeat
      assert.deepEqual(out, []);
      assert.equal(d.release(), 5);
      assert.deepEqual(out, [11, 12, 13, 14, 15]);
      d.offer([msg(15), msg(16)]);
      assert.deepEqual(out, [11, 12, 13, 14, 15, 16]);
    });

    it("a window that starts beyond the next expected seq is a possible gap", () => {
      assert.equal(windowHasGap([5, 6, 7], 4), false);
      assert.equal(windowHasGap([5, 6, 7], 6), false);
      assert.equal(windowHasGap([60, 61], 4), true);
      assert.equal(windowHasGap([], 4), false);
      assert.equal(windowHasGap([60], 0), false, "nothing delivered yet: the first window is the start");
    });

    it("a state patch copies only the window's rows above lastSeq, and finds the window's oldest seq in any order", () => {
      // rows as the state holds them: schema objects that change under the caller, read through at()
      const rows = [12, 10, 11, 14, 13].map((seq) => ({ seq, id: `m${seq}`, senderId: "u", senderRole: "agent", senderName: "A", kind: "text", text: `t${seq}`, at: seq, extra: "not copied" }));
      const { fresh, oldest } = windowAbove(rows, "v7", 12);
      assert.equal(oldest, 10);
      assert.deepEqual(fresh.map((m) => m.seq).sort(), [13, 14]);
      assert.deepEqual(fresh.find((m) => m.seq === 14), { seq: 14, id: "m14", senderId: "u", senderRole: "agent", senderName: "A", kind: "text", text: "t14", at: 14, conversationId: "v7" });
      rows[3].text = "changed later";
      assert.equal(fresh.find((m) => m.seq === 14)!.text, "t14", "a plain copy, not the row");
      assert.deepEqual(windowAbove(rows, "v7", 14), { fresh: [], oldest: 10 });
      assert.deepEqual(windowAbove([], "v7", 3), { fresh: [], oldest: undefined });
      assert.deepEqual(windowAbove(undefined, "v7", 3), { fresh: [], oldest: undefined });
    });
  });

  describe("backoffDelay", () => {
    const opts = { baseMs: 100, capMs: 2_000, floorMs: 20 };
    it("grows exponentially under its ceiling, with jitter, never under the floor or over the cap", () => {
      assert.equal(backoffDelay(0, opts, () => 0.999), 99);
      assert.equal(backoffDelay(3, opts, () => 0.999), 799);
      assert.equal(backoffDelay(10, opts, () => 0.999), 1_998, "capped");
      assert.equal(backoffDelay(1_000, opts, () => 1), 2_000, "no overflow for huge attempts");
      assert.equal(backoffDelay(5, opts, () => 0), 20, "floor");
      const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, opts)));
      assert.ok(spread.size > 10, "jittered");
      for (const d of spread) { assert.ok(d >= 20 && d <= 1_600); }
    });
  });

  describe("toChatError", () => {
    it("keeps the server's code and message from a rejection, a join refusal and a dropped connection", () => {
      const rejected = Object.assign(new Error("request rejected"), { name: "rejected", reason: { code: "text_too_long", message: "too long" } });
      assert.deepEqual({ ...toChatError(rejected, "send") }, { ...new ChatError("text_too_long", "too long", "send") });
      assert.equal(toChatError(rejected).message, "too long");
      const refused = toChatError(new Error("forbidden: not a member of team sales"));
      assert.equal(refused.code, "forbidden");
      assert.equal(refused.message, "not a member of team sales");
      assert.equal(toChatError(new Error("connection closed before a response was received.")).code, "disconnected");
      assert.equal(toChatError(new Error('cannot send request "send": connection is not open.')).code, "disconnected", "a socket closing under a send: retried after the rejoin, not refused");
      assert.equal(toChatError(new Error('request "send" timed out after 10000ms.')).code, "timeout");
      assert.equal(toChatError(new TypeError("fetch failed")).code, "unreachable");
      assert.ok(toChatError(new Error("x")) instanceof ChatError);
    });
  });

  describe("fetchMissed", () => {
    it("pages the current conversation, and ended ones the client had not finished, above the last seq", async () => {
      // room: v1 ended with seqs 1..7; v2 ended 8..9; v3 active 10..14; the client saw up to 5 in v1
      const rows: Record<string, number[]> = { v1: [1, 2, 3, 4, 5, 6, 7], v2: [8, 9], v3: [10, 11, 12, 13, 14] };
      const asked: string[] = [];
      const ask = async (type: string, p: any): Promise<any> => {
        asked.push(`${type}:${p.conversationId ?? "-"}:${p.after ?? ""}`);
        if (type === "conversations") {
          return { conversations: [{ id: "v2", firstSeq: 8, lastSeq: 9 }, { id: "v1", firstSeq: 1, lastSeq: 7 }, { id: "v0", firstSeq: 0, lastSeq: 0 }] };
        }
        const id = p.conversationId ?? "v3";
        const messages = rows[id].filter((s) => s > p.after).slice(0, p.limit).map((s) => msg(s, undefined));
        return { conversationId: id, messages };
      };
      const missed = await fetchMissed(ask as any, 5, "v1", 2);
      assert.deepEqual(missed.map((m) => m.seq).sort((a, b) => a - b), [6, 7, 8, 9, 10, 11, 12, 13, 14]);
      assert.ok(missed.every((m) => m.conversationId === (m.seq <= 7 ? "v1" : m.seq <= 9 ? "v2" : "v3")));
      assert.ok(asked.includes("conversations:-:"));
      // same conversation: no listing of ended ones
      asked.length = 0;
      await fetchMissed(ask as any, 12, "v3", 200);
      assert.deepEqual(asked, ["history:-:12"]);
    });
  });

  it("tokenExp reads a JWT's exp without verifying it", () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    assert.equal(tokenExp(`${b64({ alg: "HS256" })}.${b64({ sub: "ü", exp: 1_900_000_000 })}.sig`), 1_900_000_000);
    assert.equal(tokenExp("garbage"), undefined);
  });
});
