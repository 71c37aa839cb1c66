import assert from "node:assert/strict";
import Redis from "ioredis";
import { ChatConnection, type ChatMessage, type ConnectionEvents } from "../client";
import { signToken } from "../server/auth";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import { freePort, sleep, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess, type Who } from "./helpers/server";

/** A library connection and everything it emitted, for assertions. */
interface Watched {
  conn: ChatConnection<any>;
  delivered: ChatMessage[];
  /** `delivered`: how many messages had been delivered when the event came */
  events: Array<{ event: keyof ConnectionEvents; payload: any; at: number; delivered: number }>;
}

const token = (who: Who, exp: string | number = "1h") => signToken(TEST_SECRET, who, exp);

async function watch(opts: Parameters<typeof ChatConnection.join>[0]): Promise<Watched> {
  const conn = await ChatConnection.join(opts);
  const w: Watched = { conn, delivered: [], events: [] };
  conn.on("message", (m) => w.delivered.push(m));
  for (const event of ["lost", "rejoined", "back", "recovered", "retrying", "closed", "token_refreshed", "token_expiring", "error"] as const) {
    conn.on(event, (payload: any) => w.events.push({ event, payload, at: Date.now(), delivered: w.delivered.length }));
  }
  return w;
}

const seen = (w: Watched, event: keyof ConnectionEvents) => w.events.filter((e) => e.event === event);

async function hostPort(redisUrl: string, roomId: string): Promise<number | undefined> {
  const redis = new Redis(redisUrl);
  try {
    const row = await redis.hget("roomcaches", roomId);
    return row ? Number(JSON.parse(row).publicAddress.split(":").pop()) : undefined;
  } finally {
    redis.disconnect();
  }
}

/** Every stored message of the room the user may see, all conversations, oldest first. */
async function storedSeqs(w: Watched): Promise<number[]> {
  // the query budget (4 pages a second) is small: wait for it
  const paced = async <T>(ask: () => Promise<T>): Promise<T> => {
    for (;;) {
      try { return await ask(); } catch (e: any) { if (e.code !== "rate_limited") { throw e; } await sleep(300); }
    }
  };
  const seqs: number[] = [];
  const { conversations } = await paced(() => w.conn.conversations({ limit: 50 }));
  const ids = [...conversations.map((c) => c.id).reverse(), undefined];
  for (const conversationId of ids) {
    let after = 0;
    for (;;) {
      const page = await paced(() => w.conn.history({ ...(conversationId ? { conversationId } : {}), after, limit: 200 }));
      if (conversationId === undefined && conversations.some((c) => c.id === page.conversationId)) { break; }
      seqs.push(...page.messages.map((m) => m.seq));
      if (page.messages.length < 200) { break; }
      after = page.messages[page.messages.length - 1].seq;
    }
  }
  return seqs;
}

/** What a UI must be able to rely on: each stored message once, in seq order, nothing else. */
async function assertExactlyOnceInOrder(w: Watched, what: string) {
  const got = w.delivered.map((m) => m.seq);
  for (let i = 1; i < got.length; i++) { assert.ok(got[i] > got[i - 1], `${what}: seq ${got[i]} delivered after ${got[i - 1]}`); }
  assert.deepEqual(got, await storedSeqs(w), `${what}: delivered = stored`);
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

describe("client library (client/): resume through any node, exactly once, in order", function () {
  this.timeout(120_000);
  let redis: OwnRedis;
  const nodes: ServerProcess[] = [];
  const open: Watched[] = [];

  const startNode = async (port?: number) => {
    port ??= await freePort();
    // a small state window: what a client missed must come through history, not the resync
    const node = await startServerProcess({ REDIS_URL: redis.url, PUBLIC_ADDRESS: `127.0.0.1:${port}`, STATE_MESSAGE_WINDOW: "5" }, port);
    nodes.push(node);
    return node;
  };
  const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);

  before(async () => { redis = await startOwnRedis(); });
  afterEach(async () => { await Promise.all(open.splice(0).map((w) => w.conn.leave())); });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.stop();
  });

  /** A customer and an agent in one room, both through the library. */
  async function pair(urls: string[], own: { customerId: string; token: string; getToken: () => Promise<string> } | undefined = undefined) {
    const customerId = own?.customerId ?? uniqueId("cl");
    const customer = await watch({ urls, token: own?.token ?? await token({ sub: customerId, role: "customer" }), getToken: own?.getToken, room: "contact_center", options: { channel: { type: "web" } } });
    const agentWho = { sub: uniqueId("ag"), role: "agent" as const, teams: ["support"] };
    const agent = await watch({ urls, token: await token(agentWho), getToken: () => token(agentWho), room: "contact_center", options: { customerId } });
    open.push(customer, agent);
    return { customerId, customer, agent };
  }

  /** The agent sends every `everyMs` without waiting for answers (they wait in its outbox during an outage). */
  function keepSending(agent: Watched, everyMs: number) {
    const sends: Array<Promise<{ seq: number }>> = [];
    let n = 0;
    const timer = setInterval(() => { sends.push(agent.conn.send(`agent ${n++}`)); }, everyMs);
    return { sends, async stop() { clearInterval(timer); return Promise.all(sends); } };
  }

  it("kill -9 of the node hosting 20 rooms: each client rejoins through the other node, gets every message once in seq order, and its outage message is stored once", async () => {
    const a = await startNode();
    const bPort = await freePort();
    const urls = [a.url, `http://127.0.0.1:${bPort}`];
    // every room is created on A: B starts afterwards
    const rooms = await Promise.all(Array.from({ length: 20 }, () => pair(urls)));
    await startNode(bPort);
    for (const { customer } of rooms) {
      await customer.conn.send("before");
      assert.equal(await hostPort(redis.url, customer.conn.roomId), a.port);
    }
    const senders = rooms.map(({ agent }) => keepSending(agent, 150));
    await sleep(600);

    const killedAt = Date.now();
    await a.kill();
    // typed while the node is gone: kept and sent once the library is back
    const outage = rooms.map(({ customer }) => customer.conn.send("typed during the outage").then((r) => ({ ...r, ms: Date.now() - killedAt })));
    const acks = await Promise.all(outage);
    await until(() => rooms.every(({ customer, agent }) => seen(customer, "recovered").length === 1 && seen(agent, "recovered").length === 1), 20_000, "every client recovered");
    await sleep(500);
    const agentSeqs = await Promise.all(senders.map((s) => s.stop()));

    const ms = acks.map((x) => x.ms);
    const p50 = percentile(ms, 50);
    const p99 = percentile(ms, 99);
    console.log(`      kill -9 -> first acknowledged send, 20 rooms: p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...ms)} ms`);
    if (process.env.CLIENT_TEST_DEBUG) {
      for (const { customer } of rooms) { console.log(customer.events.filter((e) => e.event !== "token_expiring").map((e) => `${e.at - killedAt} ${e.event} ${JSON.stringify(e.payload?.code ?? e.payload?.error?.code ?? e.payload)} ${e.payload?.error?.message ?? ""}`).join(" | ")); }
    }
    // the floor is the server's: its matchmaker's call to the dead process times out, then
    // so does its health check (2 x COLYSEUS_PRESENCE_SHORT_TIMEOUT, 2 s by default)
    assert.ok(p99 <= 9_000, `p99 ${p99} ms from kill to the first acknowledged send`);

    for (const [i, { customer, agent }] of rooms.entries()) {
      assert.equal(await hostPort(redis.url, customer.conn.roomId), bPort, "the room moved to B");
      assert.equal(seen(customer, "lost")[0].payload.code, 1006);
      assert.ok(seen(customer, "back").length === 1 && seen(customer, "lost").length === 1);
      // live messages keep coming after the recovery; let the last ones arrive
      const newest = Math.max(...agentSeqs[i].map((s) => s.seq), acks[i].seq);
      await until(() => customer.conn.lastSeq >= newest && agent.conn.lastSeq >= newest, 10_000, `${customer.conn.roomId} delivered up to ${newest}`);
      await assertExactlyOnceInOrder(customer, `customer of ${customer.conn.roomId}`);
      await assertExactlyOnceInOrder(agent, `agent of ${customer.conn.roomId}`);
      const texts = customer.delivered.map((m) => m.text);
      assert.equal(texts.filter((t) => t === "typed during the outage").length, 1);
      assert.equal(new Set(agentSeqs[i].map((s) => s.seq)).size, agentSeqs[i].length, "each agent message acknowledged once");
      assert.equal(new Set(texts).size, texts.length, "each typed message stored once (a retry keeps its id)");
    }
    const missed = rooms.map(({ customer }) => seen(customer, "recovered")[0].payload.missed);
    assert.ok(missed.some((n) => n > 0), `some messages were missed and recovered (${missed.join(",")})`);
  });

  it("SIGTERM of the node hosting the room (4001): the client comes back through the other node, nothing lost or duplicated", async () => {
    while (alive().length < 2) { await startNode(); }
    const urls = alive().map((n) => n.url);
    const customerId = uniqueId("st");
    const who = { sub: customerId, role: "customer" as const };
    // the customer's token is short, so its rejoin asks getToken(): the test holds that answer
    // until the agent, back first, has sent more than the state window holds
    let letBack!: () => void;
    const gate = new Promise<void>((r) => { letBack = r; });
    const { customer, agent } = await pair(urls, { customerId, token: await token(who, Math.floor(Date.now() / 1000) + 25), getToken: async () => { await gate; return token(who); } });
    await customer.conn.send("hello");
    const port = await hostPort(redis.url, customer.conn.roomId);
    const victim = alive().find((n) => n.port === port)!;
    assert.ok(victim, `host ${port} is one of the nodes`);
    const sender = keepSending(agent, 100);
    await sleep(400);
    const stopping = victim.stop();
    const typed = customer.conn.send("typed while the node stops");
    await stopping;
    await until(() => seen(agent, "recovered").length === 1, 20_000, "the agent is back");
    const sentBefore = agent.conn.lastSeq;
    await until(() => agent.conn.lastSeq >= sentBefore + 10, 10_000, "ten more messages of the agent");
    letBack();
    const { seq } = await typed;
    await until(() => seen(customer, "recovered").length === 1, 20_000, "the customer is back");
    await sleep(300);
    const agentSeqs = await sender.stop();
    assert.equal(seen(customer, "lost")[0].payload.code, 4001);
    assert.equal(seen(agent, "lost")[0].payload.code, 4001);
    assert.ok(seen(customer, "recovered")[0].payload.missed >= 10, `missed ${seen(customer, "recovered")[0].payload.missed}`);
    for (const w of [customer, agent]) {
      // lost, the new socket in (rejoined), the catch-up delivered (recovered), back: what the load generator relies on
      assert.deepEqual(w.events.map((e) => e.event).filter((e) => ["lost", "rejoined", "recovered", "back"].includes(e)), ["lost", "rejoined", "recovered", "back"]);
      const [rejoined, recovered] = [seen(w, "rejoined")[0], seen(w, "recovered")[0]];
      assert.equal(recovered.delivered - rejoined.delivered, recovered.payload.missed, "between rejoined and recovered only the catch-up is delivered");
    }
    const newest = Math.max(seq, ...agentSeqs.map((s) => s.seq));
    await until(() => customer.conn.lastSeq >= newest, 10_000, "the customer saw the newest message");
    await assertExactlyOnceInOrder(customer, "customer");
    await assertExactlyOnceInOrder(agent, "agent");
    const texts = customer.delivered.map((m) => m.text);
    assert.equal(texts.filter((t) => t === "typed while the node stops").length, 1);
    assert.equal(new Set(texts).size, texts.length, "each typed message stored once");
    await startNode();
  });

  it("no node up for 3 s: the library retries with backoff and jitter, then comes back with everything", async () => {
    await Promise.all(alive().map((n) => n.kill()));
    const a = await startNode();
    const bPort = await freePort();
    const { customer, agent } = await pair([a.url, `http://127.0.0.1:${bPort}`]);
    await customer.conn.send("before");
    const killedAt = Date.now();
    await a.kill();
    const typed = [customer.conn.send("typed 1"), customer.conn.send("typed 2"), agent.conn.send("agent typed")];
    await sleep(3_000);
    assert.equal(customer.conn.connected, false);
    await startNode(bPort);
    await Promise.all(typed);
    await until(() => seen(customer, "back").length === 1 && seen(agent, "back").length === 1, 20_000, "both back");
    const retries = seen(customer, "retrying");
    if (process.env.CLIENT_TEST_DEBUG) { for (const w of [customer, agent]) { console.log(w.events.map((e) => `${e.at - killedAt} ${e.event} ${JSON.stringify(e.payload?.delayMs ?? e.payload?.downMs ?? e.payload?.code ?? "")}`).join(" | ")); } }
    assert.ok(retries.length >= 2, `${retries.length} retries`);
    assert.ok(retries.every((r) => r.payload.delayMs <= 5_000 && r.payload.error.code === "unreachable"), JSON.stringify(retries.map((r) => r.payload)));
    assert.ok(retries.length < 40, "backed off, not a busy loop");
    assert.ok(seen(customer, "back")[0].payload.downMs >= 3_000 && seen(customer, "back")[0].at - killedAt < 20_000);
    await until(() => customer.conn.lastSeq >= 4 && agent.conn.lastSeq >= 4, 10_000, "all four messages delivered");
    assert.deepEqual(customer.delivered.map((m) => m.text).sort(), ["agent typed", "before", "typed 1", "typed 2"]);
    await assertExactlyOnceInOrder(customer, "customer");
    await assertExactlyOnceInOrder(agent, "agent");
    await startNode();
  });

  it("a private room: the rejoin resumes the same room, not a new one", async () => {
    while (alive().length < 2) { await startNode(); }
    const who = { sub: uniqueId("pv"), role: "customer" as const };
    const chat = await watch({ urls: alive().map((n) => n.url), token: await token(who), room: "private", options: { subject: "my order" } });
    open.push(chat);
    const roomId = chat.conn.roomId;
    assert.match(roomId, /^pr-/);
    await chat.conn.send("in private");
    const port = await hostPort(redis.url, roomId);
    await alive().find((n) => n.port === port)!.kill();
    await chat.conn.send("still in private");
    await until(() => seen(chat, "back").length === 1, 20_000, "back");
    assert.equal(chat.conn.roomId, roomId);
    assert.deepEqual(chat.delivered.map((m) => m.text), ["in private", "still in private"]);
    await startNode();
  });

  it("missed messages of a conversation that ended during the outage come first, then the new conversation's", async () => {
    while (alive().length < 2) { await startNode(); }
    const urls = alive().map((n) => n.url);
    const customerId = uniqueId("cv");
    const who = { sub: customerId, role: "customer" as const };
    // the customer's token is short, so its rejoin asks getToken(): the test holds that answer to keep it away
    let letBack!: () => void;
    const gate = new Promise<void>((r) => { letBack = r; });
    const { customer, agent } = await pair(urls, { customerId, token: await token(who, Math.floor(Date.now() / 1000) + 25), getToken: async () => { await gate; return token(who); } });
    await customer.conn.send("first conversation");
    const port = await hostPort(redis.url, customer.conn.roomId);
    await alive().find((n) => n.port === port)!.kill();
    await until(() => seen(agent, "recovered").length === 1, 20_000, "the agent is back");
    for (let i = 0; i < 5; i++) { await agent.conn.send(`old ${i}`); }
    await agent.conn.end("resolved");
    // after an end an agent writes only into a conversation it starts on purpose (docs/desk.md)
    await agent.conn.start();
    for (let i = 0; i < 3; i++) { await agent.conn.send(`new ${i}`); }
    letBack();
    await until(() => seen(customer, "recovered").length === 1, 20_000, "the customer is back");
    assert.equal(seen(customer, "recovered")[0].payload.missed, 8);
    assert.deepEqual(customer.delivered.map((m) => m.text), ["first conversation", "old 0", "old 1", "old 2", "old 3", "old 4", "new 0", "new 1", "new 2"]);
    await assertExactlyOnceInOrder(customer, "customer");
    await startNode();
  });

  it("a normal leave() does not rejoin; unsent messages are refused as closed", async () => {
    while (alive().length < 2) { await startNode(); }
    const { customer } = await pair(alive().map((n) => n.url));
    await customer.conn.send("hi");
    await customer.conn.leave();
    await sleep(1_500);
    assert.deepEqual(seen(customer, "closed").map((e) => e.payload.code), [4000]);
    assert.equal(seen(customer, "lost").length + seen(customer, "retrying").length + seen(customer, "back").length, 0);
    await assert.rejects(customer.conn.send("after leaving"), (e: any) => e.code === "closed");
  });

  it("token expiry: without getToken() the connection ends with a clear event; with it, refresh keeps the connection", async () => {
    while (alive().length < 1) { await startNode(); }
    const url = alive()[0].url;
    const short = () => Math.floor(Date.now() / 1000) + 4;
    const a = { sub: uniqueId("te"), role: "customer" as const };
    const without = await watch({ urls: [url], token: await token(a, short()), room: "contact_center", options: { channel: { type: "web" } } });
    const b = { sub: uniqueId("tr"), role: "customer" as const };
    const withToken = await watch({ urls: [url], token: await token(b, short()), getToken: () => token(b), room: "contact_center", options: { channel: { type: "web" } } });
    open.push(without, withToken);
    await until(() => seen(without, "closed").length === 1, 10_000, "the expired connection to close");
    const closed = seen(without, "closed")[0].payload;
    assert.equal(closed.code, 4003);
    assert.equal(closed.reason, "token_expired");
    assert.equal(closed.error.code, "auth_expired");
    assert.equal(seen(without, "lost").length, 0, "no rejoin without a token");
    await assert.rejects(without.conn.send("x"), (e: any) => e.code === "auth_expired");

    assert.equal(seen(withToken, "token_refreshed").length, 1);
    assert.ok(seen(withToken, "token_refreshed")[0].payload.exp > short() + 600);
    assert.equal(withToken.conn.connected, true);
    assert.equal(seen(withToken, "lost").length, 0);
    assert.ok((await withToken.conn.send("still here")).seq >= 1);
  });
});
