import assert from "node:assert/strict";
import { absenceDue, nextDeadline, resumedStatus } from "../conversation/lifecycleRules";
import { addSample, estimateWaitMs, followUpDue, median, offerLapsed, places, queueOrder } from "../desk/queueRules";
import { pickAgent } from "../desk/routing";

const request = (id: string, kind: string, createdAt: number, over: Record<string, unknown> = {}) => ({
  id, kind, roomId: `cc-${id}`, conversationId: `conv-${id}`, targetUserId: "", forBot: false, createdAt, ...over,
});
const settings = { customerIdleMs: 100, agentIdleMs: 50, conversationMaxMs: 10_000 };

describe("desk rules (pure)", () => {
  describe("conversation timers", () => {
    it("a queued conversation is never idle: only its maximum lifetime ends it; on hold the turn rule still runs", () => {
      assert.deepEqual(nextDeadline({ status: "queued", startedAt: 1_000, lastCustomerAt: 1_000, lastStaffAt: 0 }, settings), { at: 11_000, reason: "max_lifetime" });
      assert.deepEqual(nextDeadline({ status: "on_hold", startedAt: 1_000, lastCustomerAt: 1_000, lastStaffAt: 0 }, settings), { at: 1_050, reason: "idle" });
    });

    it("whose turn it is: after a staff message the customer has CUSTOMER_IDLE_MS, after the customer's the agent has AGENT_IDLE_MS", () => {
      assert.deepEqual(nextDeadline({ status: "active", startedAt: 0, lastCustomerAt: 500, lastStaffAt: 600 }, settings), { at: 700, reason: "idle" });
      assert.deepEqual(nextDeadline({ status: "active", startedAt: 0, lastCustomerAt: 600, lastStaffAt: 500 }, settings), { at: 650, reason: "idle" });
      assert.deepEqual(nextDeadline({ status: "bot", startedAt: 0, lastCustomerAt: 9_990, lastStaffAt: 0 }, settings), { at: 10_000, reason: "max_lifetime" });
    });

    it("a resumed conversation is on hold with its first staff participant still in it, else queued", () => {
      assert.deepEqual(resumedStatus([{ userId: "c", role: "customer", leftAt: 0 }, { userId: "a", role: "agent", leftAt: 0 }]), { status: "on_hold", holder: "a" });
      assert.deepEqual(resumedStatus([{ userId: "c", role: "customer", leftAt: 0 }, { userId: "a", role: "agent", leftAt: 5 }]), { status: "queued", holder: "" });
    });

    it("an absent holder's window is due AGENT_DISCONNECT_MS after the last connection closed", () => {
      assert.equal(absenceDue(1_000, 1_999, 1_000), false);
      assert.equal(absenceDue(1_000, 2_000, 1_000), true);
      assert.equal(absenceDue(0, 99_999, 1_000), false, "nobody absent");
    });
  });

  describe("queue order, position and wait", () => {
    it("a requeued conversation goes to the front, the rest oldest first", () => {
      const order = queueOrder([request("b", "new", 20), request("a", "new", 10), request("r", "requeue", 30)]).map((r) => r.id);
      assert.deepEqual(order, ["r", "a", "b"]);
    });

    it("positions count only requests a customer waits on; the wait is the recent median per round of serving agents", () => {
      const list = [request("a", "new", 10), request("t", "transfer", 5, { targetUserId: "x" }), request("b", "handover", 20), request("c", "new", 30)];
      assert.deepEqual(places(list, [], 1).map((p) => [p.roomId, p.position, p.estimatedWaitMs]), [["cc-a", 1, -1], ["cc-b", 2, -1], ["cc-c", 3, -1]]);
      assert.deepEqual(places(list, [10_000, 20_000, 60_000], 2).map((p) => p.estimatedWaitMs), [20_000, 20_000, 40_000]);
    });

    it("median, samples and estimates", () => {
      assert.equal(median([3, 1, 2]), 2);
      assert.equal(median([4, 1, 2, 3]), 2.5);
      assert.ok(Number.isNaN(median([])));
      const samples: number[] = [];
      for (let i = 0; i < 30; i++) { addSample(samples, i, 20); }
      assert.deepEqual([samples.length, samples[0]], [20, 10]);
      assert.equal(estimateWaitMs(1, [], 3), -1);
      assert.equal(estimateWaitMs(1, [100], 3), 1_000, "at least a second");
      assert.equal(estimateWaitMs(4, [30_000], 0), 120_000, "no agent: one per round");
    });

    it("an offer lapses after OFFER_TIMEOUT_MS; a wait past QUEUE_MAX_WAIT_MS turns into a follow-up once", () => {
      assert.equal(offerLapsed(0, 10_000, 100), false, "never offered");
      assert.equal(offerLapsed(1_000, 1_099, 100), false);
      assert.equal(offerLapsed(1_000, 1_100, 100), true);
      assert.equal(followUpDue(request("a", "new", 0), 999, 1_000), false);
      assert.equal(followUpDue(request("a", "new", 0), 1_000, 1_000), true);
      assert.equal(followUpDue({ ...request("a", "new", 0), followUp: true }, 5_000, 1_000), false, "once");
      assert.equal(followUpDue(request("a", "transfer", 0), 5_000, 1_000), false, "an agent's transfer is no customer's wait");
    });
  });

  describe("next candidate", () => {
    const agent = (userId: string, active = 0) => ({ userId, role: "agent", status: "available", connected: true, activeConversations: active, maxConversations: 5 });
    it("skips the members who let the offer lapse, and not_ready ones", () => {
      const agents = [agent("a"), agent("b", 1), { ...agent("c"), status: "not_ready" }];
      const r = { targetUserId: "", forBot: false };
      assert.equal(pickAgent(r, agents)?.userId, "a");
      assert.equal(pickAgent(r, agents, new Set(["a"]))?.userId, "b");
      assert.equal(pickAgent(r, agents, new Set(["a", "b"])), null);
    });
  });
});
