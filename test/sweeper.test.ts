import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { PostgresStore } from "../server/store/postgres";
import { freshDatabase, type FreshDatabase } from "./helpers/pg";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import { clientFor, freePort, sleep, startServerProcess, uniqueId, until, type ServerProcess } from "./helpers/server";

/**
 * The idle conversations of a node killed with `kill -9` end within one sweep
 * interval (+1 s) of their deadline, however many there are: the sweeper finds the
 * dead process once per sweep, not by a remote call and a health check per room.
 */
describe("sweeper: the idle conversations of a dead node end on time", function () {
  this.timeout(120_000);
  const IDLE_MS = 15_000;
  const SWEEP_MS = 1_000;
  const ROOMS = 30;
  let redis: OwnRedis;
  let database: FreshDatabase;
  const nodes: ServerProcess[] = [];

  async function startNode() {
    const port = await freePort();
    const node = await startServerProcess({
      REDIS_URL: redis.url, DATABASE_URL: database.url, CONVERSATION_IDLE_MS: String(IDLE_MS), SWEEP_INTERVAL_MS: String(SWEEP_MS),
      PUBLIC_ADDRESS: `127.0.0.1:${port}`,
    }, port);
    nodes.push(node);
    return node;
  }

  before(async () => {
    redis = await startOwnRedis();
    database = await freshDatabase("cc_sweeper_test");
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.stop();
    await database?.drop();
  });

  it(`kill -9 of the node holding ${ROOMS} active rooms: each conversation ends as idle within SWEEP_INTERVAL_MS + 1 s of its deadline, once`, async () => {
    // only the victim is up while the rooms start, so it holds all of them
    const victim = await startNode();
    const rooms: Array<{ roomId: string; conversationId: string; room: Room<any> }> = [];
    for (let i = 0; i < ROOMS; i++) {
      const customerId = uniqueId("w");
      const room = await (await clientFor(victim.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
      await room.request("send", { id: "m1", text: "hello?" });
      const conversationId = (await room.request("history", {})).conversationId as string;
      room.reconnection.enabled = false;
      // an agent holds it: a customer waiting in the queue is never idle (docs/desk.md)
      const agent = await (await clientFor(victim.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
      await agent.request("send", { id: "a1", text: "here, how can I help?" });
      agent.reconnection.enabled = false;
      rooms.push({ roomId: room.roomId, conversationId, room });
    }
    await Promise.all([startNode(), startNode()]);
    await victim.kill();

    const store = await PostgresStore.connect({ url: database.url, poolSize: 4 });
    try {
      const deadlines = new Map<string, number>();
      for (const { roomId } of rooms) { deadlines.set(roomId, (await store.getRoom(roomId))!.lastActivityAt + IDLE_MS); }
      const seenEnded = new Map<string, number>();
      await until(async () => {
        await Promise.all(rooms.filter((r) => !seenEnded.has(r.roomId)).map(async (r) => {
          const c = await store.getConversation(r.roomId, r.conversationId);
          if (c?.state === "ended") { seenEnded.set(r.roomId, Date.now()); }
        }));
        return seenEnded.size === ROOMS;
      }, IDLE_MS + 30_000, "every conversation to end").catch((e) => {
        throw new Error(`${e.message}: ${seenEnded.size}/${ROOMS} ended`);
      });

      const late = rooms.map((r) => seenEnded.get(r.roomId)! - deadlines.get(r.roomId)!).sort((a, b) => a - b);
      console.log(`      ${ROOMS} rooms, SWEEP_INTERVAL_MS=${SWEEP_MS}: ended after their deadline by min ${late[0]} ms, median ${late[ROOMS >> 1]} ms, max ${late[ROOMS - 1]} ms`);
      // seen by polling every ~25 ms plus the reads of 30 rooms: 300 ms of slack for the observer
      assert.ok(late[ROOMS - 1] <= SWEEP_MS + 1_000 + 300, `the last one ended ${late[ROOMS - 1]} ms after its deadline`);
      for (const { roomId, conversationId } of rooms) {
        const c = (await store.getConversation(roomId, conversationId))!;
        assert.equal(c.endReason, "idle");
        assert.equal(c.endedAt, deadlines.get(roomId), "ended at its idle deadline");
      }
      await sleep(1_000);
      const endings = nodes.filter((n) => n !== victim).map((n) => (n.output().match(/"reason":"idle"/g) ?? []).length).reduce((a, b) => a + b);
      assert.doesNotMatch(victim.output(), /"reason":"idle"/, "none ended before the kill");
      assert.equal(endings, ROOMS, "each ended once across the cluster");
    } finally {
      await store.close();
    }
  });
});
