import assert from "node:assert/strict";
import Redis from "ioredis";
import pg from "pg";
import { ChatConnection, type ChatMessage } from "../client";
import { signToken } from "../server/auth";
import { freshDatabase, type FreshDatabase } from "./helpers/pg";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import { clientFor, freePort, sleep, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess, type Who } from "./helpers/server";
import { startTcpProxy, type TcpProxy } from "./helpers/tcpProxy";

/*
 * "Never two writers" (docs/cluster.md, Fencing): node A is frozen (SIGSTOP, as in a
 * long GC pause or a VM freeze) or cut off from Redis and PostgreSQL (a TCP proxy
 * drops every byte), while a new agent per room joins through node B. B's matchmaker
 * declares A dead and starts actors of A's rooms; A must stop serving them before,
 * and whatever A still tries to write is refused by the store. Real processes, a
 * real Redis of the test's own, PostgreSQL as the store; the clients are the
 * project's client library (client/), which rejoins and catches up.
 */

interface Participant {
  sub: string;
  chat: ChatConnection<"contact_center">;
  /** client id -> seq, as acknowledged */
  acked: Map<string, number>;
  delivered: Map<number, ChatMessage>;
  failures: string[];
  /** close codes of the connections that dropped */
  lost: number[];
}

const ROOMS = 10;

async function connect(urls: string[], who: Who, options: any): Promise<Participant> {
  const token = await signToken(TEST_SECRET, who);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const chat = await ChatConnection.join({ urls, token, room: "contact_center", options, maxSendAttempts: 1_000, requestTimeoutMs: 5_000 });
      const participant: Participant = { sub: who.sub, chat, acked: new Map(), delivered: new Map(), failures: [], lost: [] };
      chat.on("message", (m) => { participant.delivered.set(m.seq, m); });
      chat.on("lost", ({ code }) => { participant.lost.push(code); });
      return participant;
    } catch (e) {
      if (Date.now() > deadline) { throw e; }
      await sleep(300);
    }
  }
}

function send(p: Participant, text: string) {
  const id = uniqueId("m");
  p.chat.send(text, { id }).then(({ seq }) => { p.acked.set(id, seq); }, (e) => { p.failures.push(`${id}: ${e.code} ${e.message}`); });
}

describe("fencing: never two writers of a room (PostgreSQL store, Redis matchmaking, two nodes)", function () {
  this.timeout(240_000);
  let redis: OwnRedis;
  let database: FreshDatabase;
  let redisProxy: TcpProxy;
  let pgProxy: TcpProxy;
  let a: ServerProcess;
  let b: ServerProcess;
  let db: pg.Pool;

  before(async () => {
    redis = await startOwnRedis();
    database = await freshDatabase("cc_fencing_test");
    redisProxy = await startTcpProxy(redis.port);
    const pgUrl = new URL(database.url);
    pgProxy = await startTcpProxy(Number(pgUrl.port || 5432), pgUrl.hostname);
    const viaProxy = new URL(database.url);
    viaProxy.port = String(pgProxy.port);
    const env = { CONVERSATION_IDLE_MS: "15000", SWEEP_INTERVAL_MS: "500", LOG_LEVEL: "info", MESSAGES_PER_SECOND: "50", MESSAGES_BURST: "100" };
    const portA = await freePort();
    // node A reaches Redis and PostgreSQL through the proxies the partition cuts
    a = await startServerProcess({ ...env, REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`, DATABASE_URL: viaProxy.toString(), PUBLIC_ADDRESS: `127.0.0.1:${portA}` }, portA);
    const portB = await freePort();
    b = await startServerProcess({ ...env, REDIS_URL: redis.url, DATABASE_URL: database.url, PUBLIC_ADDRESS: `127.0.0.1:${portB}` }, portB);
    db = new pg.Pool({ connectionString: database.url, max: 2 });
  });

  after(async () => {
    if (a?.child.signalCode === null && a.child.exitCode === null) { a.child.kill("SIGCONT"); }
    await Promise.all([a?.kill(), b?.kill()]);
    await db?.end();
    await redisProxy?.close();
    await pgProxy?.close();
    await redis?.stop();
    await database?.drop();
  });

  async function hostOf(roomId: string): Promise<string | undefined> {
    const client = new Redis(redis.url);
    try {
      const row = await client.hget("roomcaches", roomId);
      return row ? JSON.parse(row).publicAddress : undefined;
    } finally { client.disconnect(); }
  }

  /** ROOMS customer rooms whose actor runs on A, each with a customer that sent one message. */
  async function roomsOnA(): Promise<{ roomId: string; customerId: string; customer: Participant; conversationId: string }[]> {
    const rooms: { roomId: string; customerId: string; customer: Participant; conversationId: string }[] = [];
    while (rooms.length < ROOMS) {
      const batch = await Promise.all(Array.from({ length: 12 }, async () => {
        const customerId = uniqueId("f");
        const customer = await connect([a.url, b.url], { sub: customerId, role: "customer" }, { channel: { type: "web" } });
        return { customerId, customer, roomId: `cc-${customerId}` };
      }));
      for (const room of batch) {
        if (rooms.length < ROOMS && (await hostOf(room.roomId)) === `127.0.0.1:${a.port}`) {
          await room.customer.chat.send("first", { id: uniqueId("m") }).then(({ seq }) => room.customer.acked.set(`first-${room.roomId}`, seq));
          const conversationId = room.customer.chat.state.conversation.id as string;
          rooms.push({ ...room, conversationId });
        } else {
          await room.customer.chat.leave();
        }
      }
    }
    return rooms;
  }

  async function scenario(fault: { name: string; start(): void; end(): void; ms: number }) {
    const rooms = await roomsOnA();
    const agents: Participant[] = [];
    let sending = true;
    const traffic = setInterval(() => { if (sending) { for (const r of rooms) { send(r.customer, `customer ${Date.now()}`); } } }, 200);
    const agentTraffic = setInterval(() => { if (sending) { for (const agent of agents) { send(agent, `agent ${Date.now()}`); } } }, 1_000);
    try {
      await sleep(1_000);
      fault.start();
      const faultAt = Date.now();
      await sleep(300);
      // a new agent per room joins through B while A is away
      const joining = Promise.all(rooms.map(async (r) => {
        const agent = await connect([b.url, a.url], { sub: uniqueId("a"), role: "agent" }, { customerId: r.customerId });
        agents.push(agent);
        send(agent, `agent joined ${r.roomId}`);
        return agent;
      }));
      await sleep(Math.max(0, fault.ms - (Date.now() - faultAt)));
      fault.end();
      const roomAgents = await joining;
      // after the heal, traffic goes on for a while, then every typed message must be acknowledged
      await sleep(4_000);
      sending = false;
      const everyone = [...rooms.map((r) => r.customer), ...roomAgents];
      await until(() => everyone.every((p) => p.chat.unsent === 0), 60_000, "every typed message acknowledged");

      const diagnostics = () => [a, b].map((n) => n.output().split("\n").filter((l) => /fenc|lease|error|warn/i.test(l)).slice(-8).join("\n")).join("\n---\n");
      for (const [i, r] of rooms.entries()) {
        const agent = roomAgents[i];
        const { rows } = await db.query("SELECT seq, client_id, sender_id, data FROM cc_messages WHERE room_id = $1 ORDER BY seq", [r.roomId]);
        const seqs = rows.map((row) => Number(row.seq));
        assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1), `${r.roomId}: every seq unique and gapless`);
        const stored = new Map(rows.map((row) => [`${row.sender_id}\u0000${row.client_id}`, Number(row.seq)]));
        for (const p of [r.customer, agent]) {
          assert.deepEqual(p.failures, [], `${r.roomId}: no send failed for good`);
          for (const [id, seq] of p.acked) {
            if (id.startsWith("first-")) { continue; }
            assert.equal(stored.get(`${p.sub}\u0000${id}`), seq, `${r.roomId}: acknowledged ${id} stored with its seq`);
          }
        }
        const texts = rows.map((row) => JSON.parse(row.data).text as string);
        assert.equal(new Set(texts).size, texts.length, `${r.roomId}: no message stored twice`);
        // the customer and the new agent are in one room: each sees every message after the heal
        await until(() => seqs.every((s) => r.customer.delivered.has(s)), 20_000, `${r.roomId}: the customer sees all ${seqs.length} messages`)
          .catch((e) => { throw new Error(`${e.message} (missing ${seqs.filter((s) => !r.customer.delivered.has(s)).slice(0, 10)})\n${diagnostics()}`); });
        const agentFirst = Math.min(...agent.delivered.keys());
        await until(() => seqs.filter((s) => s >= agentFirst).every((s) => agent.delivered.has(s)), 20_000, `${r.roomId}: the agent sees every message`)
          .catch((e) => { throw new Error(`${e.message} (missing ${seqs.filter((s) => s >= agentFirst && !agent.delivered.has(s)).slice(0, 10)})\n${diagnostics()}`); });
        assert.ok([...agent.acked.values()].every((s) => r.customer.delivered.has(s)), `${r.roomId}: the customer sees the agent's messages`);
        const conversation = (await db.query("SELECT id, state, end_reason FROM cc_conversations WHERE room_id = $1", [r.roomId])).rows;
        assert.deepEqual(conversation, [{ id: r.conversationId, state: "active", end_reason: "" }], `${r.roomId}: the conversation lives on, not ended as idle`);
      }
      // A stopped its actors and told their clients to join again (4001), and B moved the rooms only then
      for (const r of rooms) { assert.ok(r.customer.lost.includes(4001), `${r.roomId}: the customer was closed with 4001 (got ${r.customer.lost})`); }
      assert.match(a.output(), /room actor fenced/);
      assert.match(b.output(), /process declared dead/);
      // the store's own record of who wrote: a room's writes never go back to an older owner
      for (const r of rooms) {
        const { rows } = await db.query("SELECT seq, owner_epoch FROM cc_messages WHERE room_id = $1 ORDER BY seq", [r.roomId]);
        const epochs = rows.map((row) => Number(row.owner_epoch));
        for (let k = 1; k < epochs.length; k++) {
          assert.ok(epochs[k] >= epochs[k - 1], `${r.roomId}: seq ${rows[k].seq} written by epoch ${epochs[k]} after epoch ${epochs[k - 1]}`);
        }
      }
      return { rooms, agents: roomAgents };
    } finally {
      clearInterval(traffic);
      clearInterval(agentTraffic);
      await Promise.all([...rooms.map((r) => r.customer.chat.leave()), ...agents.map((g) => g.chat.leave())]);
    }
  }

  const stall = (ms: number) => ({
    name: `SIGSTOP ${ms} ms`, ms,
    start: () => { a.child.kill("SIGSTOP"); },
    end: () => { a.child.kill("SIGCONT"); },
  });
  const partition = (ms: number) => ({
    name: `partition ${ms} ms`, ms,
    start: () => { redisProxy.cut(); pgProxy.cut(); },
    end: () => { redisProxy.heal(); pgProxy.heal(); },
  });

  it("a node frozen for 6 s (SIGSTOP) while agents join its rooms through the other node", async () => {
    await scenario(stall(6_000));
  });

  it("a node cut off from Redis and PostgreSQL for 10 s while agents join its rooms through the other node", async () => {
    await scenario(partition(10_000));
  });

  it("long variants: frozen for 30 s, then cut off for 30 s", async () => {
    await scenario(stall(30_000));
    await scenario(partition(30_000));
  });

  it("the woken node serves again: a new room can live on it", async () => {
    const customerId = uniqueId("w");
    const client = await clientFor(a.url, { sub: customerId, role: "customer" });
    const room = await client.joinOrCreate("contact_center", {});
    assert.equal((await room.request("send", { id: "w1", text: "after the faults" })).seq, 1);
    await room.leave();
  });
});
