import { RedisDriver } from "@colyseus/redis-driver";
import type { IRoomCache } from "@colyseus/core";
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
}
