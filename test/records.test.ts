import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Redis from "ioredis";
import pg from "pg";
import { MemoryStore } from "../server/store/memory";
import { PostgresStore } from "../server/store/postgres";
import { RedisStore } from "../server/store/redis";
import { SqliteStore } from "../server/store/sqlite";
import { StoreError } from "../server/store/errors";
import type { ConversationRecord, NewMessage, RoomKind, RoomRecord, RoomStore } from "../server/store/types";

/*
 * The record-keeping contract (retention purge, erasure, export, search, audit) on
 * every store that offers it, and the Redis store's clear refusal.
 */

const room = (roomId: string, over: Partial<RoomRecord> = {}): RoomRecord => ({
  roomId, kind: "contact_center", members: [], customers: [], createdAt: 1_000, lastActivityAt: 1_000,
  activeConversationId: null, lastSeq: 0, pastConversations: 0, ...over,
});

const conversation = (roomId: string, id: string, startedAt: number, customers: string[]): ConversationRecord => ({
  id, roomId, state: "active", startedAt, endedAt: 0, endReason: "", endedBy: "", firstSeq: 0, lastSeq: 0, messageCount: 0,
  participants: customers.map((c) => ({ userId: c, role: "customer" as const, name: `Name of ${c}`, joinedAt: startedAt, leftAt: 0, readSeq: 0 })),
  channelSessions: customers.map((c) => ({ id: `chs-${id}-${c}`, customerId: c, type: "web", address: `${c}@example.test`, startedAt, endedAt: 0, state: "active" as const })),
});

const msg = (conversationId: string, id: string, senderId: string, text: string, at: number, over: Partial<NewMessage> = {}): NewMessage => ({
  id, conversationId, senderId, senderRole: senderId.startsWith("agent") ? "agent" : "customer", senderName: `Name of ${senderId}`,
  kind: "text", text, at, ...over,
});

async function end(store: RoomStore, c: ConversationRecord, endedAt: number) {
  await store.endConversation({ ...c, state: "ended", endedAt, endReason: "ended_by_agent", endedBy: "agent-1" });
}

/** A room of `kind` with one conversation that ended at `endedAt` and holds two messages. */
async function endedRoom(store: RoomStore, roomId: string, kind: RoomKind, convId: string, startedAt: number, endedAt: number, customer = "c-x") {
  await store.createRoom(room(roomId, { kind, customers: kind === "team" ? [] : [customer] }));
  const c = conversation(roomId, convId, startedAt, [customer]);
  await store.startConversation(c);
  await store.appendMessage(roomId, msg(convId, `${convId}-1`, customer, "hello there", startedAt + 1));
  await store.appendMessage(roomId, msg(convId, `${convId}-2`, "agent-1", "hi, how can I help", startedAt + 2));
  await end(store, c, endedAt);
  return c;
}

function recordsContract(name: string, makeStore: () => RoomStore | Promise<RoomStore>) {
  describe(`${name}: records`, () => {
    let store: RoomStore;
    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await store.close(); });

    it("purgeEnded removes ended conversations of the kind older than the cut-off, their messages and idempotency keys, never the active one", async () => {
      const id = `cc-${randomUUID()}`;
      const old = await endedRoom(store, id, "contact_center", "old", 1_000, 2_000);
      const recent = conversation(id, "recent", 5_000, ["c-x"]);
      await store.startConversation(recent);
      await store.appendMessage(id, msg("recent", "r-1", "c-x", "still here", 5_001));
      await end(store, recent, 6_000);
      const active = conversation(id, "active", 7_000, ["c-x"]);
      await store.startConversation(active);
      await store.appendMessage(id, msg("active", "a-1", "c-x", "ongoing", 7_001));
      // another kind with an old conversation is untouched by a contact_center purge
      const pr = `pr-${randomUUID()}`;
      await endedRoom(store, pr, "private", "pold", 1_000, 2_000);

      const result = await store.purgeEnded("contact_center", 3_000, 100);
      assert.deepEqual(result, { conversations: 1, messages: 2, rooms: 0 });
      assert.equal(await store.getConversation(id, old.id), null);
      assert.deepEqual(await store.readMessages(id, "old", { limit: 10, includeNotes: true }), []);
      assert.equal((await store.readMessages(id, "recent", { limit: 10, includeNotes: true })).length, 1);
      assert.equal((await store.getConversation(id, "active"))?.state, "active");
      assert.deepEqual((await store.listConversations(id, { limit: 10 })).map((c) => c.id), ["recent"]);
      // the room keeps its seq: a new message never reuses a purged seq
      assert.equal((await store.appendMessage(id, msg("active", "a-2", "c-x", "next", 7_002))).message.seq, 5);
      assert.equal((await store.getConversation(pr, "pold"))?.state, "ended");
      assert.equal((await store.purgeEnded("contact_center", 3_000, 100)).conversations, 0);
      // nothing is purged while the cut-off is before every end
      assert.deepEqual(await store.purgeEnded("private", 1_500, 100), { conversations: 0, messages: 0, rooms: 0 });
    });

    it("purgeEnded removes a room left with nothing, pages by limit, and leaves rooms with activity", async () => {
      const ids = [`pr-${randomUUID()}`, `pr-${randomUUID()}`, `pr-${randomUUID()}`];
      for (const [i, id] of ids.entries()) { await endedRoom(store, id, "private", `conv-${i}`, 1_000, 2_000); }
      const first = await store.purgeEnded("private", 3_000, 2);
      assert.equal(first.conversations, 2);
      const second = await store.purgeEnded("private", 3_000, 2);
      assert.equal(second.conversations, 1);
      assert.equal(first.rooms + second.rooms, 3);
      for (const id of ids) { assert.equal(await store.getRoom(id), null); }
      // activity after the cut-off keeps the room record (an actor may be serving it)
      const busy = `pr-${randomUUID()}`;
      await endedRoom(store, busy, "private", "b", 1_000, 2_000);
      await store.createRoom(room(busy));
      const live = conversation(busy, "live", 9_000, ["c-x"]);
      await store.startConversation(live);
      await end(store, live, 9_500);
      assert.equal((await store.purgeEnded("private", 3_000, 10)).rooms, 0);
      assert.ok(await store.getRoom(busy));
    });

    it("eraseCustomer removes their own rooms whole, leaves shared rooms, redacts what they sent elsewhere, and counts", async () => {
      const who = `c-${randomUUID()}`;
      const other = `c-${randomUUID()}`;
      const own = `cc-${who}`;
      await endedRoom(store, own, "contact_center", "own-1", 1_000, 2_000, who);
      await store.appendOutbox(own, ["{\"event\":1}", "{\"event\":2}"]);
      const solo = `pr-${randomUUID()}`;
      await store.createRoom(room(solo, { kind: "private", customers: [who], members: [who, "agent-1"] }));
      const shared = `pr-${randomUUID()}`;
      await store.createRoom(room(shared, { kind: "private", customers: [who, other], members: [who, other] }));
      const sc = conversation(shared, "shared-1", 3_000, [who, other]);
      await store.startConversation(sc);
      await store.appendMessage(shared, msg("shared-1", "s1", who, "my secret address", 3_001));
      await store.appendMessage(shared, msg("shared-1", "s2", other, "mine stays", 3_002));
      const theirs = `cc-${other}`;
      await store.createRoom(room(theirs, { customers: [other] }));
      const tc = conversation(theirs, "t-1", 4_000, [other]);
      await store.startConversation(tc);
      await store.appendMessage(theirs, msg("t-1", "t1", who, "a stray secret", 4_001));

      assert.deepEqual((await store.customerRooms(who)).sort(), [own, shared, solo].sort());
      const result = await store.eraseCustomer(who);
      assert.deepEqual(result, { rooms: 2, conversations: 1, messages: 2, redactedMessages: 2, roomsLeft: 1, channelSessions: 2, outboxEntries: 2 });

      assert.equal(await store.getRoom(own), null);
      assert.equal(await store.getRoom(solo), null);
      assert.deepEqual(await store.readOutbox(own, 10), []);
      const left = (await store.getRoom(shared))!;
      assert.deepEqual([left.customers, left.members], [[other], [other]]);
      const sharedConv = (await store.getConversation(shared, "shared-1"))!;
      assert.deepEqual(sharedConv.channelSessions.map((s) => s.customerId), [other]);
      assert.equal(sharedConv.participants.find((p) => p.userId === who)?.name, "");
      const sharedMsgs = await store.readMessages(shared, "shared-1", { limit: 10, includeNotes: true });
      assert.deepEqual(sharedMsgs.map((m) => [m.seq, m.senderId, m.text, m.senderName]), [[1, who, "", ""], [2, other, "mine stays", `Name of ${other}`]]);
      assert.deepEqual((await store.readMessages(theirs, "t-1", { limit: 10, includeNotes: true })).map((m) => m.text), [""]);
      // a retry of an erased message answers the redacted one, never stores the words again
      const retry = await store.appendMessage(shared, msg("shared-1", "s1", who, "my secret address", 3_001));
      assert.deepEqual([retry.duplicate, retry.message.text], [true, ""]);
      assert.deepEqual(await store.searchMessages({ q: "secret", limit: 10 }), []);
      assert.deepEqual(await store.customerRooms(who), []);
      // a second erasure finds nothing more
      const again = await store.eraseCustomer(who);
      assert.deepEqual([again.rooms, again.roomsLeft], [0, 0]);
    });

    it("exportCustomer returns their rooms with every conversation and message (notes included), messages elsewhere and channel sessions", async () => {
      const who = `c-${randomUUID()}`;
      const own = `cc-${who}`;
      await endedRoom(store, own, "contact_center", "e-1", 1_000, 2_000, who);
      const c2 = conversation(own, "e-2", 3_000, [who]);
      await store.startConversation(c2);
      await store.appendMessage(own, msg("e-2", "n1", "agent-1", "internal note", 3_001, { kind: "note" }));
      const elsewhere = `cc-${randomUUID()}`;
      await store.createRoom(room(elsewhere, { customers: ["c-other"] }));
      await store.startConversation(conversation(elsewhere, "x-1", 4_000, ["c-other"]));
      await store.appendMessage(elsewhere, msg("x-1", "x1", who, "from elsewhere", 4_001));

      const out = await store.exportCustomer(who);
      assert.equal(out.customerId, who);
      assert.deepEqual(out.rooms.map((r) => r.room.roomId), [own]);
      assert.deepEqual(out.rooms[0].conversations.map((c) => [c.id, c.state, c.messages.map((m) => [m.seq, m.kind, m.text])]), [
        ["e-1", "ended", [[1, "text", "hello there"], [2, "text", "hi, how can I help"]]],
        ["e-2", "active", [[3, "note", "internal note"]]],
      ]);
      assert.deepEqual(out.messagesElsewhere.map((m) => [m.roomId, m.seq, m.text]), [[elsewhere, 1, "from elsewhere"]]);
      assert.deepEqual(out.channelSessions.map((s) => s.id).sort(), [`chs-e-1-${who}`, `chs-e-2-${who}`]);
      assert.deepEqual(out.channelAddresses, [], "no address leads to them");
      assert.deepEqual(await store.exportCustomer("c-nobody"), { customerId: "c-nobody", rooms: [], messagesElsewhere: [], channelSessions: [], channelAddresses: [] });
    });

    it("searchMessages finds every word, notes included, newest first, with before, limit and team scope", async () => {
      const a = `cc-${randomUUID()}`;
      const b = `cc-${randomUUID()}`;
      await store.createRoom(room(a, { customers: ["c-a"], teamId: "billing" }));
      await store.createRoom(room(b, { customers: ["c-b"], members: ["agent-m"] }));
      await store.startConversation(conversation(a, "ca", 1_000, ["c-a"]));
      await store.startConversation(conversation(b, "cb", 1_000, ["c-b"]));
      await store.appendMessage(a, msg("ca", "1", "c-a", "My Invoice number is wrong", 1_001));
      await store.appendMessage(a, msg("ca", "2", "agent-1", "checking the invoice now", 1_002, { kind: "note" }));
      await store.appendMessage(b, msg("cb", "1", "c-b", "invoice wrong again!", 1_003));
      await store.appendMessage(b, msg("cb", "2", "c-b", "unrelated words \u0000 here", 1_004));

      const all = await store.searchMessages({ q: "INVOICE", limit: 10 });
      assert.deepEqual(all.map((h) => [h.roomId, h.seq, h.kind, h.at]), [[b, 1, "text", 1_003], [a, 2, "note", 1_002], [a, 1, "text", 1_001]]);
      assert.deepEqual(Object.keys(all[0]).sort(), ["at", "conversationId", "kind", "roomId", "roomKind", "senderId", "senderRole", "seq", "text"]);
      assert.deepEqual((await store.searchMessages({ q: "invoice wrong", limit: 10 })).map((h) => h.at), [1_003, 1_001]);
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 10, before: 1_003 })).map((h) => h.at), [1_002, 1_001]);
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 1 })).map((h) => h.at), [1_003]);
      assert.deepEqual((await store.searchMessages({ q: "\" OR * NEAR( -", limit: 10 })), []);
      assert.deepEqual((await store.searchMessages({ q: "unrelated", limit: 10 })).map((h) => h.seq), [2]);
      // billing agents see room a; the default team's agents see b; a member sees b
      const scope = (teams: string[], memberId = "agent-z") => ({ teams, defaultTeam: "support", memberId });
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 10, scope: scope(["billing"]) })).map((h) => h.roomId), [a, a]);
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 10, scope: scope(["support"]) })).map((h) => h.roomId), [b]);
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 10, scope: scope([], "agent-m") })).map((h) => h.roomId), [b]);
      assert.deepEqual((await store.searchMessages({ q: "invoice", limit: 10, scope: scope([]) })), []);
    });

    it("searchMessages pages with a cursor through hits that share their millisecond, none skipped or repeated", async () => {
      const rooms = [`cc-${randomUUID()}`, `cc-${randomUUID()}`];
      for (const id of rooms) {
        await store.createRoom(room(id, { customers: ["c-t"] }));
        await store.startConversation(conversation(id, "t", 1_000, ["c-t"]));
        for (let i = 0; i < 3; i++) { await store.appendMessage(id, msg("t", `t${i}`, "c-t", "same millisecond tie", 5_000)); }
      }
      await store.appendMessage(rooms[0], msg("t", "older", "c-t", "tie but older", 4_000));
      const seen: string[] = [];
      let after: { at: number; roomId: string; seq: number } | undefined;
      for (let page = 0; page < 10; page++) {
        const hits = await store.searchMessages({ q: "tie", limit: 2, after });
        seen.push(...hits.map((h) => `${h.at}.${h.roomId}.${h.seq}`));
        if (hits.length < 2) { break; }
        after = hits[hits.length - 1];
      }
      const sorted = [...rooms].sort();
      assert.deepEqual(seen, [
        ...sorted.flatMap((id) => [3, 2, 1].map((seq) => `5000.${id}.${seq}`)),
        `4000.${rooms[0]}.4`,
      ]);
    });

    it("audit entries are appended and read newest first, by subject and action, paged by id", async () => {
      const subject = `c-${randomUUID()}`;
      const e1 = await store.appendAudit({ at: 1, actor: "app-1", action: "export_customer", subject, detail: { rooms: 1 } });
      const e2 = await store.appendAudit({ at: 2, actor: "app-1", action: "erase_customer", subject, detail: { rooms: 1, messages: 3 } });
      await store.appendAudit({ at: 3, actor: "app-2", action: "erase_customer", subject: "c-other", detail: {} });
      const mine = await store.readAudit({ subject, limit: 10 });
      assert.deepEqual(mine, [e2, e1]);
      assert.deepEqual(mine[0], { id: e2.id, at: 2, actor: "app-1", action: "erase_customer", subject, detail: { rooms: 1, messages: 3 } });
      assert.deepEqual(await store.readAudit({ subject, limit: 10, before: Number(e2.id) }), [e1]);
      assert.deepEqual((await store.readAudit({ action: "erase_customer", limit: 10 })).map((e) => e.subject).slice(0, 2), ["c-other", subject]);
      assert.equal((await store.readAudit({ limit: 1 })).length, 1);
    });
  });
}

recordsContract("MemoryStore", () => new MemoryStore());

describe("SqliteStore records", () => {
  let dir: string;
  let n = 0;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), "cc-records-")); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  recordsContract("SqliteStore", () => new SqliteStore(path.join(dir, `records-${++n}.sqlite`)));
});

describe("PostgresStore records", function () {
  this.timeout(30_000);
  const url = process.env.PG_RECORDS_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/cc_store2_records";
  before(async () => {
    const admin = new pg.Pool({ connectionString: Object.assign(new URL(url), { pathname: "/postgres" }).toString(), max: 1 });
    const db = new URL(url).pathname.slice(1);
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
  });
  recordsContract("PostgresStore", async () => {
    const store = await PostgresStore.connect({ url, poolSize: 4 });
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    await pool.query("TRUNCATE cc_rooms, cc_conversations, cc_messages, cc_outbox, cc_audit");
    await pool.end();
    return store;
  });
});

describe("RedisStore records", () => {
  it("refuses retention, erasure, export, search and audit with kind unsupported", async () => {
    const client = new Redis(process.env.REDIS_STORE_TEST_URL ?? "redis://127.0.0.1:6379");
    const store = new RedisStore(client, `records-${randomUUID()}:`);
    try {
      const calls: (() => Promise<unknown>)[] = [
        () => store.purgeEnded("contact_center", 1, 1), () => store.customerRooms("c"), () => store.eraseCustomer("c"),
        () => store.exportCustomer("c"), () => store.searchMessages({ q: "x", limit: 1 }),
        () => store.appendAudit({ at: 1, actor: "a", action: "erase_customer", subject: "c", detail: {} }), () => store.readAudit({ limit: 1 }),
      ];
      for (const call of calls) {
        await assert.rejects(call(), (e: unknown) => e instanceof StoreError && e.kind === "unsupported" && /does not support/.test(e.message));
      }
    } finally { client.disconnect(); }
  });
});
