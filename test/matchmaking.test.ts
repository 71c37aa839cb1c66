import assert from "node:assert/strict";
import { LocalDriver, type IRoomCache } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import Redis from "ioredis";
import { AtomicRedisDriver, KeyedLocalDriver } from "../server/cluster/matchmaking";
import { REDIS_TEST_URL, flushTestDb } from "./helpers/redis";

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
