import assert from "node:assert/strict";
import { clientFor, startServerProcess, uniqueId, type ServerProcess } from "./helpers/server";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";

describe("operations: health, metrics, logs, monitor", function () {
  this.timeout(30_000);
  let server: ServerProcess;
  before(async () => { server = await startServerProcess({ MONITOR_PASSWORD: "monitor-pass-123" }); });
  after(async () => { await server?.stop(); });

  it("/health is ok with matchmaking up, names the mode and the store's round trip; /ready says 200", async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(typeof body.store.ms, "number");
    assert.deepEqual(body, { status: "ok", redis: "embedded", store: { ok: true, ms: body.store.ms }, matchmaker: "ready", draining: false, lease: "held" });
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, draining: false, lease: "held", down: null });
  });

  it("/health reports Redis on a Redis node", async () => {
    await flushTestDb();
    const node = await startServerProcess({ REDIS_URL: REDIS_TEST_URL });
    try {
      const body = await (await fetch(`${node.url}/health`)).json();
      assert.equal(body.redis.ok, true);
      assert.equal(typeof body.redis.ms, "number");
      assert.equal(body.store.ok, true);
      assert.equal(body.status, "ok");
    } finally { await node.stop(); }
  });

  it("/metrics has connections, rooms by kind, conversations, messages, request latency, event-loop delay and storage errors", async () => {
    const customerId = uniqueId("c");
    const room = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await room.request("send", { id: "m1", text: "metrics please" });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? NaN);
    assert.ok(value(/^cc_connections (\d+)/m) >= 1);
    assert.ok(value(/^cc_rooms\{kind="contact_center"\} (\d+)/m) >= 1);
    assert.ok(value(/^cc_active_conversations (\d+)/m) >= 1);
    assert.ok(value(/^cc_messages_stored_total\{kind="text"\} (\d+)/m) >= 1);
    assert.ok(value(/^cc_request_duration_seconds_count\{type="send",outcome="ok"\} (\d+)/m) >= 1);
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
    assert.match(text, /^cc_storage_errors_total 0/m);
    await room.leave();
  });

  it("logs are JSON with room and conversation ids, never message text or tokens", async () => {
    const secretText = `do-not-log-${uniqueId("t")}`;
    const client = await clientFor(server.url, { sub: uniqueId("c"), role: "customer" });
    const room = await client.joinOrCreate("contact_center", {});
    await room.request("send", { id: "s1", text: secretText });
    await room.leave();
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.output().split("\n").filter(Boolean);
    for (const line of lines) { assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`); }
    const started = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "conversation started" && l.roomId === room.roomId);
    assert.ok(started?.conversationId?.startsWith("conv-"));
    assert.ok(!server.output().includes(secretText), "message text in the logs");
    assert.ok(!server.output().includes(client.auth.token!), "a token in the logs");
  });

  it("the Colyseus monitor is behind basic auth", async () => {
    assert.equal((await fetch(`${server.url}/monitor/api`)).status, 401);
    const wrong = Buffer.from("admin:wrong").toString("base64");
    assert.equal((await fetch(`${server.url}/monitor/api`, { headers: { authorization: `Basic ${wrong}` } })).status, 401);
    const right = Buffer.from("admin:monitor-pass-123").toString("base64");
    const res = await fetch(`${server.url}/monitor/api`, { headers: { authorization: `Basic ${right}` } });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray((await res.json()).rooms));
  });
});

describe("start-up configuration", function () {
  this.timeout(20_000);

  it("refuses to start in production without an AUTH_SECRET of at least 32 bytes, saying why", async () => {
    // "" stands for unset: the helper passes the test secret unless told otherwise
    for (const secret of ["", "short-secret"]) {
      const env: Record<string, string> = { NODE_ENV: "production", AUTH_SECRET: secret };
      const failed = await startServerProcess(env).then((s) => s.stop().then(() => "started"), (e: Error) => e.message);
      assert.match(failed, /AUTH_SECRET must be set to at least 32 bytes when NODE_ENV=production/);
    }
  });

  it("refuses a malformed number with the variable's name", async () => {
    const failed = await startServerProcess({ CONVERSATION_IDLE_MS: "soon" }).then((s) => s.stop().then(() => "started"), (e: Error) => e.message);
    assert.match(failed, /CONVERSATION_IDLE_MS must be an integer >= 1, got .{0,2}"soon/);
  });
});
