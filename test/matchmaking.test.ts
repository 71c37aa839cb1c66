import assert from "node:assert/strict";
import { LocalDriver, type IRoomCache } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import Redis from "ioredis";
import { AtomicRedisDriver, KeyedLocalDriver } from "../server/cluster/matchmaking";
import { leaseKey, ProcessLease } from "../server/cluster/lease";
import { REDIS_TEST_URL, flushTestDb } from "./helpers/redis";
import { until } from "./helpers/server";
import { startTcpProxy } from "./helpers/tcpProxy";

/**
 * The drivers' indexed lookups (server/matchmaking.ts) must answer exactly what the
 * stock drivers' scans answer, for the conditions the server uses (a room key or a
 * room id, with or without other conditions) and for others, before and after removals.
 */
function listing(i: number, extra: Partial<IRoomCache> = {}): IRoomCache {
  const roomId = `cc-c${i}`;
  return {
    roomId, name: i % 2 ? "contact_center" : "private", processId: "p1", clients: i % 3, maxClients: 100,
    locked: i % 4 === 0, private: false, unlisted: false, publicAddress: "", createdAt: new Date(0),
    metadata: { roomKey: roomId }, ...extra,
  } as unknown as IRoomCache;
}

const queries: Partial<IRoomCache>[] = [
  { roomId: "cc-c3" }, { roomId: "cc-c999" },
  { roomKey: "cc-c5" } as any, { roomKey: "cc-c4", locked: false } as any, { roomKey: "cc-c5", locked: false } as any,
  { name: "contact_center", roomKey: "cc-c7" } as any, { name: "private", roomKey: "cc-c7" } as any,
  { roomId: "cc-c6", name: "private" }, { roomId: "cc-c6", name: "contact_center" },
  { roomId: "cc-c8", roomKey: "cc-c8" } as any, { roomId: "cc-c8", roomKey: "cc-c9" } as any,
  { name: "private", locked: false },
];

const idOf = (l: IRoomCache | undefined) => l?.roomId;

describe("matchmaking drivers: lookups by room key and room id", function () {
  this.timeout(10_000);

  it("KeyedLocalDriver answers like LocalDriver, before and after removals", async () => {
    const stock = new LocalDriver();
    const keyed = new KeyedLocalDriver();
    for (let i = 0; i < 40; i++) {
      assert.equal(await stock.insert(listing(i)), true);
      assert.equal(await keyed.insert(listing(i)), true);
    }
    assert.equal(await keyed.insert(listing(3)), false, "a second insert of one room id is refused");
    const compare = async (when: string) => {
      for (const q of queries) {
        assert.equal(idOf(await keyed.findOne(q)), idOf(await stock.findOne(q)), `${when}: ${JSON.stringify(q)}`);
      }
    };
    await compare("all inserted");
    for (const id of ["cc-c3", "cc-c5", "cc-c8", "cc-c12"]) { stock.remove(id); keyed.remove(id); }
    await compare("after removals");
    assert.equal(await keyed.findOne({ roomId: "cc-c3" }), undefined);
    assert.equal(await keyed.insert(listing(3)), true, "a removed room id can be inserted again");
    assert.equal(idOf(await keyed.findOne({ roomId: "cc-c3" })), "cc-c3");
    // an update of the listing in place (as the matchmaker does) is seen by the index
    const l = await keyed.findOne({ roomId: "cc-c9" });
    keyed.update(l, { $set: { locked: true } });
    assert.equal(await keyed.findOne({ roomKey: "cc-c9", locked: false } as any), undefined);
    // the id lookups do not scan the listings: they answer with the scanned array emptied
    const listings = keyed.rooms;
    keyed.rooms = [];
    assert.equal(idOf(await keyed.findOne({ roomId: "cc-c10" })), "cc-c10");
    assert.equal(idOf(await keyed.findOne({ roomKey: "cc-c11" } as any)), "cc-c11");
    keyed.rooms = listings;
    keyed.clear();
    assert.equal(await keyed.findOne({ roomId: "cc-c9" }), undefined);
  });

  it("AtomicRedisDriver answers like a full scan (RedisDriver's own `{ roomId }` shortcut ignores the other conditions)", async () => {
    await flushTestDb();
    const atomic = new AtomicRedisDriver(REDIS_TEST_URL);
    const redis = new Redis(REDIS_TEST_URL);
    const stock = new RedisDriver(redis);
    const scan = new LocalDriver();
    try {
      for (let i = 0; i < 20; i++) {
        assert.equal(await atomic.insert(listing(i)), true);
        await scan.insert(listing(i));
      }
      assert.equal(await atomic.insert(listing(3)), false, "a second insert of one room id is refused");
      // (lookups by other conditions are the stock driver's, and may answer any match)
      for (const q of queries.filter((q: any) => q.roomId || q.roomKey)) {
        assert.equal(idOf(await atomic.findOne(q)), idOf(await scan.findOne(q)), JSON.stringify(q));
      }
      // the lookup the server makes (by id alone) is the stock one
      assert.equal(idOf(await atomic.findOne({ roomId: "cc-c6" })), idOf(await stock.findOne({ roomId: "cc-c6" })));
    } finally {
      await flushTestDb();
      await atomic.shutdown();
      redis.disconnect();
    }
  });
});

describe("fencing of listings (AtomicRedisDriver) and the process lease", function () {
  this.timeout(20_000);
  const mine = (i: number, epoch: string) => listing(i, { processId: "p-me", metadata: { roomKey: `cc-c${i}`, epoch } } as any);

  it("writes a listing only while it is this actor's: never over a successor, never back after a drop", async () => {
    await flushTestDb();
    const driver = new AtomicRedisDriver(REDIS_TEST_URL);
    driver.processId = () => "p-me";
    const lost: string[] = [];
    driver.onListingLost = (roomId) => lost.push(roomId);
    const redis = new Redis(REDIS_TEST_URL);
    try {
      const a = mine(1, "7");
      assert.equal(await driver.insert(a), true);
      assert.equal(await driver.update(a, { $inc: { clients: 1 } } as any), true, "its own listing: written");
      assert.equal(JSON.parse((await redis.hget("roomcaches", "cc-c1"))!).clients, 2);

      // the matchmaker declared p-me dead and another process started the room
      const successor = { ...a, processId: "p-other", metadata: { roomKey: "cc-c1", epoch: "9" } };
      await redis.hset("roomcaches", "cc-c1", JSON.stringify(successor));
      assert.equal(await driver.update(a, { $inc: { clients: 1 } } as any), false);
      assert.equal(await driver.persist(a), false);
      assert.equal(await driver.remove("cc-c1"), false);
      assert.equal(JSON.parse((await redis.hget("roomcaches", "cc-c1"))!).processId, "p-other", "the successor's listing stands");
      assert.deepEqual(lost, ["cc-c1"], "the actor is told once");

      // a listing the matchmaker dropped is not brought back (Colyseus' restore of a swept process)
      const b = mine(2, "8");
      assert.equal(await driver.insert(b), true);
      await redis.hdel("roomcaches", "cc-c2");
      assert.deepEqual(await driver.lostListings(), ["cc-c2"]);
      assert.equal(await driver.persist(b), false);
      assert.equal(await redis.hexists("roomcaches", "cc-c2"), 0);

      // the same process, a later actor of the room (another epoch): the old one's writes are refused too
      const c = mine(3, "10");
      assert.equal(await driver.insert(c), true);
      assert.equal(await driver.update({ ...c, metadata: { roomKey: "cc-c3", epoch: "4" } } as any, { $set: { locked: true } } as any), false);
      assert.equal(await driver.remove("cc-c3"), true, "its own delete at dispose");
      assert.equal(await redis.hexists("roomcaches", "cc-c3"), 0);
    } finally {
      await flushTestDb();
      await driver.shutdown();
      redis.disconnect();
    }
  });

  it("removes a dead process's listings only once its lease expired, and only its own", async () => {
    await flushTestDb();
    const driver = new AtomicRedisDriver(REDIS_TEST_URL);
    driver.processId = () => "p-me";
    const redis = new Redis(REDIS_TEST_URL);
    try {
      await redis.hset("roomcaches", "cc-c1", JSON.stringify(listing(1, { processId: "p-dead" })), "cc-c2", JSON.stringify(listing(2, { processId: "p-other" })));
      await redis.set(leaseKey("p-dead"), "p-dead", "PX", 400);
      await driver.cleanup("p-dead");
      assert.equal(await redis.hexists("roomcaches", "cc-c1"), 1, "its lease still runs: the listing stays");
      await new Promise((r) => setTimeout(r, 500));
      await driver.cleanup("p-dead");
      assert.equal(await redis.hexists("roomcaches", "cc-c1"), 0);
      assert.equal(await redis.hexists("roomcaches", "cc-c2"), 1);
    } finally {
      await flushTestDb();
      await driver.shutdown();
      redis.disconnect();
    }
  });

  it("the lease lapses after LEASE_MS without a renewal (Redis cut off), on the monotonic clock, and is taken again after", async () => {
    const url = new URL(REDIS_TEST_URL);
    const proxy = await startTcpProxy(Number(url.port || 6379), url.hostname);
    const db = url.pathname.slice(1) || "0";
    const redis = new Redis(`redis://127.0.0.1:${proxy.port}/${db}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on("error", () => {});
    const lease = new ProcessLease(redis, () => "p-lease-test", 600);
    let lapses = 0;
    lease.onLapse(() => { lapses++; });
    try {
      await lease.start();
      assert.equal(lease.valid(), true);
      await new Promise((r) => setTimeout(r, 900));
      assert.deepEqual([lease.valid(), lapses], [true, 0], "renewed in time");
      const cutAt = performance.now();
      proxy.cut();
      await until(() => lapses === 1, 3_000, "the lapse");
      const after = performance.now() - cutAt;
      // LEASE_MS after the last renewal sent (at most a check period, 150 ms, before the cut), with room for a loaded machine
      assert.ok(after <= 600 + 150 + 650, `lapsed ${Math.round(after)} ms after the cut`);
      assert.equal(lease.valid(), false);
      proxy.heal();
      await until(() => lease.valid(), 5_000, "the lease taken again");
      assert.equal(lapses, 1);
    } finally {
      await lease.stop();
      redis.disconnect();
      await proxy.close();
    }
  });
});
