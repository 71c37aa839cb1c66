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
    // RedisDriver finds `{ roomId }` with one HGET; a room key is a room id
    return byId(conditions, (roomId) => super.findOne({ roomId }))
      ?? super.findOne(conditions, sortOptions);
  }
}

/**
 * LocalDriver with an index by room id: the embedded node's joins (by room key) and
 * remote room calls (by room id: every conversation start and end tells the team
 * room) in O(1). The stock driver scans every listing for both: with 2,000 rooms that
 * was 8 % of the server's CPU, and 5 % for the room-id lookups alone
 * (docs/benchmarks.md).
 */
export class KeyedLocalDriver extends LocalDriver {
  private byRoomId = new Map<string, IRoomCache>();

  async insert(room: IRoomCache): Promise<boolean> {
    const inserted = await super.insert(room);
    if (inserted) { this.byRoomId.set(room.roomId, room); }
    return inserted;
  }

  persist(room: IRoomCache, create = false): boolean {
    const persisted = super.persist(room, create);
    if (persisted) { this.byRoomId.set(room.roomId, room); }
    return persisted;
  }

  remove(roomId: string): boolean {
    this.byRoomId.delete(roomId);
    return super.remove(roomId);
  }

  clear() {
    this.byRoomId.clear();
    super.clear();
  }

  findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    return byId(conditions, async (roomId) => this.byRoomId.get(roomId))
      ?? super.findOne(conditions, sortOptions);
  }
}

/**
 * Every room is filtered on `roomKey`, which is its room id, so a join's lookup, like
 * a lookup by `roomId`, is one get by id; the other conditions are checked on the
 * listing found. Returns undefined when the conditions name neither (other lookups).
 */
function byId(conditions: Partial<IRoomCache>, get: (roomId: string) => Promise<IRoomCache | undefined>) {
  const { roomKey, roomId, ...rest } = conditions as Record<string, unknown>;
  const id = typeof roomKey === "string" ? roomKey : typeof roomId === "string" ? roomId : undefined;
  if (id === undefined) { return undefined; }
  return get(id).then((listing) => {
    if (!listing
      || (typeof roomKey === "string" && listing.metadata?.roomKey !== roomKey)
      || (typeof roomId === "string" && listing.roomId !== roomId)) { return undefined as unknown as IRoomCache; }
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
