import { RedisDriver } from "@colyseus/redis-driver";
import { createHash } from "node:crypto";
import { LocalDriver, matchMaker, type IRoomCache, type SortOptions } from "@colyseus/core";
import Redis from "ioredis";
import { logger } from "../logger";
import { leaseKey } from "./lease";

/** The hash RedisDriver 0.18 keeps its room listings in. */
const ROOMCACHES_KEY = "roomcaches";

/**
 * Writes a listing only while it is still this actor's: same process, same
 * activation epoch (metadata.epoch). A listing the matchmaker dropped is never
 * written back. KEYS: roomcaches   ARGV: roomId, processId, epoch ('' = any), JSON
 * ('' = delete). Returns 1 when done, 0 when the listing is not ours (or gone).
 */
const LISTING_IF_OURS = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local listing = cjson.decode(raw)
if listing.processId ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and (type(listing.metadata) ~= 'table' or tostring(listing.metadata.epoch) ~= ARGV[3]) then return 0 end
if ARGV[4] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) end
return 1`;

/**
 * The matchmaker declared a process dead: its listings go, but only once its lease
 * expired (server/cluster/lease.ts), so its actors stopped before any other
 * process may start them. KEYS: roomcaches, the process's lease   ARGV: processId,
 * room ids. Returns the listings removed, or -1 while the lease is held.
 */
const CLEANUP_IF_LAPSED = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local removed = 0
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and cjson.decode(raw).processId == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed`;

const epochOf = (listing: IRoomCache) => {
  const epoch = listing.metadata?.epoch;
  return epoch === undefined ? "" : String(epoch);
};

/**
 * RedisDriver with the atomic `insert` that 0.18.3 lacks. With it, the matchmaker
 * (`recordRoom`) keeps the first actor recorded for a room id and discards any
 * other that a concurrent join started on another process: one actor per room.
 *
 * Fencing (docs/cluster.md): every other write of a listing is conditional on the
 * listing still being this actor's (`LISTING_IF_OURS`): an update, Colyseus'
 * "restore on wake" (`persist` after the process was swept) and the delete at
 * dispose never overwrite or remove the listing of the actor that replaced it, and
 * never bring back one the matchmaker dropped. When a write finds the listing gone
 * or another's, the actor learns it was replaced (`onListingLost`) and stops.
 */
export class AtomicRedisDriver extends RedisDriver {
  private readonly redis: Redis;
  /** room id -> the epoch in the listing this process inserted */
  private readonly owned = new Map<string, string>();
  /** the actor of this room id was replaced: stop it (server/wiring/app.ts) */
  onListingLost: (roomId: string) => void = () => {};
  /** this process's id in the listings (the matchmaker's; a test may name one) */
  processId: () => string = () => matchMaker.processId;

  constructor(url: string) {
    const redis = new Redis(url);
    super(redis);
    this.redis = redis;
    this.redis.defineCommand("ccListingIfOurs", { numberOfKeys: 1, lua: LISTING_IF_OURS });
    this.redis.defineCommand("ccCleanupIfLapsed", { numberOfKeys: 2, lua: CLEANUP_IF_LAPSED });
  }

  async insert(room: IRoomCache): Promise<boolean> {
    const inserted = (await this.redis.hsetnx(ROOMCACHES_KEY, room.roomId, JSON.stringify(room))) === 1;
    if (inserted) { this.owned.set(room.roomId, epochOf(room)); }
    return inserted;
  }

  private async writeIfOurs(roomId: string, epoch: string, json: string): Promise<boolean> {
    const done = (await (this.redis as any).ccListingIfOurs(ROOMCACHES_KEY, roomId, this.processId(), epoch, json)) === 1;
    if (!done && json !== "" && this.owned.get(roomId) === epoch) {
      logger.warn({ roomId }, "room listing is no longer this actor's: it was replaced");
      this.owned.delete(roomId);
      this.onListingLost(roomId);
    }
    return done;
  }

  async update(room: IRoomCache, operations: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>): Promise<boolean> {
    for (const [field, value] of Object.entries(operations.$set ?? {})) { (room as any)[field] = value; }
    for (const [field, value] of Object.entries(operations.$inc ?? {})) { (room as any)[field] += value as number; }
    return this.writeIfOurs(room.roomId, epochOf(room), JSON.stringify(room));
  }

  /** Never creates (creation is `insert`): Colyseus' restore of a swept process's listings finds them gone and stops the actor. */
  async persist(room: IRoomCache): Promise<boolean> {
    if (!room.roomId) { return false; }
    return this.writeIfOurs(room.roomId, epochOf(room), JSON.stringify(room));
  }

  async remove(roomId: string): Promise<boolean> {
    const epoch = this.owned.get(roomId);
    this.owned.delete(roomId);
    if (epoch === undefined) { return false; } // not ours: a discarded duplicate, or replaced
    return this.writeIfOurs(roomId, epoch, "");
  }

  async cleanup(processId: string): Promise<void> {
    if (processId === this.processId()) { return super.cleanup(processId); } // our own shutdown
    const ids = (await this.query({ processId })).map((listing) => listing.roomId);
    const removed = await (this.redis as any).ccCleanupIfLapsed(ROOMCACHES_KEY, leaseKey(processId), processId, ...ids);
    if (removed === -1) {
      logger.warn({ processId, rooms: ids.length }, "process did not answer but still holds its lease: its rooms stay until the lease expires");
    } else if (removed > 0) {
      logger.warn({ processId, rooms: removed }, "process declared dead: its room listings removed, its rooms start elsewhere");
    }
  }

  /** Room ids whose listing is no longer this process's (the matchmaker dropped it, or another actor holds it). */
  async lostListings(): Promise<string[]> {
    const ids = [...this.owned.keys()];
    if (ids.length === 0) { return []; }
    const found = await this.findByIds(ids);
    return ids.filter((id) => {
      const listing = found.get(id);
      return this.owned.has(id) && (!listing || listing.processId !== this.processId() || epochOf(listing) !== this.owned.get(id));
    });
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
