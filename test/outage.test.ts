import assert from "node:assert/strict";
import net from "node:net";
import { toChatError } from "../client/errors";
import { freshDatabase, type FreshDatabase } from "./helpers/pg";
import { startOwnPostgres, type OwnPostgres } from "./helpers/pgServer";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import { clientFor, sleep, startServerProcess, uniqueId, until, type ServerProcess } from "./helpers/server";
import { signToken } from "../server/auth";
import { TEST_SECRET } from "./helpers/server";

/** What no answer may carry: driver text (ioredis, pg, Colyseus' IPC) instead of a code. */
const RAW = /stream isn't writeable|enableOfflineQueue|ECONNREFUSED|connection is closed|Connection terminated|timed out|ipc_timeout|Command timed out/i;

interface Health { status: string; redis: { ok: boolean; ms?: number; error?: string }; store: { ok: boolean; ms?: number; error?: string }; matchmaker: string }

/** GET a health route; asserts it answered within the 1 s the load balancer is promised (with room for a loaded machine). */
async function probe(node: ServerProcess, route: "/health" | "/ready"): Promise<{ status: number; body: any; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(`${node.url}${route}`, { signal: AbortSignal.timeout(5_000) });
  const body = await res.json();
  const ms = Date.now() - t0;
  assert.ok(ms < 1_500, `${route} answered in ${ms} ms`);
  return { status: res.status, body, ms };
}

/** A join's refusal as the client library sees it. */
async function joinRefusal(node: ServerProcess, customerId = uniqueId("o")): Promise<{ code: string; message: string; ms: number }> {
  const client = await clientFor(node.url, { sub: customerId, role: "customer" });
  const t0 = Date.now();
  try {
    const room = await client.joinOrCreate("contact_center", { channel: { type: "web" } });
    await room.leave();
    return { code: "joined", message: "", ms: Date.now() - t0 };
  } catch (e) {
    const err = toChatError(e);
    return { code: err.code, message: err.message, ms: Date.now() - t0 };
  }
}

/** The matchmaking HTTP answer itself, as a load balancer or a non-SDK client sees it. */
async function rawMatchmake(node: ServerProcess): Promise<{ status: number; text: string }> {
  const token = await signToken(TEST_SECRET, { sub: uniqueId("h"), role: "customer" });
  const res = await fetch(`${node.url}/matchmake/joinOrCreate/contact_center`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ channel: { type: "web" } }), signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, text: await res.text() };
}

async function healthy(node: ServerProcess) {
  await until(async () => (await probe(node, "/health")).status === 200, 15_000, "/health ok again");
  const health = (await probe(node, "/health")).body as Health;
  assert.equal(health.status, "ok");
  assert.equal(health.redis.ok, true);
  assert.equal(health.store.ok, true);
  // ready once the process holds its lease again too (it lapses in a long outage)
  await until(async () => (await probe(node, "/ready")).status === 200, 10_000, "/ready again");
}

describe("outage: Redis frozen or down (Redis store)", function () {
  this.timeout(90_000);
  let redis: OwnRedis;
  let node: ServerProcess;

  before(async () => {
    redis = await startOwnRedis();
    node = await startServerProcess({ REDIS_URL: redis.url });
  });
  after(async () => {
    await node?.kill();
    await redis?.stop();
  });

  it("SIGSTOP of Redis: /health says redis is down within 2 s, /ready 503, joins and requests get `unavailable`; SIGCONT: all recovers", async () => {
    await healthy(node);
    const customerId = uniqueId("f");
    const client = await clientFor(node.url, { sub: customerId, role: "customer" });
    let room = await client.joinOrCreate("contact_center", { channel: { type: "web" } });
    assert.equal((await room.request("send", { id: "before", text: "before" })).seq, 1);
    let closedWith: number | undefined;
    room.onLeave((code: number) => { closedWith = code; });

    redis.freeze();
    const frozenAt = Date.now();
    try {
      await until(async () => (await probe(node, "/health")).status === 503, 4_000, "/health to say unavailable");
      const detectedMs = Date.now() - frozenAt;
      assert.ok(detectedMs < 2_000, `/health noticed the frozen Redis after ${detectedMs} ms`);
      const { body } = await probe(node, "/health");
      assert.equal(body.status, "unavailable");
      assert.equal(body.redis.ok, false);
      assert.equal(typeof body.redis.error, "string");
      assert.equal(body.store.ok, false, "the store lives on that Redis");
      assert.equal((await probe(node, "/ready")).status, 503);

      const refusal = await joinRefusal(node);
      assert.equal(refusal.code, "unavailable", JSON.stringify(refusal));
      assert.doesNotMatch(refusal.message, RAW);
      assert.ok(refusal.ms < 3_000, `refused in ${refusal.ms} ms`);
      const raw = await rawMatchmake(node);
      assert.match(raw.text, /unavailable/);
      assert.doesNotMatch(raw.text, RAW);

      // a request that needs storage: refused with the code within the client's patience, not left hanging
      const t0 = Date.now();
      // Either answer is the documented one: `unavailable`, or, once the process could not
      // renew its lease for LEASE_MS (docs/cluster.md, fencing), its actors stop and close
      // their clients with 4001 (rejoin) before another process may take the rooms.
      const answer = await room.request("send", { id: "during", text: "during" }, { timeout: 9_000 }).then(() => "acknowledged", (e: any) => e.reason?.code ?? e.message);
      assert.ok(answer === "unavailable" || closedWith === 4001, `answer ${answer}, closed with ${closedWith}`);
      assert.ok(Date.now() - t0 < 8_000);
    } finally {
      redis.thaw();
    }

    await healthy(node);
    if (closedWith !== undefined) {
      assert.equal(closedWith, 4001);
      room = await client.joinOrCreate("contact_center", { channel: { type: "web" } });
    }
    // the retry with the same id is stored once (it may have been stored when Redis woke up)
    const retried = await room.request("send", { id: "during", text: "during" });
    assert.equal(retried.seq, 2);
    assert.equal((await room.request("send", { id: "after", text: "after" })).seq, 3);
    assert.equal((await joinRefusal(node)).code, "joined");
    await room.leave();
  });

  it("Redis killed: joins are refused with `unavailable`, not the driver's text; back after a restart", async () => {
    await healthy(node);
    await redis.kill();
    try {
      await until(async () => (await probe(node, "/health")).status === 503, 4_000, "/health to say unavailable");
      assert.equal((await probe(node, "/health")).body.redis.ok, false);
      assert.equal((await probe(node, "/ready")).status, 503);
      const refusal = await joinRefusal(node);
      assert.equal(refusal.code, "unavailable", JSON.stringify(refusal));
      assert.doesNotMatch(refusal.message, RAW);
      const raw = await rawMatchmake(node);
      assert.match(raw.text, /unavailable/);
      assert.doesNotMatch(raw.text, RAW);
    } finally {
      await redis.start();
    }
    await healthy(node);
    // Redis came back empty (no listings, no process stats, no lease), and the lease had
    // lapsed while Redis was frozen or gone: until the process holds it again it starts
    // no actor, so a join waits for the lease or is refused with the retryable
    // `unavailable`, never an actor's failed start (the client saw `unreachable`)
    const mark = node.output().length;
    const codes: string[] = [];
    await until(async () => { codes.push((await joinRefusal(node)).code); return codes.at(-1) === "joined"; }, 10_000, "a join after the restart");
    assert.ok(codes.every((c) => c === "joined" || c === "unavailable"), codes.join());
    assert.doesNotMatch(node.output().slice(mark), /OnCreateException/, "no actor started without the lease");
  });
});

describe("outage: PostgreSQL frozen (PostgreSQL store, Redis fine)", function () {
  this.timeout(90_000);
  let redis: OwnRedis;
  let postgres: OwnPostgres;
  let database: FreshDatabase;
  let node: ServerProcess;

  before(async () => {
    redis = await startOwnRedis();
    postgres = await startOwnPostgres();
    database = await freshDatabase("cc_outage_test", postgres.url);
    node = await startServerProcess({ REDIS_URL: redis.url, DATABASE_URL: database.url });
  });
  after(async () => {
    await node?.kill();
    await database?.drop().catch(() => {});
    await postgres?.stop();
    await redis?.stop();
  });

  it("SIGSTOP of PostgreSQL: /health says the store is down, /ready 503, joins and requests get `unavailable`; SIGCONT: all recovers", async () => {
    await healthy(node);
    const room = await (await clientFor(node.url, { sub: uniqueId("p"), role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
    assert.equal((await room.request("send", { id: "before", text: "before" })).seq, 1);

    postgres.freeze();
    const frozenAt = Date.now();
    try {
      await until(async () => (await probe(node, "/health")).status === 503, 4_000, "/health to say unavailable");
      assert.ok(Date.now() - frozenAt < 2_000, `noticed after ${Date.now() - frozenAt} ms`);
      const { body } = await probe(node, "/health");
      assert.equal(body.store.ok, false);
      assert.equal(typeof body.store.error, "string");
      assert.equal(body.redis.ok, true);
      assert.equal((await probe(node, "/ready")).status, 503);

      const refusal = await joinRefusal(node);
      assert.equal(refusal.code, "unavailable", JSON.stringify(refusal));
      assert.doesNotMatch(refusal.message, RAW);
      const raw = await rawMatchmake(node);
      assert.match(raw.text, /unavailable/);
      assert.doesNotMatch(raw.text, RAW);
      // answered with the code before the client library's own 10 s request timeout
      const sentAt = Date.now();
      const answer = await room.request("send", { id: "during", text: "during" }, { timeout: 20_000 }).then(() => "acknowledged", (e: any) => e.reason?.code ?? e.message);
      assert.equal(answer, "unavailable");
      assert.ok(Date.now() - sentAt < 10_000, `answered after ${Date.now() - sentAt} ms`);
    } finally {
      postgres.thaw();
    }

    await healthy(node);
    assert.equal((await room.request("send", { id: "during", text: "during" })).seq, 2);
    assert.equal((await joinRefusal(node)).code, "joined");
    await room.leave();
  });
});

describe("readiness: SIGTERM drains behind a 503 from /ready", function () {
  this.timeout(60_000);
  let hook: net.Server;
  let node: ServerProcess;
  const sockets: net.Socket[] = [];

  before(async () => {
    // a webhook receiver that never answers: the node's drain waits on it (up to 3 s) before it closes
    hook = net.createServer((s) => { sockets.push(s); s.on("error", () => {}); });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const port = (hook.address() as net.AddressInfo).port;
    node = await startServerProcess({ WEBHOOK_URLS: `http://127.0.0.1:${port}/hook`, WEBHOOK_SECRET: "whsec-test-0123456789" });
  });
  after(async () => {
    await node?.kill();
    for (const s of sockets) { s.destroy(); }
    hook?.close();
  });

  it("from SIGTERM until the port closes, /ready answers 503 with draining, /health still answers", async () => {
    assert.equal((await probe(node, "/ready")).status, 200);
    const room = await (await clientFor(node.url, { sub: uniqueId("d"), role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
    room.reconnection.enabled = false;
    await room.request("send", { id: "m1", text: "a webhook in flight" });
    await until(() => sockets.length > 0, 5_000, "the webhook delivery to start");

    node.child.kill("SIGTERM");
    const seen: Array<{ route: string; status: number; body: any }> = [];
    for (;;) {
      const answers = await Promise.all((["/ready", "/health"] as const).map(async (route) => {
        const res = await fetch(`${node.url}${route}`, { signal: AbortSignal.timeout(1_000) }).catch(() => null);
        return res ? { route, status: res.status, body: await res.json().catch(() => null) } : null;
      }));
      if (answers.some((a) => a === null)) { break; }
      seen.push(...(answers as NonNullable<(typeof answers)[number]>[]));
      await sleep(50);
    }
    const ready = seen.filter((a) => a.route === "/ready");
    assert.ok(ready.length >= 3, `/ready answered ${ready.length} times while draining`);
    // the first answer may still predate the signal; every later one says draining
    assert.ok(ready.slice(1).every((a) => a.status === 503 && a.body.draining === true), JSON.stringify(ready));
    assert.ok(seen.filter((a) => a.route === "/health").slice(1).every((a) => a.body.draining === true));
  });
});
