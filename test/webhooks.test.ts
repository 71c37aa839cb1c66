import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import Redis from "ioredis";
import { loadConfig } from "../server/config";
import { logger } from "../server/logger";
import { MemoryStore } from "../server/store/memory";
import { createWebhooks, noWebhooks, type WebhookEvent } from "../server/webhooks";
import { clientFor, freePort, sleep, startServerProcess, uniqueId, until, type ServerProcess } from "./helpers/server";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";

const SECRET = "webhook-secret-for-tests";

/** One HTTP request the receiver got: every attempt, refused or not. */
interface Attempt extends WebhookEvent {
  /** the delivery id header */
  delivery: string;
  /** signature, event header and delivery header all match the body */
  valid: boolean;
  status: number | "hung";
}

/** The receiver's check, written independently of server/webhooks.ts (as in docs/webhooks.md). */
function verify(secret: string, headers: http.IncomingHttpHeaders, rawBody: string) {
  const timestamp = String(headers["x-cc-timestamp"]);
  if (!(Math.abs(Date.now() - Number(timestamp)) < 5 * 60_000)) { return false; }
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
  const given = String(headers["x-cc-signature"] ?? "");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

type Policy = (event: WebhookEvent, attempt: number) => number | "hang";

/**
 * A CRM's webhook receiver on a free port. `policy` answers each attempt (the
 * attempt number counts this delivery id's requests so far). Nothing is deduplicated:
 * `attempts` has every request, `accepted` every request answered 2xx.
 */
async function receiver(policy: Policy = () => 200) {
  const perDelivery = new Map<string, number>();
  const attempts: Attempt[] = [];
  const port = await freePort();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      const event = JSON.parse(body) as WebhookEvent;
      const delivery = String(req.headers["x-cc-delivery"]);
      const valid = req.method === "POST"
        && req.headers["content-type"] === "application/json"
        && verify(SECRET, req.headers, body)
        && !verify(`${SECRET}x`, req.headers, body)
        && req.headers["x-cc-event"] === event.type
        && delivery === event.id;
      const n = (perDelivery.get(delivery) ?? 0) + 1;
      perDelivery.set(delivery, n);
      const status = policy(event, n);
      attempts.push({ ...event, delivery, valid, status: status === "hang" ? "hung" : status });
      if (status !== "hang") { res.writeHead(status).end(); }
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    attempts,
    accepted: () => attempts.filter((a) => typeof a.status === "number" && a.status >= 200 && a.status < 300),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
type Receiver = Awaited<ReturnType<typeof receiver>>;

/** Every event accepted exactly once (counted per delivery id, no deduplication); every attempt signed. */
function assertEachAcceptedOnce(hook: Receiver) {
  assert.deepEqual(hook.attempts.filter((a) => !a.valid).map((a) => a.delivery), [], "attempts with a bad signature or headers");
  const counts = new Map<string, number>();
  for (const a of hook.accepted()) { counts.set(a.delivery, (counts.get(a.delivery) ?? 0) + 1); }
  const twice = [...counts].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], "deliveries accepted more than once");
}

/**
 * In order per room: no attempt of a room's event is made before the room's
 * previous event was accepted (so the room's attempts are e1, e1, …, e2, e2, …).
 */
function assertInOrder(attempts: Attempt[], roomId: string) {
  const mine = attempts.filter((a) => a.roomId === roomId);
  let current = "";
  const done = new Set<string>();
  for (const a of mine) {
    if (a.delivery !== current) {
      assert.ok(!done.has(a.delivery) && (current === "" || done.has(current)),
        `room ${roomId}: ${a.delivery} attempted before ${current} was accepted, or again after it`);
      current = a.delivery;
    }
    if (typeof a.status === "number" && a.status < 300) { done.add(a.delivery); }
  }
}

async function chatRoom(url: string) {
  const customerId = uniqueId("c");
  const customer = await (await clientFor(url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
  const agent = await (await clientFor(url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
  for (const room of [customer, agent]) { room.onMessage("conversation_ended", () => {}); }
  return { customer, agent, roomId: customer.roomId };
}

async function outboxLength(redis: Redis, roomId: string) {
  return redis.xlen(`cc:outbox:{${roomId}}`);
}

for (const mode of ["embedded", "redis"] as const) {
  describe(`webhooks (${mode} node)`, function () {
    this.timeout(40_000);

    for (const failFirst of [0, 2]) {
      it(`every event exactly once, in order per room, signed${failFirst ? `, through ${failFirst} refusals (500) per delivery` : ""}`, async () => {
        const hook = await receiver((_event, n) => (n <= failFirst ? 500 : 200));
        if (mode === "redis") { await flushTestDb(); }
        const server: ServerProcess = await startServerProcess({
          WEBHOOK_URLS: hook.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF_MS: "50", CONVERSATION_IDLE_MS: "1500", CONVERSATION_MAX_MS: "4000",
          ...(mode === "redis" ? { REDIS_URL: REDIS_TEST_URL } : {}),
        });
        try {
          const rooms = await Promise.all([0, 1].map(() => chatRoom(server.url)));
          for (const { customer, agent } of rooms) {
            await customer.request("send", { id: "m1", text: "hello" });
            await agent.request("send", { id: "m2", text: "hi there" });
            await agent.request("send", { id: "m3", text: "internal", kind: "note" });
            await customer.request("send", { id: "m1", text: "hello" }); // a retry: no second event
            await agent.request("end", { reason: "resolved" });
            await customer.request("send", { id: "m4", text: "one more thing" });
          }
          // the second conversations wait in the queue (no agent takes them): never idle, they
          // end at CONVERSATION_MAX_MS (docs/desk.md)
          const expected = rooms.length * 8;
          await until(() => hook.accepted().length >= expected, 20_000, `${expected} deliveries (got ${hook.accepted().length})`);
          await sleep(700); // time for a duplicate to show up

          assertEachAcceptedOnce(hook);
          assert.equal(hook.accepted().length, expected);
          assert.ok(hook.attempts.every((a) => a.valid), "every attempt signed, with matching headers");
          const perDelivery = new Map<string, number>();
          for (const a of hook.attempts) { perDelivery.set(a.delivery, (perDelivery.get(a.delivery) ?? 0) + 1); }
          assert.ok([...perDelivery.values()].every((n) => n === failFirst + 1), `each delivery attempted ${failFirst + 1} times`);
          for (const { roomId } of rooms) {
            assertInOrder(hook.attempts, roomId);
            const events = hook.accepted().filter((d) => d.roomId === roomId);
            assert.deepEqual(events.map((d) => d.type), [
              "conversation.started", "message.stored", "message.stored", "message.stored", "conversation.ended",
              "conversation.started", "message.stored", "conversation.ended",
            ]);
            const messages = events.filter((d) => d.type === "message.stored");
            assert.deepEqual(messages.map((d) => (d.data as any).seq), [1, 2, 3, 4]);
            assert.deepEqual(messages.map((d) => d.delivery), [1, 2, 3, 4].map((seq) => `${roomId}:${seq}`));
            assert.deepEqual(messages.map((d) => [(d.data as any).kind, (d.data as any).text]),
              [["text", "hello"], ["text", "hi there"], ["note", "internal"], ["text", "one more thing"]]);
            const [c1, c2] = [events[0].conversationId, events[5].conversationId];
            assert.notEqual(c1, c2);
            assert.deepEqual(events.map((d) => d.conversationId), [c1, c1, c1, c1, c1, c2, c2, c2]);
            assert.deepEqual([events[0], events[4], events[5], events[7]].map((d) => d.delivery),
              [`${c1}:started`, `${c1}:ended`, `${c2}:started`, `${c2}:ended`]);
            assert.equal((events[4].data as any).endReason, "resolved");
            assert.equal((events[7].data as any).endReason, "max_lifetime");
          }
          if (mode === "redis") {
            const redis = new Redis(REDIS_TEST_URL);
            try {
              for (const { roomId } of rooms) { assert.equal(await outboxLength(redis, roomId), 0, "the outbox is drained"); }
              assert.deepEqual(await redis.smembers("cc:outboxes"), [], "no outbox is listed as pending");
            } finally { redis.disconnect(); }
          }
          for (const { customer, agent } of rooms) { await customer.leave(); await agent.leave(); }
        } finally {
          await server.stop();
          await hook.close();
        }
      });
    }
  });
}

describe("webhooks: the outbox outlives its process (redis nodes)", function () {
  this.timeout(40_000);

  it("a stuck room does not hold up another; after its node is killed, another node delivers its outbox in order", async () => {
    let stuckRoom = "";
    let open = false;
    const hook = await receiver((event) => (event.roomId === stuckRoom && !open ? 503 : 200));
    await flushTestDb();
    const env = {
      WEBHOOK_URLS: hook.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF_MS: "50", WEBHOOK_MAX_ATTEMPTS: "1000",
      WEBHOOK_TIMEOUT_MS: "500", SWEEP_INTERVAL_MS: "300", REDIS_URL: REDIS_TEST_URL,
    };
    const redis = new Redis(REDIS_TEST_URL);
    let first: ServerProcess | undefined = await startServerProcess(env);
    let second: ServerProcess | undefined;
    try {
      const stuck = await chatRoom(first.url);
      stuckRoom = stuck.roomId;
      const flowing = await chatRoom(first.url);
      for (const { customer, agent } of [stuck, flowing]) {
        await customer.request("send", { id: "m1", text: "hello" });
        await agent.request("send", { id: "m2", text: "hi" });
        await customer.request("send", { id: "m3", text: "thanks" });
      }
      const ofRoom = (roomId: string) => hook.accepted().filter((a) => a.roomId === roomId);
      await until(() => ofRoom(flowing.roomId).length >= 4, 10_000, "the flowing room's 4 events");
      await until(async () => (await outboxLength(redis, flowing.roomId)) === 0, 5_000, "the flowing room's outbox drained");
      await until(() => hook.attempts.filter((a) => a.roomId === stuckRoom).length >= 3, 10_000, "refused attempts of the stuck room");
      assert.deepEqual(new Set(hook.attempts.filter((a) => a.roomId === stuckRoom).map((a) => a.delivery)).size, 1,
        "only the stuck room's first event is tried while it is refused");
      assert.equal(await outboxLength(redis, stuckRoom), 4, "the stuck room's 4 events wait in its outbox");

      await first.kill(); // no graceful stop: the outbox and the dead node's lease are all that is left
      first = undefined;
      open = true;
      second = await startServerProcess(env); // nobody joins it: its dispatcher finds the orphaned outbox
      await until(() => ofRoom(stuckRoom).length >= 4, 15_000, "the stuck room's events through the second node");
      await sleep(700);

      assertEachAcceptedOnce(hook);
      for (const roomId of [stuckRoom, flowing.roomId]) {
        assertInOrder(hook.attempts, roomId);
        const events = ofRoom(roomId);
        assert.deepEqual(events.map((a) => a.type), ["conversation.started", "message.stored", "message.stored", "message.stored"]);
        assert.deepEqual(events.slice(1).map((a) => (a.data as any).seq), [1, 2, 3]);
      }
      assert.ok(hook.attempts.every((a) => a.valid), "every attempt signed");
      await until(async () => (await outboxLength(redis, stuckRoom)) === 0, 5_000, "the stuck room's outbox drained");
    } finally {
      await first?.kill();
      await second?.stop();
      redis.disconnect();
      await hook.close();
    }
  });
});

describe("webhooks: the dispatcher in process (memory store)", function () {
  this.timeout(20_000);
  let level: string;
  before(() => { level = logger.level; logger.level = "silent"; });
  after(() => { logger.level = level; });

  const configFor = (urls: string[], env: Record<string, string> = {}) => loadConfig({
    NODE_ENV: "test", AUTH_SECRET: "webhook-tests-secret-of-at-least-32-bytes", WEBHOOK_URLS: urls.join(","), WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF_MS: "20", SWEEP_INTERVAL_MS: "200", ...env,
  });
  const message = (seq: number, conversationId = "conv-1") => ({
    type: "message.stored" as const, conversationId, at: 1_000 + seq,
    data: { seq, id: `m${seq}`, conversationId, kind: "text", text: `text ${seq}` },
  });

  it("is off without WEBHOOK_URLS", () => {
    assert.equal(createWebhooks(loadConfig({ NODE_ENV: "test", AUTH_SECRET: "webhook-tests-secret-of-at-least-32-bytes" }), new MemoryStore()), noWebhooks);
  });

  it("retries an attempt that times out, and sends the room's next event only after it", async () => {
    const hook = await receiver((_event, n) => (n === 1 ? "hang" : 200));
    const webhooks = createWebhooks(configFor([hook.url], { WEBHOOK_TIMEOUT_MS: "300" }), new MemoryStore());
    try {
      webhooks.emit("cc-x", { type: "conversation.started", conversationId: "conv-1", data: { id: "conv-1" } });
      for (const seq of [1, 2]) { webhooks.emit("cc-x", message(seq)); }
      await until(() => hook.accepted().length >= 3, 10_000, "3 deliveries");
      await sleep(300);
      assertEachAcceptedOnce(hook);
      assertInOrder(hook.attempts, "cc-x");
      assert.deepEqual(hook.attempts.map((a) => [a.delivery, a.status]), [
        ["conv-1:started", "hung"], ["conv-1:started", 200], ["cc-x:1", "hung"], ["cc-x:1", 200], ["cc-x:2", "hung"], ["cc-x:2", 200],
      ]);
      assert.equal(hook.accepted()[1].at, 1_001);
    } finally {
      await webhooks.drain(500);
      await hook.close();
    }
  });

  it("gives an event up after WEBHOOK_MAX_ATTEMPTS and goes on with the next", async () => {
    const hook = await receiver((event) => (event.id === "cc-a:2" ? 500 : 200));
    const webhooks = createWebhooks(configFor([hook.url], { WEBHOOK_MAX_ATTEMPTS: "3" }), new MemoryStore());
    try {
      for (const seq of [1, 2, 3]) { webhooks.emit("cc-a", message(seq)); }
      for (const seq of [1, 2, 3]) { webhooks.emit("cc-b", message(seq, "conv-b")); }
      await until(() => hook.accepted().length >= 5, 10_000, "5 deliveries");
      await sleep(300);
      assertEachAcceptedOnce(hook);
      assert.deepEqual(hook.attempts.filter((a) => a.roomId === "cc-a").map((a) => [a.delivery, a.status]), [
        ["cc-a:1", 200], ["cc-a:2", 500], ["cc-a:2", 500], ["cc-a:2", 500], ["cc-a:3", 200],
      ]);
      assert.deepEqual(hook.accepted().filter((a) => a.roomId === "cc-b").map((a) => a.delivery), ["cc-b:1", "cc-b:2", "cc-b:3"]);
    } finally {
      await webhooks.drain(500);
      await hook.close();
    }
  });

  it("sends every event to every endpoint, and stops at drain with the rest left in the outbox", async () => {
    const one = await receiver();
    let refuse = false;
    const two = await receiver(() => (refuse ? 500 : 200));
    const store = new MemoryStore();
    const webhooks = createWebhooks(configFor([one.url, two.url]), store);
    try {
      for (const seq of [1, 2, 3]) { webhooks.emit("cc-m", message(seq)); }
      await until(() => one.accepted().length >= 3 && two.accepted().length >= 3, 10_000, "3 deliveries to each endpoint");
      for (const hook of [one, two]) {
        assertEachAcceptedOnce(hook);
        assert.deepEqual(hook.accepted().map((a) => a.delivery), ["cc-m:1", "cc-m:2", "cc-m:3"]);
      }
      refuse = true;
      webhooks.emit("cc-m", message(4));
      await until(() => two.attempts.length >= 5, 10_000, "retries of the refused event");
      await webhooks.drain(200);
      const attempts = two.attempts.length;
      await sleep(400);
      assert.equal(two.attempts.length, attempts, "no attempt after drain");
      assert.deepEqual((await store.readOutbox("cc-m", 10)).map((e) => JSON.parse(e.payload).id), ["cc-m:4"],
        "the undelivered event stays in the outbox");
    } finally {
      await webhooks.drain(0);
      await one.close();
      await two.close();
    }
  });
});
