import type Redis from "ioredis";
import type { Config } from "../config";
import { MemoryStore } from "./memory";
import { PostgresStore } from "./postgres";
import { RedisStore } from "./redis";
import { SqliteStore } from "./sqlite";
import type { RoomStore } from "./types";

export type StoreKind = "memory" | "sqlite" | "postgres" | "redis";

export interface StoreChoice {
  kind: StoreKind;
  /** the SQLite file, the PostgreSQL or Redis URL; "" for memory */
  location: string;
}

/**
 * Reads a DATABASE_URL (docs/storage.md): `memory:`, `sqlite:<path>` (`sqlite::memory:`
 * is an in-process database), `postgres://` / `postgresql://`, `redis://` / `rediss://`.
 */
export function parseDatabaseUrl(url: string): StoreChoice {
  if (url === "memory:" || url === "memory://") { return { kind: "memory", location: "" }; }
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (!file) { throw new Error(`DATABASE_URL "${url}" names no SQLite file`); }
    return { kind: "sqlite", location: file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) { return { kind: "postgres", location: url }; }
  if (/^rediss?:\/\//.test(url)) { return { kind: "redis", location: url }; }
  throw new Error(`DATABASE_URL must start with memory:, sqlite:, postgres://, postgresql:// or redis://, got "${url}"`);
}

/**
 * Opens the store the configuration names. `redis`: the node's own Redis connection
 * when the store lives on REDIS_URL (so a Redis outage fails requests at once, see
 * app.ts), else a connection of its own.
 */
export async function createStore(config: Pick<Config, "databaseUrl" | "databasePoolSize" | "databaseQueryTimeoutMs" | "sqliteSynchronous" | "redisUrl">, redis?: Redis): Promise<RoomStore> {
  const choice = parseDatabaseUrl(config.databaseUrl);
  switch (choice.kind) {
    case "memory": return new MemoryStore();
    case "sqlite": return new SqliteStore(choice.location, config.sqliteSynchronous);
    case "postgres": return PostgresStore.connect({ url: choice.location, poolSize: config.databasePoolSize, queryTimeoutMs: config.databaseQueryTimeoutMs });
    case "redis":
      return redis && choice.location === config.redisUrl ? new RedisStore(redis) : RedisStore.connect(choice.location);
  }
}

/** What the start-up log says about the store, without credentials. */
export function describeStore(databaseUrl: string): StoreChoice {
  const choice = parseDatabaseUrl(databaseUrl);
  if (choice.kind === "postgres" || choice.kind === "redis") {
    const u = new URL(choice.location);
    u.password = "";
    return { ...choice, location: u.toString() };
  }
  return choice;
}
