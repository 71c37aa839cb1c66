import { RedisDriver } from "@colyseus/redis-driver";
import { createHash } from "node:crypto";
import { LocalDriver, matchMaker, type IRoomCache, type SortOptions } from "@colyseus/core";
import Redis from "ioredis";

/** The hash RedisDriver 0.18 keeps its room listings in. */
const ROOMCACHES_KEY = "roomcaches";

/**
 * RedisDriver with the atomic `insert` that 0.18.3 lacks. With it, the matchmaker
 * (`recordRoom`) keeps the first actor recorded for a room id and discards any
 * other that a concurrent join started on another process: one actor per room.
 */
export class AtomicRedisDriver extends RedisDriver {
  private readonly redis: Redis;

  constructor(url: string) {
    const redis = new Redis(url);
    super(redis);
    this.redis = redis;
  }

  async insert(room: IRoomCache): Promise<boolean> {
    return (await this.redis.hsetnx(ROOMCACHES_KEY, room.roomId, JSON.stringify(room))) === 1;
  }

  findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    return byRoomKey(conditions, (roomId) => super.findOne({ roomId }))
      ?? super.findOne(conditions, sortOptions);
  }
}

/** LocalDriver with the same room-key lookup: the embedded node's joins in O(1). */
export class KeyedLocalDriver extends LocalDriver {
  findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    return byRoomKey(conditions, async (roomId) => matchMaker.getLocalRoomById(roomId)?.["_listing"])
      ?? super.findOne(conditions, sortOptions);
  }
}

/**
 * Every room is filtered on `roomKey`, which is its room id, so a join's lookup is
 * one get by id. The stock drivers scan every listing for a metadata filter: with
 * 2,000 rooms that was 8 % of the server's CPU (docs/benchmarks.md).
 * Returns undefined when the conditions have no room key (other lookups).
 */
function byRoomKey(conditions: Partial<IRoomCache>, get: (roomId: string) => Promise<IRoomCache | undefined>) {
  const { roomKey, ...rest } = conditions as Record<string, unknown>;
  if (typeof roomKey !== "string") { return undefined; }
  return get(roomKey).then((listing) => {
    if (!listing || listing.metadata?.roomKey !== roomKey) { return undefined as unknown as IRoomCache; }
    for (const [field, value] of Object.entries(rest)) {
      const actual = field in listing ? (listing as any)[field] : listing.metadata?.[field];
      if (actual !== value) { return undefined as unknown as IRoomCache; }
    }
    return listing;
  });
}

/**
 * Where a new actor starts: rendezvous hashing of the room id over the live
 * processes. Rooms spread evenly even when many start at once (the stock policy
 * reads room counts that lag behind a burst and piles them on one process), and
 * concurrent starts of one room meet on one process.
 */
export async function selectProcessForRoom(_roomName: string, options: { roomKey?: unknown }): Promise<string> {
  const processes = (await matchMaker.stats.fetchAll()).map((s) => s.processId);
  const key = typeof options?.roomKey === "string" ? options.roomKey : "";
  if (processes.length === 0) { return matchMaker.processId; }
  let best = processes[0];
  let bestScore = -1;
  for (const processId of processes) {
    const score = createHash("sha1").update(`${processId}\u0000${key}`).digest().readUInt32BE(0);
    if (score > bestScore) { best = processId; bestScore = score; }
  }
  return best;
}
