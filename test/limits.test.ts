import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import Redis from "ioredis";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, sleep, startServerProcess, uniqueId, until, type ServerProcess, type Who } from "./helpers/server";

/** The reason code of a refused join or rejected request, or "ok". */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try { await promise; return "ok"; } catch (e: any) { return e.reason?.code ?? e.message; }
}

const customerIn = async (url: string, sub = uniqueId("c")) => {
  const room = await (await clientFor(url, { sub, role: "customer" })).joinOrCreate("contact_center", {});
  return { sub, room };
};

describe("limits (docs/security.md): joins, rooms per agent, request and frame sizes", function () {
  this.timeout(40_000);

  describe("embedded node", () => {
    let server: ServerProcess;
    const open: Room<any>[] = [];
    before(async () => { server = await startServerProcess({ JOINS_PER_SECOND: "2", MAX_ROOMS_PER_AGENT: "2" }); });
    afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
    after(async () => { await server?.stop(); });

    const join = async (who: Who, name: string, options: Record<string, unknown>) => {
      const room = await (await clientFor(server.url, who)).joinOrCreate(name, options);
      open.push(room);
      return room;
    };

    it("JOINS_PER_SECOND: a user's joins beyond the burst (twice the rate) are refused, then allowed again", async () => {
      const who: Who = { sub: uniqueId("c"), role: "customer" };
      const results: string[] = [];
      for (let i = 0; i < 6; i++) { results.push(await outcome(join(who, "contact_center", {}))); }
      assert.deepEqual(results.slice(0, 4), ["ok", "ok", "ok", "ok"], results.join(","));
      assert.match(results[4], /^rate_limited: more than 2 joins per second/);
      // another user is not affected
      assert.equal(await outcome(join({ sub: uniqueId("c"), role: "customer" }, "contact_center", {})), "ok");
      await sleep(600);
      assert.equal(await outcome(join(who, "contact_center", {})), "ok", "the bucket refills");
    });

    it("MAX_ROOMS_PER_AGENT: an agent is in at most that many customer rooms; leaving one frees a place", async () => {
      const customers = [];
      for (let i = 0; i < 3; i++) { customers.push(await customerIn(server.url)); }
      for (const c of customers) { open.push(c.room); }
      const agent: Who = { sub: uniqueId("a"), role: "agent", teams: ["support"] };
      const first = await join(agent, "contact_center", { customerId: customers[0].sub });
      await join(agent, "contact_center", { customerId: customers[1].sub });
      await sleep(500); // the join bucket: 2/s, burst 4
      assert.match(await outcome(join(agent, "contact_center", { customerId: customers[2].sub })), /^too_many_rooms: an agent is in at most 2 customer rooms/);
      // a second connection to a room it is in already is not another room
      const second = await join(agent, "contact_center", { customerId: customers[0].sub });
      // team rooms do not count
      await join(agent, "team", { teamId: "support" });
      await sleep(1_000);
      // one of its two connections to room 0 leaves: the room still counts
      await first.leave();
      await sleep(200);
      assert.match(await outcome(join(agent, "contact_center", { customerId: customers[2].sub })), /^too_many_rooms/);
      // the last one leaves: a place is free
      await second.leave();
      await sleep(500);
      assert.equal(await outcome(join(agent, "contact_center", { customerId: customers[2].sub })), "ok");
      // supervisors are not counted
      const supervisor: Who = { sub: uniqueId("s"), role: "supervisor", teams: ["support"] };
      for (const c of customers) { assert.equal(await outcome(join(supervisor, "contact_center", { customerId: c.sub })), "ok"); }
    });

    it("MAX_REQUEST_BYTES: a payload big but under the frame limit is refused with payload_too_large, the connection kept", async () => {
      const { room } = await customerIn(server.url);
      open.push(room);
      // extra keys under the limit are dropped; the message is stored exactly
      const small = await room.request("send", { id: "under", text: "fits", pad: "y".repeat(15_000) } as any);
      const big = await outcome(room.request("send", { id: "over", text: "too big", pad: "y".repeat(17_000) } as any));
      assert.equal(big, "payload_too_large");
      const wide = await outcome(room.request("send", { id: "wide", text: "x", pad: Array.from({ length: 3_000 }, () => "0123456789") } as any));
      assert.equal(wide, "payload_too_large");
      assert.equal(room.connection.isOpen, true);
      const page = await room.request("history", { after: 0 });
      assert.deepEqual(page.messages.map((m: any) => [m.seq, m.id, m.text, "pad" in m]), [[small.seq, "under", "fits", false]]);
    });

    it("MAX_PAYLOAD_BYTES: the transport closes a connection sending a larger frame (1009); others are unaffected", async () => {
      const victim = await customerIn(server.url);
      const attacker = await customerIn(server.url);
      open.push(victim.room, attacker.room);
      await victim.room.request("send", { id: "v1", text: "before" });
      attacker.room.reconnection.enabled = false;
      const closed = new Promise<number>((resolve) => attacker.room.onLeave((code) => resolve(code)));
      attacker.room.send("send", { id: "huge", text: "x".repeat(70_000) });
      assert.equal(await closed, 1009);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      assert.equal(victim.room.connection.isOpen, true);
      assert.equal((await victim.room.request("send", { id: "v2", text: "after" })).seq, 2);
    });
  });

  describe("Redis nodes: rooms per agent counted across the cluster", () => {
    const nodes: ServerProcess[] = [];
    let redis: Redis;
    before(async () => {
      await flushTestDb();
      redis = new Redis(REDIS_TEST_URL);
      const env = { REDIS_URL: REDIS_TEST_URL, MAX_ROOMS_PER_AGENT: "2", COLYSEUS_PRESENCE_SHORT_TIMEOUT: "1000" };
      nodes.push(await startServerProcess(env), await startServerProcess(env));
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.kill()));
      redis?.disconnect();
    });

    /** Customers whose room actors run on node `host` (rooms are placed by hashing their ids). */
    async function customersOn(host: number, count: number) {
      const found: { sub: string; room: Room<any> }[] = [];
      for (let i = 0; found.length < count && i < 60; i++) {
        const c = await customerIn(nodes[i % 2].url);
        const started = `"roomId":"cc-${c.sub}","kind":"contact_center"`;
        await until(() => nodes.some((n) => n.output().includes(started)), 5_000, "actor start logged");
        if (nodes[host].output().includes(started)) { found.push(c); } else { await c.room.leave(); }
      }
      assert.equal(found.length, count, `customers on node ${host}`);
      return found;
    }

    it("counts an agent's rooms on every process, through Redis, and forgets them when it leaves", async () => {
      const onA = await customersOn(0, 2);
      const [onB] = await customersOn(1, 1);
      const agent: Who = { sub: uniqueId("a"), role: "agent", teams: ["support"] };
      const key = `cc:agent-rooms:{${agent.sub}}`;
      const rooms: Room<any>[] = [];
      for (const c of onA) { rooms.push(await (await clientFor(nodes[0].url, agent)).joinOrCreate("contact_center", { customerId: c.sub })); }
      assert.deepEqual((await redis.hkeys(key)).sort(), onA.map((c) => `cc-${c.sub}`).sort());
      // matchmaking through node B, for a room on node B: node B knows of the rooms on node A
      const refused = await outcome((await clientFor(nodes[1].url, agent)).joinOrCreate("contact_center", { customerId: onB.sub }));
      assert.match(refused, /^too_many_rooms/);
      await rooms[0].leave();
      await until(async () => (await redis.hlen(key)) === 1, 3_000, "the room uncounted on leave");
      rooms[0] = await (await clientFor(nodes[1].url, agent)).joinOrCreate("contact_center", { customerId: onB.sub });
      assert.equal(rooms[0].roomId, `cc-${onB.sub}`);
      await Promise.all(rooms.map((r) => r.leave()));
      await until(async () => (await redis.exists(key)) === 0, 3_000, "the agent's key removed");
      await Promise.all([...onA, onB].map((c) => c.room.leave()));
    });

    it("entries of a killed node's actors do not lock the agent out", async () => {
      const onA = await customersOn(0, 2);
      const [onB] = await customersOn(1, 1);
      const agent: Who = { sub: uniqueId("a"), role: "agent", teams: ["support"] };
      for (const c of onA) {
        const room = await (await clientFor(nodes[1].url, agent)).joinOrCreate("contact_center", { customerId: c.sub });
        room.reconnection.enabled = false;
        c.room.reconnection.enabled = false;
      }
      assert.equal(await redis.hlen(`cc:agent-rooms:{${agent.sub}}`), 2);
      await nodes[0].kill();
      // both entries name a process that no longer answers: pruned, and the join goes through
      const room = await (await clientFor(nodes[1].url, agent)).joinOrCreate("contact_center", { customerId: onB.sub });
      assert.equal(room.roomId, `cc-${onB.sub}`);
      assert.deepEqual(await redis.hkeys(`cc:agent-rooms:{${agent.sub}}`), [`cc-${onB.sub}`]);
      await room.leave();
      await onB.room.leave();
    });
  });
});
