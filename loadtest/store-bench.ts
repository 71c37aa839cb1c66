/**
 * Store micro-benchmark: appendMessage straight on a RoomStore, no server, no network
 * beyond the store's own. For each store and room count: closed loop (every room keeps
 * one append in flight: the most a store acknowledges per second), then an open loop at
 * a fixed rate (ack latency at a realistic load). Prints a Markdown table and bytes per
 * stored message.
 *
 *   npx tsx loadtest/store-bench.ts --store postgres            # or sqlite, memory, redis, all
 *   npx tsx loadtest/store-bench.ts --store all --rooms 1,100,2000 --seconds 5 --rate 1000
 *
 * PostgreSQL: recreates the database cc_store_bench on --pg (default local, user postgres).
 * Redis: database 15 of --redis under its own prefix, deleted afterwards.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import Redis from "ioredis";
import { Hist, round } from "./hist";
import { MemoryStore } from "../server/store/memory";
import { PostgresStore } from "../server/store/postgres";
import { RedisStore } from "../server/store/redis";
import { SqliteStore } from "../server/store/sqlite";
import type { RoomStore } from "../server/store/types";

type Kind = "memory" | "sqlite" | "postgres" | "redis";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) { args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1] ?? ""); }
const which = args.get("store") ?? "postgres";
const kinds = (which === "all" ? ["memory", "sqlite", "postgres", "redis"] : which.split(",")) as Kind[];
const roomCounts = (args.get("rooms") ?? "1,100,2000").split(",").map(Number);
const seconds = Number(args.get("seconds") ?? 5);
const rate = Number(args.get("rate") ?? 1000);
const pgBase = args.get("pg") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = args.get("redis") ?? "redis://127.0.0.1:6379/15";
const poolSize = Number(args.get("pool") ?? 10);
const TEXT = "Hello, I ordered a blue sweater last week and it has not arrived yet, order 12345.";

interface Opened { store: RoomStore; bytes(): Promise<number>; cleanup(): Promise<void> }

async function open(kind: Kind): Promise<Opened> {
  switch (kind) {
    case "memory": {
      const store = new MemoryStore();
      return { store, bytes: async () => NaN, cleanup: async () => {} };
    }
    case "sqlite": {
      const dir = mkdtempSync(path.join(tmpdir(), "cc-store-bench-"));
      const file = path.join(dir, "bench.sqlite");
      const store = new SqliteStore(file, (args.get("sqlite-synchronous") as "full" | "normal") ?? "full");
      const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
      return {
        store,
        // after close() SQLite has checkpointed the WAL into the file
        bytes: async () => { await store.close(); return size(file) + size(`${file}-wal`); },
        cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); },
      };
    }
    case "postgres": {
      const admin = new pg.Pool({ connectionString: pgBase, max: 1 });
      await admin.query("DROP DATABASE IF EXISTS cc_store_bench WITH (FORCE)");
      await admin.query("CREATE DATABASE cc_store_bench");
      const u = new URL(pgBase); u.pathname = "/cc_store_bench";
      const store = await PostgresStore.connect({ url: u.toString(), poolSize });
      const q = new pg.Pool({ connectionString: u.toString(), max: 1 });
      return {
        store,
        bytes: async () => {
          await q.query("VACUUM ANALYZE cc_messages");
          return Number((await q.query("SELECT pg_total_relation_size('cc_messages') + pg_total_relation_size('cc_rooms') + pg_total_relation_size('cc_conversations') AS b")).rows[0].b);
        },
        cleanup: async () => { await store.close(); await q.end();
          // no FORCE: the ended pools' sockets may still be closing
          for (let i = 0; i < 50; i++) {
            try { await admin.query("DROP DATABASE IF EXISTS cc_store_bench"); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
          }
          await admin.end();
        },
      };
    }
    case "redis": {
      const client = new Redis(redisUrl);
      const prefix = `cc-bench:${process.pid}:`;
      const before = Number(/used_memory:(\d+)/.exec(await client.info("memory"))![1]);
      const store = new RedisStore(client, prefix);
      return {
        store,
        bytes: async () => Number(/used_memory:(\d+)/.exec(await client.info("memory"))![1]) - before,
        cleanup: async () => {
          let cursor = "0";
          do {
            const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
            if (keys.length) { await client.del(...keys); }
            cursor = next;
          } while (cursor !== "0");
          await client.quit();
        },
      };
    }
  }
}

async function makeRooms(store: RoomStore, n: number, tag: string) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const roomId = `bench-${tag}-${i}`;
    await store.createRoom({ roomId, kind: "contact_center", members: [], customers: [`c${i}`], createdAt: 1, lastActivityAt: 1, activeConversationId: null, lastSeq: 0, pastConversations: 0 });
    await store.startConversation({ id: "conv-1", roomId, state: "active", startedAt: 1, endedAt: 0, endReason: "", endedBy: "", firstSeq: 0, lastSeq: 0, messageCount: 0, participants: [], channelSessions: [] });
    ids.push(roomId);
  }
  return ids;
}

let counter = 0;
const append = (store: RoomStore, roomId: string) => store.appendMessage(roomId, {
  id: `m${++counter}`, conversationId: "conv-1", senderId: `c-${roomId}`, senderRole: "customer", senderName: "Ann", kind: "text", text: TEXT, at: Date.now(),
});

/** Every room keeps one append in flight for `seconds`. */
async function closedLoop(store: RoomStore, rooms: string[]) {
  const hist = new Hist();
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(rooms.map(async (roomId) => {
    while (performance.now() < end) {
      const t = performance.now();
      await append(store, roomId);
      hist.record(performance.now() - t);
      done++;
    }
  }));
  return { perSecond: Math.round(done / seconds), ...hist.summary() };
}

/** `rate` appends per second spread over the rooms; latency from the moment each was due. */
async function openLoop(store: RoomStore, rooms: string[]) {
  const hist = new Hist();
  const total = rate * seconds;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let issued = 0;
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; issued < due; issued++) {
      const at = start + (issued / rate) * 1000;
      pending.push(append(store, rooms[issued % rooms.length]).then(() => hist.record(performance.now() - at)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return hist.summary();
}

async function main() {
  const rows: string[] = [];
  const sizes: string[] = [];
  for (const kind of kinds) {
    const opened = await open(kind);
    let messages = 0;
    try {
      for (const n of roomCounts) {
        const rooms = await makeRooms(opened.store, n, `${n}`);
        const closed = await closedLoop(opened.store, rooms);
        messages += closed.count;
        const openRun = await openLoop(opened.store, rooms);
        messages += openRun.count;
        rows.push(`| ${kind} | ${n} | ${closed.perSecond} | ${closed.p50} | ${closed.p99} | ${rate} | ${openRun.p50} | ${openRun.p99} | ${openRun.max} |`);
        console.error(rows[rows.length - 1]);
      }
      const bytes = await opened.bytes();
      if (Number.isFinite(bytes)) { sizes.push(`| ${kind} | ${messages} | ${round(bytes / 1024 / 1024, 1)} MiB | ${Math.round(bytes / messages)} |`); }
    } finally {
      await opened.cleanup();
    }
  }
  console.log("| store | rooms | closed loop: appends/s | p50 ack ms | p99 ack ms | open loop: msg/s | p50 ack ms | p99 ack ms | max ms |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) { console.log(r); }
  if (sizes.length) {
    console.log(`\n| store | messages stored | size | bytes per message (text of ${TEXT.length} chars, rooms and conversations included) |`);
    console.log("| --- | --- | --- | --- |");
    for (const s of sizes) { console.log(s); }
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
