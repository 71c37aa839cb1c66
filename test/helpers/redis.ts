import Redis from "ioredis";

/**
 * Integration tests use one database of the machine's Redis (127.0.0.1:6379) and
 * flush it first, so a crashed earlier run cannot leave matchmaker rows behind.
 */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? "redis://127.0.0.1:6379/9";

export async function flushTestDb(url = REDIS_TEST_URL) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.flushdb();
  redis.disconnect();
}
