import assert from "node:assert/strict";
import { MemoryStore } from "../server/store/memory";
import { RedisStore } from "../server/store/redis";
import Redis from "ioredis";
import { RetentionJob } from "../server/cluster/retention";
import { loadConfig } from "../server/config";
import type { RoomStore } from "../server/store/types";

/** The purge job's rules on the memory store (the store calls have their own contract test, records.test.ts). */

async function seed(store: RoomStore, roomId: string, kind: "contact_center" | "private" | "team", endedAt: number) {
  await store.createRoom({ roomId, kind, members: [], customers: kind === "team" ? [] : ["c"], createdAt: 0, lastActivityAt: 0, activeConversationId: null, lastSeq: 0, pastConversations: 0 });
  const conv = { id: `${roomId}-conv`, roomId, state: "active" as const, startedAt: endedAt - 10, endedAt: 0, endReason: "", endedBy: "", firstSeq: 0, lastSeq: 0, messageCount: 0, participants: [], channelSessions: [] };
  await store.startConversation(conv);
  await store.appendMessage(roomId, { id: "m", conversationId: conv.id, senderId: "c", senderRole: "customer", senderName: "", kind: "text", text: "x", at: endedAt - 5 });
  await store.endConversation({ ...conv, state: "ended", endedAt });
}

const DAY = 86_400_000;

describe("retention job", () => {
  it("purges each kind by its own retention, keeps kinds without one, and audits the counts", async () => {
    const store = new MemoryStore();
    const now = 100 * DAY;
    await seed(store, "cc-old", "contact_center", now - 31 * DAY);
    await seed(store, "cc-new", "contact_center", now - 29 * DAY);
    await seed(store, "pr-old", "private", now - 8 * DAY);
    await seed(store, "team-old", "team", now - 400 * DAY);
    const job = new RetentionJob(store, { contact_center: 30 * DAY, private: 7 * DAY, team: 0 }, 60_000);
    const done = await job.purge(now);
    assert.deepEqual(done, { contact_center: { conversations: 1, messages: 1, rooms: 1 }, private: { conversations: 1, messages: 1, rooms: 1 } });
    assert.equal(await store.getRoom("cc-old"), null);
    assert.ok(await store.getRoom("cc-new"));
    assert.equal(await store.getRoom("pr-old"), null);
    assert.ok(await store.getConversation("team-old", "team-old-conv"));
    const audit = await store.readAudit({ action: "retention_purge", limit: 10 });
    assert.deepEqual(audit.map((e) => [e.subject, e.actor, e.detail]), [
      ["private", "system:retention", { conversations: 1, messages: 1, rooms: 1 }],
      ["contact_center", "system:retention", { conversations: 1, messages: 1, rooms: 1 }],
    ]);
  });

  it("runs once per interval across nodes sharing a store (the lease)", async () => {
    const store = new MemoryStore();
    const now = Date.now();
    for (let i = 0; i < 3; i++) { await seed(store, `cc-${i}`, "contact_center", now - 2 * DAY); }
    const nodes = [1, 2, 3].map(() => new RetentionJob(store, { contact_center: DAY, private: 0, team: 0 }, 60_000));
    const purged: string[] = [];
    const original = store.purgeEnded.bind(store);
    store.purgeEnded = async (...args) => { purged.push("pass"); return original(...args); };
    await Promise.all(nodes.map((n) => n.tick(now)));
    assert.equal(purged.length, 1, "one node purged");
    assert.equal((await store.readAudit({ limit: 10 })).length, 1);
  });

  it("refuses to start on a store that cannot purge (Redis) when a retention is set, and starts when none is", async () => {
    const client = new Redis(process.env.REDIS_STORE_TEST_URL ?? "redis://127.0.0.1:6379");
    try {
      const store = new RedisStore(client, "retention-test:");
      await assert.rejects(new RetentionJob(store, { contact_center: DAY, private: 0, team: 0 }, 60_000).start(), /RETENTION_DAYS_\* is set but the Redis store does not support retention/);
      const off = new RetentionJob(store, { contact_center: 0, private: 0, team: 0 }, 60_000);
      await off.start();
      await off.stop();
    } finally { client.disconnect(); }
  });

  it("reads RETENTION_DAYS_* as days (fractions allowed, 0 or unset: forever) and refuses anything else", () => {
    const base = { NODE_ENV: "test", AUTH_SECRET: "x".repeat(32) };
    assert.deepEqual(loadConfig(base).retentionMs, { contact_center: 0, private: 0, team: 0 });
    assert.deepEqual(loadConfig({ ...base, RETENTION_DAYS_CONTACT_CENTER: "30", RETENTION_DAYS_PRIVATE: "0.5", RETENTION_DAYS_TEAM: "0" }).retentionMs,
      { contact_center: 30 * DAY, private: DAY / 2, team: 0 });
    for (const bad of ["-1", "ten", "Infinity"]) {
      assert.throws(() => loadConfig({ ...base, RETENTION_DAYS_TEAM: bad }), /RETENTION_DAYS_TEAM must be a number of days >= 0/);
    }
    assert.throws(() => loadConfig({ ...base, RETENTION_INTERVAL_MS: "5" }), /RETENTION_INTERVAL_MS must be an integer >= 100/);
  });
});
