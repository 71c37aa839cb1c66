import assert from "node:assert/strict";
import { budgetClassOf, budgetRates, overBudgetMessage, requestCost, UserBudgets } from "../server/policy/budgets";
import { loadConfig } from "../server/config";
import { TEST_SECRET } from "./helpers/server";
import { refusalOf } from "../server/policy/admission";
import { enterRequest, leaveRequest } from "../server/policy/connectionGuard";
import { TokenBucket } from "../server/policy/rateLimit";

describe("budgets (server/budgets.ts): request classes and the per-user registry", () => {
  const config = loadConfig({ AUTH_SECRET: TEST_SECRET });
  const rates = budgetRates(config);

  it("every request type of the protocol has a class; unknown types and plain messages cost like signals", () => {
    assert.equal(budgetClassOf("send"), "send");
    for (const t of ["read", "typing"]) { assert.equal(budgetClassOf(t), "signal", t); }
    for (const t of ["history", "conversations"]) { assert.equal(budgetClassOf(t), "query", t); }
    for (const t of ["end", "transfer", "invite", "handover", "barge", "accept", "status"]) { assert.equal(budgetClassOf(t), "desk", t); }
    for (const t of ["nope", "__proto__", "constructor", "", "0"]) { assert.equal(budgetClassOf(t), "signal", t); }
  });

  it("history and conversations cost by page, clamped to the page maximum; bad limits cost one page", () => {
    assert.equal(requestCost("history", {}, 50, 200), 1);
    assert.equal(requestCost("history", { limit: 50 }, 50, 200), 1);
    assert.equal(requestCost("history", { limit: 51 }, 50, 200), 2);
    assert.equal(requestCost("history", { limit: 200 }, 50, 200), 4);
    assert.equal(requestCost("conversations", { limit: 1e9 }, 50, 200), 4);
    assert.equal(requestCost("history", { limit: "200" }, 50, 200), 1);
    assert.equal(requestCost("history", { limit: -5 }, 50, 200), 1);
    assert.equal(requestCost("history", null, 50, 200), 1);
    assert.equal(requestCost("send", { limit: 200 }, 50, 200), 1);
  });

  it("defaults: the documented rates, bursts twice the rate except send (MESSAGES_BURST)", () => {
    assert.deepEqual(rates, {
      send: { rate: 10, burst: 20 }, signal: { rate: 20, burst: 40 }, query: { rate: 4, burst: 8 },
      desk: { rate: 5, burst: 10 }, join: { rate: 5, burst: 10 },
    });
    assert.equal(config.maxInFlightRequests, 8);
    assert.equal(config.maxBufferedBytes, 8 * 1024 * 1024);
    assert.equal(config.maxFramesPerSecond, 300);
    assert.throws(() => loadConfig({ AUTH_SECRET: TEST_SECRET, MAX_BUFFERED_BYTES: "1000" }), /MAX_BUFFERED_BYTES/);
    assert.equal(overBudgetMessage("join", rates), "more than 5 joins per second (per user)");
  });

  it("a user's buckets are shared (whatever the connection), separate per class and per user, and refill", () => {
    let now = 1_000_000;
    const budgets = new UserBudgets(rates, () => now);
    let ok = 0;
    for (let i = 0; i < 100; i++) { if (budgets.take("u1", "send")) { ok++; } }
    assert.equal(ok, 20, "the burst, then nothing");
    assert.equal(budgets.take("u1", "signal"), true, "another class is not spent");
    assert.equal(budgets.take("u2", "send"), true, "another user is not spent");
    now += 500;
    ok = 0;
    for (let i = 0; i < 100; i++) { if (budgets.take("u1", "send")) { ok++; } }
    assert.equal(ok, 5, "half a second at 10/s");
  });

  it("a take that costs more than is left is refused and costs nothing", () => {
    let now = 0;
    const bucket = new TokenBucket(4, 8, () => now);
    assert.equal(bucket.take(4), true);
    assert.equal(bucket.take(4), true);
    assert.equal(bucket.take(4), false);
    now += 250;
    assert.equal(bucket.take(4), false, "one token back, not four");
    assert.equal(bucket.take(1), true);
  });

  it("users whose buckets are full again are forgotten, so the registry does not grow with every user ever seen", () => {
    let now = 0;
    const budgets = new UserBudgets(rates, () => now, 10_000);
    for (let i = 0; i < 1_000; i++) { budgets.take(`u${i}`, "send"); }
    assert.equal(budgets.size, 1_000);
    for (let i = 0; i < 10; i++) { budgets.take("busy", "send"); }
    now += 10_000;
    budgets.take("busy", "send");
    assert.equal(budgets.size, 1, "only the user still spending");
  });

  it("admission: the in-flight cap per connection first, then the user's budget", () => {
    const cfg = loadConfig({ AUTH_SECRET: TEST_SECRET, MAX_IN_FLIGHT_REQUESTS: "2", SIGNALS_PER_SECOND: "1000" });
    const a = {}, b = {};
    for (let i = 0; i < 2; i++) { assert.equal(refusalOf(a, "admit-u", "typing", {}, cfg), null); enterRequest(a); }
    assert.equal(refusalOf(a, "admit-u", "typing", {}, cfg)?.code, "too_many_requests");
    assert.equal(refusalOf(b, "admit-u", "typing", {}, cfg), null, "another connection has its own count");
    leaveRequest(a);
    assert.equal(refusalOf(a, "admit-u", "typing", {}, cfg), null);
    // the process registry's history budget (default: 4 pages/s, burst 8): limit 200 is 4 pages
    assert.equal(refusalOf(b, "admit-h", "history", { limit: 200 }, cfg), null);
    assert.equal(refusalOf(b, "admit-h", "history", { limit: 200 }, cfg), null);
    assert.match(refusalOf(b, "admit-h", "history", { limit: 200 }, cfg)?.message ?? "", /^history: more than 4 pages of history or conversations per second \(per user\)$/);
  });

  it("sweeping does not forget a user in debt (its bucket not yet full)", () => {
    let now = 0;
    const budgets = new UserBudgets(rates, () => now, 1_000);
    for (let i = 0; i < 20; i++) { budgets.take("u", "send"); }
    now += 1_000;
    budgets.take("other", "send");
    let ok = 0;
    for (let i = 0; i < 100; i++) { if (budgets.take("u", "send")) { ok++; } }
    assert.equal(ok, 10, "one second of refill, not a fresh burst");
  });
});
