import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Redis from "ioredis";
import pg from "pg";
import { MemoryStore } from "../server/store/memory";
import { PostgresStore } from "../server/store/postgres";
import { migrate } from "../server/store/postgresDb";
import { RedisStore } from "../server/store/redis";
import { SqliteStore } from "../server/store/sqlite";
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from "../server/store/sqlMigrations";
import { StoreError } from "../server/store/errors";
import type {
  ConversationRecord, MessageRecord, NewMessage, RoomRecord, RoomStore,
} from "../server/store/types";
import { conversationEndedEvent, conversationRatedEvent, conversationStartedEvent, messageStoredEvent } from "../server/webhooks/events";

/** The store tests use their own key prefix on db 0, so they never touch other data. */
const REDIS_URL = process.env.REDIS_STORE_TEST_URL ?? "redis://127.0.0.1:6379";
const SQLITE_VERSIONS = SQLITE_MIGRATIONS.map((m) => m.version);
const POSTGRES_VERSIONS = POSTGRES_MIGRATIONS.map((m) => m.version);

// --- fixtures -----------------------------------------------------------------

function roomRecord(over: Partial<RoomRecord> = {}): RoomRecord {
  return {
    roomId: `room-${randomUUID()}`,
    kind: "contact_center",
    members: [],
    customers: ["cust-1"],
    createdAt: 1_000,
    lastActivityAt: 1_000,
    activeConversationId: null,
    lastSeq: 0,
    pastConversations: 0,
    ...over,
  };
}

function conversationRecord(roomId: string, id: string, startedAt: number, over: Partial<ConversationRecord> = {}): ConversationRecord {
  return {
    id,
    roomId,
    state: "active",
    startedAt,
    endedAt: 0,
    endReason: "",
    endedBy: "",
    firstSeq: 0,
    lastSeq: 0,
    messageCount: 0,
    participants: [
      { userId: "cust-1", role: "customer", name: "Ann Ürk \"quoted\" / slash", joinedAt: startedAt, leftAt: 0, readSeq: 0 },
    ],
    channelSessions: [
      { id: `chs-${id}`, customerId: "cust-1", type: "web", address: "https://example.test/chat", startedAt, endedAt: 0, state: "active" },
    ],
    ...over,
  };
}

function newMessage(conversationId: string, id: string, over: Partial<NewMessage> = {}): NewMessage {
  return {
    id,
    conversationId,
    senderId: "cust-1",
    senderRole: "customer",
    senderName: "Ann",
    kind: "text",
    text: `text of ${id} ✓ "q" \\ \u0000`,
    at: 2_000,
    ...over,
  };
}

function ended(conversation: ConversationRecord, endedAt: number, over: Partial<ConversationRecord> = {}): ConversationRecord {
  return {
    ...conversation,
    state: "ended",
    endedAt,
    endReason: "ended_by_agent",
    endedBy: "agent-1",
    participants: conversation.participants.map((p) => ({ ...p, leftAt: endedAt })),
    channelSessions: conversation.channelSessions.map((s) => ({ ...s, state: "ended" as const, endedAt })),
    ...over,
  };
}

/** A room with something of every kind under it (past and active conversation, messages, deadline, outbox and its lease), for deleteRoom. */
async function roomWithEverything(store: RoomStore, outboxOwner: string): Promise<string> {
  const { roomId } = await store.createRoom(roomRecord());
  const conversation = conversationRecord(roomId, "conv-1", 1_500);
  await store.startConversation(conversation);
  await store.appendMessage(roomId, newMessage("conv-1", "m1"));
  await store.endConversation(ended(conversation, 3_000));
  await store.startConversation(conversationRecord(roomId, "conv-2", 4_000));
  await store.appendMessage(roomId, newMessage("conv-2", "m2"));
  await store.setIdleDeadline(roomId, 10);
  await store.appendOutbox(roomId, ["{}"]);
  await store.leaseOutbox(roomId, outboxOwner, 60_000);
  return roomId;
}

const seqs = (messages: MessageRecord[]) => messages.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// --- the contract ---------------------------------------------------------------

function storeContract(name: string, makeStore: () => RoomStore | Promise<RoomStore>) {
  describe(`RoomStore contract: ${name}`, function () {
    let store: RoomStore;

    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await store.close(); });

    /** A fresh room with one active conversation. */
    async function roomWithConversation(convId = "conv-1", startedAt = 1_500) {
      const record = await store.createRoom(roomRecord());
      const conversation = conversationRecord(record.roomId, convId, startedAt);
      await store.startConversation(conversation);
      return { roomId: record.roomId, conversation };
    }

    describe("health", () => {
      it("answers a ping while open (GET /health and /ready ask it, server/http/probes.ts)", async () => {
        assert.equal(await store.ping(), undefined);
      });
    });

    describe("rooms", () => {
      it("returns null for an unknown room", async () => {
        assert.equal(await store.getRoom(`room-${randomUUID()}`), null);
      });

      it("creates a room only when absent and returns the stored record", async () => {
        const first = roomRecord({ kind: "team", teamId: "team-7", subject: "Billing", members: ["a", "b"], customers: [] });
        assert.deepEqual(await store.createRoom(first), first);
        assert.deepEqual(await store.getRoom(first.roomId), first);

        const second = { ...first, kind: "private" as const, subject: "Other", members: ["z"], createdAt: 9_999 };
        assert.deepEqual(await store.createRoom(second), first, "a second create returns the first record");
        assert.deepEqual(await store.getRoom(first.roomId), first, "a second create changes nothing");
      });

      it("keeps optional fields absent", async () => {
        const record = roomRecord();
        const stored = await store.getRoom((await store.createRoom(record)).roomId);
        assert.deepEqual(stored, record);
        assert.equal("teamId" in stored!, false);
        assert.equal("subject" in stored!, false);
        assert.equal(stored!.activeConversationId, null);
      });

      it("hands out copies the caller cannot mutate", async () => {
        const record = roomRecord({ members: ["a"] });
        const created = await store.createRoom(record);
        created.members.push("mutated");
        record.members.push("mutated too");
        (await store.getRoom(record.roomId))!.members.push("again");
        assert.deepEqual((await store.getRoom(record.roomId))!.members, ["a"]);
      });

      it("adds members without duplicates", async () => {
        const { roomId } = await store.createRoom(roomRecord({ members: ["a"] }));
        await store.addMembers(roomId, ["b", "a", "c", "b"]);
        await store.addMembers(roomId, ["c", "d"]);
        await store.addMembers(roomId, []);
        assert.deepEqual((await store.getRoom(roomId))!.members, ["a", "b", "c", "d"]);
      });

      it("adds members to a room that has none yet", async () => {
        const { roomId } = await store.createRoom(roomRecord({ kind: "private" }));
        await store.addMembers(roomId, []);
        assert.deepEqual((await store.getRoom(roomId))!.members, []);
        await store.addMembers(roomId, ["x/y", "ü"]);
        assert.deepEqual((await store.getRoom(roomId))!.members, ["x/y", "ü"]);
      });

      it("rejects adding members to an unknown room", async () => {
        await assert.rejects(store.addMembers(`room-${randomUUID()}`, ["a"]), { code: "not_found" });
      });

      it("deletes a room with everything under it, and leaves other rooms alone", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.appendMessage(roomId, newMessage("conv-1", "m1"));
        await store.endConversation(ended(conversation, 3_000));
        await store.startConversation(conversationRecord(roomId, "conv-2", 4_000));
        await store.appendMessage(roomId, newMessage("conv-2", "m2"));
        await store.setIdleDeadline(roomId, 100);
        await store.appendOutbox(roomId, ["{\"e\":1}"]);
        const other = await roomWithConversation("conv-1");
        await store.appendMessage(other.roomId, newMessage("conv-1", "m1"));
        await store.setIdleDeadline(other.roomId, 100);
        await store.appendOutbox(other.roomId, ["{\"e\":2}"]);

        await store.deleteRoom(roomId);
        assert.equal(await store.getRoom(roomId), null);
        assert.equal(await store.getConversation(roomId, "conv-1"), null);
        assert.equal(await store.getConversation(roomId, "conv-2"), null);
        assert.deepEqual(await store.listConversations(roomId, { limit: 10 }), []);
        assert.deepEqual(await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true }), []);
        assert.deepEqual(await store.readMessages(roomId, "conv-2", { limit: 10, includeNotes: true }), []);
        assert.deepEqual(await store.readOutbox(roomId, 10), []);
        assert.deepEqual(await store.pendingOutboxes(10), [other.roomId]);
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 10), [other.roomId]);
        await assert.rejects(store.addMembers(roomId, ["a"]), /does not exist/);

        // the idempotency keys went too: a room created again under the id starts afresh
        await store.createRoom(roomRecord({ roomId }));
        await store.startConversation(conversationRecord(roomId, "conv-9", 9_000));
        const again = await store.appendMessage(roomId, newMessage("conv-9", "m1"));
        assert.deepEqual([again.duplicate, again.message.seq], [false, 1]);

        assert.equal((await store.getRoom(other.roomId))!.lastSeq, 1, "the other room is untouched");
        assert.deepEqual(seqs(await store.readMessages(other.roomId, "conv-1", { limit: 10, includeNotes: true })), [1]);
        await store.deleteRoom(`room-${randomUUID()}`);
        await store.deleteRoom(roomId);
        await store.deleteRoom(roomId);
      });
    });

    describe("conversations", () => {
      it("starts a conversation and marks it active on the room", async () => {
        const { roomId } = await store.createRoom(roomRecord({ lastActivityAt: 1_000 }));
        const conversation = conversationRecord(roomId, "conv-1", 1_700);
        await store.startConversation(conversation);

        const room = (await store.getRoom(roomId))!;
        assert.equal(room.activeConversationId, "conv-1");
        assert.equal(room.lastActivityAt, 1_700);
        assert.deepEqual(await store.getConversation(roomId, "conv-1"), conversation);
      });

      it("does not move lastActivityAt backwards on start", async () => {
        const { roomId } = await store.createRoom(roomRecord({ lastActivityAt: 5_000 }));
        await store.startConversation(conversationRecord(roomId, "conv-1", 1_700));
        assert.equal((await store.getRoom(roomId))!.lastActivityAt, 5_000);
      });

      it("rejects a second active conversation", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        await assert.rejects(store.startConversation(conversationRecord(roomId, "conv-2", 1_800)), { code: "conflict" });
        assert.equal((await store.getRoom(roomId))!.activeConversationId, "conv-1");
        assert.equal(await store.getConversation(roomId, "conv-2"), null);
      });

      it("rejects starting in an unknown room", async () => {
        await assert.rejects(store.startConversation(conversationRecord(`room-${randomUUID()}`, "conv-1", 1)), { code: "not_found" });
      });

      it("keeps its message counters when the active conversation is started again", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.appendMessage(roomId, newMessage("conv-1", "m1"));
        await store.startConversation({ ...conversation, endReason: "x" });
        const stored = (await store.getConversation(roomId, "conv-1"))!;
        assert.deepEqual([stored.firstSeq, stored.lastSeq, stored.messageCount], [1, 1, 1]);
        assert.equal(stored.endReason, "x");
      });

      it("rejects starting a conversation that has ended", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.endConversation(ended(conversation, 3_000));
        await assert.rejects(store.startConversation(conversation), { code: "conflict" });
        assert.equal((await store.getRoom(roomId))!.activeConversationId, null);
        assert.equal((await store.getRoom(roomId))!.pastConversations, 1);
      });

      it("saves participants and channel sessions only", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        const changed: ConversationRecord = {
          ...conversation,
          endReason: "not saved",
          startedAt: 42,
          participants: [
            ...conversation.participants,
            { userId: "agent-1", role: "agent", name: "Bo", joinedAt: 1_600, leftAt: 0, readSeq: 3 },
          ],
          channelSessions: [],
        };
        await store.saveConversation(changed);
        assert.deepEqual(await store.getConversation(roomId, "conv-1"), {
          ...conversation, participants: changed.participants, channelSessions: [],
        });
      });

      it("rejects saving an unknown conversation", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        await assert.rejects(store.saveConversation(conversationRecord(roomId, "conv-nope", 1)), { code: "not_found" });
        assert.equal(await store.getConversation(roomId, "conv-nope"), null);
      });

      it("ends a conversation: history, cleared active id, the store's own counters", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.appendMessage(roomId, newMessage("conv-1", "m1"));
        await store.appendMessage(roomId, newMessage("conv-1", "m2"));

        // the actor's counters are stale or wrong; the store keeps its own
        const end = ended(conversation, 3_000, { firstSeq: 99, lastSeq: 99, messageCount: 99 });
        await store.endConversation(end);

        const room = (await store.getRoom(roomId))!;
        assert.equal(room.activeConversationId, null);
        assert.equal(room.pastConversations, 1);
        assert.equal(room.lastSeq, 2);
        assert.deepEqual(await store.getConversation(roomId, "conv-1"), {
          ...end, firstSeq: 1, lastSeq: 2, messageCount: 2,
        });

        // ending again changes nothing
        await store.endConversation({ ...end, endReason: "again", endedAt: 4_000 });
        assert.equal((await store.getRoom(roomId))!.pastConversations, 1);
        assert.equal((await store.getConversation(roomId, "conv-1"))!.endReason, "ended_by_agent");
        assert.equal((await store.listConversations(roomId, { limit: 10 })).length, 1);

        // a new conversation can start, and counts separately
        await store.startConversation(conversationRecord(roomId, "conv-2", 5_000));
        await store.endConversation(ended(conversationRecord(roomId, "conv-2", 5_000), 6_000));
        const after = (await store.getRoom(roomId))!;
        assert.equal(after.pastConversations, 2);
        assert.equal(after.activeConversationId, null);
        const second = (await store.getConversation(roomId, "conv-2"))!;
        assert.deepEqual([second.firstSeq, second.lastSeq, second.messageCount], [0, 0, 0]);
      });

      it("rejects ending an unknown conversation", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        await assert.rejects(store.endConversation(ended(conversationRecord(roomId, "conv-x", 1), 2)), { code: "not_found" });
        assert.equal((await store.getRoom(roomId))!.activeConversationId, "conv-1");
        assert.equal((await store.getRoom(roomId))!.pastConversations, 0);
      });

      it("rates an ended conversation: kept with it in reads, lists and exports; a new answer replaces it", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        const csat = { rating: 4, comment: "quick ✓ \"thanks\"", by: "cust-1", at: 3_500 };
        await assert.rejects(store.rateConversation(roomId, "conv-1", csat), { code: "conflict" }, "not while it is active");
        assert.equal((await store.getConversation(roomId, "conv-1"))!.csat, undefined);
        await store.endConversation(ended(conversation, 3_000));
        await store.rateConversation(roomId, "conv-1", csat);
        assert.deepEqual((await store.getConversation(roomId, "conv-1"))!.csat, csat);
        assert.deepEqual((await store.listConversations(roomId, { limit: 5 }))[0].csat, csat);
        const again = { ...csat, rating: 5, comment: "", at: 3_600 };
        await store.rateConversation(roomId, "conv-1", again);
        assert.deepEqual((await store.getConversation(roomId, "conv-1"))!, { ...ended(conversation, 3_000), csat: again });
        // a rating does not change the end (ending again is still a no-op)
        await store.endConversation(ended(conversation, 9_000, { endReason: "again" }));
        assert.deepEqual((await store.getConversation(roomId, "conv-1"))!.csat, again);
        await assert.rejects(store.rateConversation(roomId, "conv-nope", csat), { code: "not_found" });
      });

      it("returns null for an unknown conversation or room", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        assert.equal(await store.getConversation(roomId, "conv-unknown"), null);
        assert.equal(await store.getConversation(`room-${randomUUID()}`, "conv-1"), null);
      });

      it("lists past conversations newest first, paged by startedAt", async () => {
        const { roomId } = await store.createRoom(roomRecord());
        for (let i = 1; i <= 5; i++) {
          const conversation = conversationRecord(roomId, `conv-${i}`, i * 1_000);
          await store.startConversation(conversation);
          await store.endConversation(ended(conversation, i * 1_000 + 500));
        }
        await store.startConversation(conversationRecord(roomId, "conv-active", 10_000));

        const ids = (list: ConversationRecord[]) => list.map((c) => c.id);
        assert.deepEqual(ids(await store.listConversations(roomId, { limit: 10 })),
          ["conv-5", "conv-4", "conv-3", "conv-2", "conv-1"], "the active conversation is not history");
        const firstPage = await store.listConversations(roomId, { limit: 2 });
        assert.deepEqual(ids(firstPage), ["conv-5", "conv-4"]);
        assert.deepEqual(firstPage[0], ended(conversationRecord(roomId, "conv-5", 5_000), 5_500));
        const secondPage = await store.listConversations(roomId, { limit: 2, before: firstPage[1].startedAt });
        assert.deepEqual(ids(secondPage), ["conv-3", "conv-2"]);
        assert.deepEqual(ids(await store.listConversations(roomId, { limit: 2, before: 2_000 })), ["conv-1"]);
        assert.deepEqual(ids(await store.listConversations(roomId, { limit: 2, before: 2_001 })), ["conv-2", "conv-1"]);
        assert.deepEqual(await store.listConversations(roomId, { limit: 2, before: 1_000 }), []);
        assert.deepEqual(await store.listConversations(roomId, { limit: 0 }), []);
        assert.deepEqual(await store.listConversations(`room-${randomUUID()}`, { limit: 5 }), []);
      });
    });

    describe("messages", () => {
      it("stores a message with its seq and updates the counters", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        const input = newMessage("conv-1", "m1", { at: 7_000 });
        const result = await store.appendMessage(roomId, input);
        assert.deepEqual(result, { message: { ...input, seq: 1 }, duplicate: false });
        assert.deepEqual(await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true }), [{ ...input, seq: 1 }]);

        const room = (await store.getRoom(roomId))!;
        assert.equal(room.lastSeq, 1);
        assert.equal(room.lastActivityAt, 7_000);
        const conversation = (await store.getConversation(roomId, "conv-1"))!;
        assert.deepEqual([conversation.firstSeq, conversation.lastSeq, conversation.messageCount], [1, 1, 1]);

        // an older timestamp does not move lastActivityAt backwards
        await store.appendMessage(roomId, newMessage("conv-1", "m2", { at: 6_000 }));
        assert.equal((await store.getRoom(roomId))!.lastActivityAt, 7_000);
      });

      it("numbers messages strictly increasing without gaps across conversations", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        const got: number[] = [];
        for (const id of ["a", "b", "c"]) { got.push((await store.appendMessage(roomId, newMessage("conv-1", id))).message.seq); }
        await store.endConversation(ended(conversation, 3_000));
        await store.startConversation(conversationRecord(roomId, "conv-2", 4_000));
        for (const id of ["d", "e"]) { got.push((await store.appendMessage(roomId, newMessage("conv-2", id))).message.seq); }

        assert.deepEqual(got, [1, 2, 3, 4, 5]);
        assert.equal((await store.getRoom(roomId))!.lastSeq, 5);
        const first = (await store.getConversation(roomId, "conv-1"))!;
        const second = (await store.getConversation(roomId, "conv-2"))!;
        assert.deepEqual([first.firstSeq, first.lastSeq, first.messageCount], [1, 3, 3]);
        assert.deepEqual([second.firstSeq, second.lastSeq, second.messageCount], [4, 5, 2]);
        assert.deepEqual(seqs(await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true })), [1, 2, 3]);
        assert.deepEqual(seqs(await store.readMessages(roomId, "conv-2", { limit: 10, includeNotes: true })), [4, 5]);
      });

      it("stores a retried message once", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        const input = newMessage("conv-1", "m1", { text: "original" });
        const first = await store.appendMessage(roomId, input);
        const retry = await store.appendMessage(roomId, { ...input, text: "retried", at: 9_000 });

        assert.equal(first.duplicate, false);
        assert.deepEqual(retry, { message: { ...input, seq: 1 }, duplicate: true }, "the retry returns the stored message");
        assert.equal((await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true })).length, 1);
        assert.equal((await store.getRoom(roomId))!.lastSeq, 1);
        assert.equal((await store.getRoom(roomId))!.lastActivityAt, 2_000);
        assert.equal((await store.getConversation(roomId, "conv-1"))!.messageCount, 1);

        // the key is (senderId, id): the same id from another sender is a new message
        const other = await store.appendMessage(roomId, newMessage("conv-1", "m1", { senderId: "agent-1", senderRole: "agent" }));
        assert.deepEqual([other.duplicate, other.message.seq], [false, 2]);
      });

      it("returns the stored message for a retry after its conversation ended", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        const input = newMessage("conv-1", "m1");
        await store.appendMessage(roomId, input);
        await store.endConversation(ended(conversation, 3_000));
        await store.startConversation(conversationRecord(roomId, "conv-2", 4_000));

        const retry = await store.appendMessage(roomId, { ...input, conversationId: "conv-2" });
        assert.deepEqual(retry, { message: { ...input, seq: 1 }, duplicate: true });
        assert.deepEqual(await store.readMessages(roomId, "conv-2", { limit: 10, includeNotes: true }), []);
        assert.equal((await store.getRoom(roomId))!.lastSeq, 1);
      });

      it("stores concurrent retries of one message once", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        const results = await Promise.all(range(1, 10).map(() => store.appendMessage(roomId, newMessage("conv-1", "same"))));
        assert.equal(results.filter((r) => !r.duplicate).length, 1);
        assert.deepEqual(new Set(results.map((r) => r.message.seq)), new Set([1]));
        assert.equal((await store.readMessages(roomId, "conv-1", { limit: 50, includeNotes: true })).length, 1);
      });

      it("rejects a message for a conversation that is not active", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.appendMessage(roomId, newMessage("conv-1", "m1"));
        await assert.rejects(store.appendMessage(roomId, newMessage("conv-unknown", "m2")), { code: "conflict" });
        await store.endConversation(ended(conversation, 3_000));
        await assert.rejects(store.appendMessage(roomId, newMessage("conv-1", "m3")), { code: "conflict" });

        assert.equal((await store.getRoom(roomId))!.lastSeq, 1);
        assert.equal((await store.getConversation(roomId, "conv-1"))!.messageCount, 1);
        assert.deepEqual(seqs(await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true })), [1]);
        assert.deepEqual(await store.readMessages(roomId, "conv-unknown", { limit: 10, includeNotes: true }), []);
      });

      it("rejects a message for an unknown room", async () => {
        await assert.rejects(store.appendMessage(`room-${randomUUID()}`, newMessage("conv-1", "m1")), { code: "not_found" });
      });

      it("gives 50 concurrent appends the seqs 1..50 exactly", async () => {
        const { roomId } = await roomWithConversation("conv-1");
        const results = await Promise.all(range(1, 50).map((i) =>
          store.appendMessage(roomId, newMessage("conv-1", `m${i}`, { senderId: `user-${i % 7}`, at: 2_000 + i }))));

        assert.ok(results.every((r) => !r.duplicate));
        assert.deepEqual(results.map((r) => r.message.seq).sort((a, b) => a - b), range(1, 50));
        const stored = await store.readMessages(roomId, "conv-1", { limit: 100, includeNotes: true });
        assert.deepEqual(seqs(stored), range(1, 50));
        for (const message of stored) {
          const result = results.find((r) => r.message.id === message.id)!;
          assert.deepEqual(message, result.message);
        }
        const conversation = (await store.getConversation(roomId, "conv-1"))!;
        assert.deepEqual([conversation.firstSeq, conversation.lastSeq, conversation.messageCount], [1, 50, 50]);
        assert.equal((await store.getRoom(roomId))!.lastSeq, 50);
        assert.equal((await store.getRoom(roomId))!.lastActivityAt, 2_050);
      });

      describe("reading", () => {
        // seq 1..10; notes at 3, 4 and 7
        const NOTES = new Set([3, 4, 7]);
        let roomId: string;

        beforeEach(async () => {
          ({ roomId } = await roomWithConversation("conv-1"));
          for (const seq of range(1, 10)) {
            const kind = NOTES.has(seq) ? "note" : "text";
            const senderRole = kind === "note" ? "agent" : "customer";
            await store.appendMessage(roomId, newMessage("conv-1", `m${seq}`, { kind, senderRole, at: 2_000 + seq }));
          }
        });

        const read = async (query: { before?: number; after?: number; limit: number; includeNotes: boolean }) =>
          seqs(await store.readMessages(roomId, "conv-1", query));

        it("returns the newest messages oldest first", async () => {
          assert.deepEqual(await read({ limit: 3, includeNotes: true }), [8, 9, 10]);
          assert.deepEqual(await read({ limit: 100, includeNotes: true }), range(1, 10));
          const all = await store.readMessages(roomId, "conv-1", { limit: 1, includeNotes: true });
          assert.deepEqual(all, [{ ...newMessage("conv-1", "m10", { at: 2_010 }), seq: 10 }]);
        });

        it("pages backwards with before", async () => {
          assert.deepEqual(await read({ before: 8, limit: 3, includeNotes: true }), [5, 6, 7]);
          assert.deepEqual(await read({ before: 3, limit: 3, includeNotes: true }), [1, 2]);
          assert.deepEqual(await read({ before: 1, limit: 3, includeNotes: true }), []);
          assert.deepEqual(await read({ before: 100, limit: 2, includeNotes: true }), [9, 10]);
        });

        it("pages forwards with after", async () => {
          assert.deepEqual(await read({ after: 2, limit: 3, includeNotes: true }), [3, 4, 5]);
          assert.deepEqual(await read({ after: 0, limit: 2, includeNotes: true }), [1, 2]);
          assert.deepEqual(await read({ after: 8, limit: 5, includeNotes: true }), [9, 10]);
          assert.deepEqual(await read({ after: 10, limit: 5, includeNotes: true }), []);
        });

        it("ignores after when before is set", async () => {
          assert.deepEqual(await read({ before: 6, after: 1, limit: 2, includeNotes: true }), [4, 5]);
        });

        it("hides notes and still fills the page", async () => {
          // visible: 1 2 5 6 8 9 10
          assert.deepEqual(await read({ limit: 100, includeNotes: false }), [1, 2, 5, 6, 8, 9, 10]);
          assert.deepEqual(await read({ limit: 4, includeNotes: false }), [6, 8, 9, 10]);
          assert.deepEqual(await read({ before: 8, limit: 3, includeNotes: false }), [2, 5, 6]);
          assert.deepEqual(await read({ after: 2, limit: 3, includeNotes: false }), [5, 6, 8]);
          assert.deepEqual(await read({ after: 6, limit: 1, includeNotes: false }), [8]);
          assert.deepEqual(await read({ before: 5, limit: 5, includeNotes: false }), [1, 2]);
        });

        it("returns an empty page for an unknown conversation, room or a zero limit", async () => {
          assert.deepEqual(await store.readMessages(roomId, "conv-unknown", { limit: 5, includeNotes: true }), []);
          assert.deepEqual(await store.readMessages(`room-${randomUUID()}`, "conv-1", { limit: 5, includeNotes: true }), []);
          assert.deepEqual(await read({ limit: 0, includeNotes: true }), []);
        });
      });

      it("fills a page across long runs of notes", async () => {
        // texts at 1..5, notes at 6..75, text at 76: more notes than one read batch
        const { roomId } = await roomWithConversation("conv-1");
        for (const seq of range(1, 76)) {
          const kind = seq > 5 && seq < 76 ? "note" : "text";
          await store.appendMessage(roomId, newMessage("conv-1", `m${seq}`, { kind }));
        }
        const read = (query: { before?: number; after?: number; limit: number }) =>
          store.readMessages(roomId, "conv-1", { ...query, includeNotes: false }).then(seqs);
        assert.deepEqual(await read({ limit: 3 }), [4, 5, 76]);
        assert.deepEqual(await read({ after: 2, limit: 4 }), [3, 4, 5, 76]);
        assert.deepEqual(await read({ after: 5, limit: 4 }), [76]);
        assert.deepEqual(await read({ before: 76, limit: 2 }), [4, 5]);
        assert.deepEqual(await read({ before: 70, limit: 10 }), [1, 2, 3, 4, 5]);
        assert.deepEqual(await read({ limit: 100 }), [1, 2, 3, 4, 5, 76]);
        assert.equal((await store.readMessages(roomId, "conv-1", { limit: 100, includeNotes: true })).length, 76);
      });
    });

    describe("idle deadlines", () => {
      it("sets, updates, clears and reports due deadlines earliest first", async () => {
        await store.setIdleDeadline("room-a", 100);
        await store.setIdleDeadline("room-b", 50);
        await store.setIdleDeadline("room-c", 300);

        assert.deepEqual(await store.dueIdleDeadlines(10, 10), []);
        assert.deepEqual(await store.dueIdleDeadlines(50, 10), ["room-b"], "a deadline equal to now is due");
        assert.deepEqual(await store.dueIdleDeadlines(100, 10), ["room-b", "room-a"]);
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 2), ["room-b", "room-a"]);
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 0), []);

        await store.setIdleDeadline("room-a", 400);
        assert.deepEqual(await store.dueIdleDeadlines(100, 10), ["room-b"], "a new deadline replaces the old one");
        await store.clearIdleDeadline("room-b");
        await store.clearIdleDeadline("room-unknown");
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 10), ["room-c", "room-a"]);
      });

      it("clears the deadline when the conversation ends", async () => {
        const { roomId, conversation } = await roomWithConversation("conv-1");
        await store.setIdleDeadline(roomId, 100);
        await store.setIdleDeadline("room-other", 100);
        await store.endConversation(ended(conversation, 3_000));
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 10), ["room-other"]);

        // ending an already ended conversation leaves a newer deadline alone
        await store.startConversation(conversationRecord(roomId, "conv-2", 4_000));
        await store.setIdleDeadline(roomId, 200);
        await store.endConversation(ended(conversation, 5_000));
        assert.deepEqual(await store.dueIdleDeadlines(1_000, 10), ["room-other", roomId]);
      });
    });

    describe("webhook outbox", () => {
      const payload = (n: number) => JSON.stringify({ id: `e${n}`, text: `Ünïcode "quoted" \\ ${n} ✓` });

      it("appends in order and reads oldest first, byte for byte, per room", async () => {
        const room = `cc-${randomUUID()}`;
        const other = `cc-${randomUUID()}`;
        await store.appendOutbox(room, [payload(1), payload(2)]);
        await store.appendOutbox(other, [payload(9)]);
        await store.appendOutbox(room, [payload(3)]);
        await store.appendOutbox(room, []);
        const entries = await store.readOutbox(room, 10);
        assert.deepEqual(entries.map((e) => e.payload), [payload(1), payload(2), payload(3)]);
        assert.equal(new Set(entries.map((e) => e.id)).size, 3, "distinct entry ids");
        assert.deepEqual((await store.readOutbox(room, 2)).map((e) => e.payload), [payload(1), payload(2)]);
        assert.deepEqual(await store.readOutbox(room, 0), []);
        assert.deepEqual((await store.readOutbox(other, 10)).map((e) => e.payload), [payload(9)]);
        assert.deepEqual(await store.readOutbox(`cc-${randomUUID()}`, 10), []);
        assert.deepEqual((await store.pendingOutboxes(10)).sort(), [room, other].sort());
      });

      it("removes entries by id, keeps the order of the rest, and lists only rooms with entries", async () => {
        const room = `cc-${randomUUID()}`;
        await store.appendOutbox(room, [payload(1), payload(2), payload(3)]);
        const [first, second, third] = await store.readOutbox(room, 10);
        await store.removeOutbox(room, [second.id, "0-1", "unknown"]);
        assert.deepEqual(await store.readOutbox(room, 10), [first, third]);
        await store.removeOutbox(room, [first.id]);
        await store.appendOutbox(room, [payload(4)]);
        assert.deepEqual((await store.readOutbox(room, 10)).map((e) => e.payload), [payload(3), payload(4)]);
        assert.deepEqual(await store.pendingOutboxes(10), [room]);
        await store.removeOutbox(room, (await store.readOutbox(room, 10)).map((e) => e.id));
        assert.deepEqual(await store.readOutbox(room, 10), []);
        assert.deepEqual(await store.pendingOutboxes(10), [], "an emptied outbox is not listed");
        await store.removeOutbox(room, []);
        await store.removeOutbox(`cc-${randomUUID()}`, []);
        assert.deepEqual(await store.pendingOutboxes(10), []);

        await store.appendOutbox(room, [payload(5)]);
        assert.deepEqual((await store.readOutbox(room, 10)).map((e) => e.payload), [payload(5)], "appends after an emptying start over");
        assert.deepEqual(await store.pendingOutboxes(10), [room]);
      });

      it("lists at most limit rooms", async () => {
        const rooms = Array.from({ length: 5 }, () => `cc-${randomUUID()}`);
        for (const room of rooms) { await store.appendOutbox(room, [payload(1)]); }
        assert.equal((await store.pendingOutboxes(3)).length, 3);
        assert.deepEqual((await store.pendingOutboxes(10)).sort(), [...rooms].sort());
        assert.deepEqual(await store.pendingOutboxes(0), []);
      });

      it("never loses the listing of a room with entries while appends and removals interleave", async () => {
        const room = `cc-${randomUUID()}`;
        let n = 0;
        const appender = (async () => {
          for (let i = 0; i < 60; i++) { await store.appendOutbox(room, [payload(++n)]); }
        })();
        const remover = (async () => {
          for (let i = 0; i < 60; i++) {
            const entries = await store.readOutbox(room, 3);
            await store.removeOutbox(room, entries.map((e) => e.id));
          }
        })();
        await Promise.all([appender, remover]);
        const left = await store.readOutbox(room, 1_000);
        const payloads = left.map((e) => JSON.parse(e.payload).id as string);
        assert.deepEqual(payloads, [...payloads].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), "still in append order");
        assert.deepEqual(await store.pendingOutboxes(10), left.length > 0 ? [room] : []);
      });

      it("leases an outbox to one owner, renews it for that owner, frees it on release or expiry", async () => {
        const room = `cc-${randomUUID()}`;
        const owners = Array.from({ length: 8 }, (_, i) => `owner-${i}`);
        const won = await Promise.all(owners.map((o) => store.leaseOutbox(room, o, 200)));
        assert.equal(won.filter(Boolean).length, 1, "one owner wins");
        const holder = owners[won.indexOf(true)];
        const other = owners.find((o) => o !== holder)!;
        assert.equal(await store.leaseOutbox(room, other, 200), false);
        assert.equal(await store.leaseOutbox(`cc-${randomUUID()}`, other, 200), true, "leases are per room");

        await new Promise((r) => setTimeout(r, 120));
        assert.equal(await store.leaseOutbox(room, holder, 200), true, "the holder renews");
        await new Promise((r) => setTimeout(r, 120));
        assert.equal(await store.leaseOutbox(room, other, 200), false, "renewed: still held 240 ms after the first grant");

        await store.releaseOutbox(room, other);
        assert.equal(await store.leaseOutbox(room, other, 200), false, "only the holder releases");
        await store.releaseOutbox(room, holder);
        assert.equal(await store.leaseOutbox(room, other, 150), true, "released: free at once");

        await new Promise((r) => setTimeout(r, 200));
        assert.equal(await store.leaseOutbox(room, holder, 150), true, "expired: free again");
      });
    });

    describe("outbox events written with their records", () => {
      const events = async (roomId: string) => (await store.readOutbox(roomId, 100)).map((e) => JSON.parse(e.payload));

      it("a message and its message.stored event in one step, the seq filled in; a duplicate writes none", async () => {
        const { roomId } = await roomWithConversation();
        const message = newMessage("conv-1", "m1");
        const { message: stored } = await store.appendMessage(roomId, message, [messageStoredEvent(roomId, message)]);
        const [event] = await events(roomId);
        assert.equal(event.id, `${roomId}:${stored.seq}`);
        assert.equal(event.type, "message.stored");
        assert.deepEqual(event.data, stored, "the event's data is the stored message, byte for byte in its fields");
        assert.deepEqual(await store.pendingOutboxes(1000).then((rooms) => rooms.includes(roomId)), true);
        await store.appendMessage(roomId, message, [messageStoredEvent(roomId, message)]);
        assert.equal((await events(roomId)).length, 1, "a duplicate writes no event");
      });

      it("a refused message writes no event", async () => {
        const { roomId } = await roomWithConversation();
        const message = newMessage("conv-unknown", "m1");
        await assert.rejects(store.appendMessage(roomId, message, [messageStoredEvent(roomId, message)]), { code: "conflict" });
        assert.deepEqual(await events(roomId), []);
      });

      it("a conversation's start and end with their events, once each", async () => {
        const record = await store.createRoom(roomRecord());
        const conversation = conversationRecord(record.roomId, "conv-1", 1_500);
        await store.startConversation(conversation, [conversationStartedEvent(conversation)]);
        await store.startConversation(conversation, [conversationStartedEvent(conversation)]);
        const other = conversationRecord(record.roomId, "conv-2", 1_600);
        await assert.rejects(store.startConversation(other, [conversationStartedEvent(other)]), { code: "conflict" });
        const end = ended(conversation, 3_000);
        await store.endConversation(end, [conversationEndedEvent(end)]);
        await store.endConversation(end, [conversationEndedEvent(end)]);
        assert.deepEqual((await events(record.roomId)).map((e) => e.id), ["conv-1:started", "conv-1:ended"]);
      });

      it("a rating with its conversation.rated event; a refused one writes none", async () => {
        const { roomId, conversation } = await roomWithConversation();
        const csat = { rating: 2, comment: "slow", by: "cust-1", at: 4_000 };
        await assert.rejects(store.rateConversation(roomId, "conv-1", csat, [conversationRatedEvent(roomId, "conv-1", csat)]), { code: "conflict" });
        assert.deepEqual(await events(roomId), []);
        await store.endConversation(ended(conversation, 3_000));
        await store.rateConversation(roomId, "conv-1", csat, [conversationRatedEvent(roomId, "conv-1", csat)]);
        const [event] = await events(roomId);
        assert.deepEqual([event.id, event.type, event.data], ["conv-1:rated:4000", "conversation.rated", csat]);
      });
    });

    describe("message parts", () => {
      it("keeps a message's attachments and rich content, and leaves them absent when none", async () => {
        const { roomId } = await roomWithConversation();
        const attachments = [{ id: "att-1", name: "Ünïcode \"bill\".pdf", type: "application/pdf", size: 1234 }];
        const rich = { quickReplies: [{ id: "yes", title: "Yes ✓" }], cards: [{ title: "Order 17", buttons: [{ id: "track", title: "Track", url: "https://shop.example/17" }] }] };
        const first = await store.appendMessage(roomId, newMessage("conv-1", "m1", { attachments, rich }));
        const plain = await store.appendMessage(roomId, newMessage("conv-1", "m2"));
        assert.deepEqual([first.message.attachments, first.message.rich], [attachments, rich]);
        const [a, b] = await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true });
        assert.deepEqual([a!.attachments, a!.rich], [attachments, rich]);
        assert.ok(!("attachments" in b!) && !("rich" in b!), "absent, not empty");
        assert.deepEqual(plain.message, b);
        const retry = await store.appendMessage(roomId, newMessage("conv-1", "m1", { attachments, rich }));
        assert.deepEqual(retry, { message: a, duplicate: true });
      });
    });

    describe("channel addresses", () => {
      it("maps an unknown address to the given customer once, then always answers the stored one", async () => {
        const address = `+1555${randomUUID().slice(0, 8)} "ü" \\`;
        assert.equal(await store.resolveChannelAddress("whatsapp", address, "cust-a"), "cust-a");
        assert.equal(await store.resolveChannelAddress("whatsapp", address, "cust-b"), "cust-a", "a known address keeps its customer");
        assert.equal(await store.resolveChannelAddress("email", address, "cust-c"), "cust-c", "addresses are per channel type");
      });

      it("gives concurrent first messages from one address one customer", async () => {
        const address = `a-${randomUUID()}@example.test`;
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => store.resolveChannelAddress("email", address, `cust-${i}`)));
        assert.equal(new Set(answers).size, 1);
      });

      it("links an address to another customer, replacing the mapping", async () => {
        const address = `b-${randomUUID()}@example.test`;
        await store.linkChannelAddress("email", address, "cust-web");
        assert.equal(await store.resolveChannelAddress("email", address, "cust-new"), "cust-web", "a linked address is known");
        await store.linkChannelAddress("email", address, "cust-other");
        assert.equal(await store.resolveChannelAddress("email", address, "cust-new"), "cust-other");
      });

      it("forgets an erased customer's addresses (stores with erasure)", async () => {
        const address = `c-${randomUUID()}@example.test`;
        const customer = `cust-${randomUUID().slice(0, 8)}`;
        await store.linkChannelAddress("email", address, customer);
        try {
          await store.eraseCustomer(customer);
        } catch (e) {
          if (e instanceof StoreError && e.kind === "unsupported") { return; } // Redis: no erasure (docs/storage.md)
          throw e;
        }
        assert.equal(await store.resolveChannelAddress("email", address, "cust-after"), "cust-after");
      });

      it("lists a customer's addresses in their export, by type then address (stores with export)", async () => {
        const customer = `cust-${randomUUID().slice(0, 8)}`;
        const other = `cust-${randomUUID().slice(0, 8)}`;
        const tag = randomUUID().slice(0, 8);
        let exported;
        try {
          exported = await store.exportCustomer(customer);
        } catch (e) {
          if (e instanceof StoreError && e.kind === "unsupported") { return; } // Redis: no export (docs/storage.md)
          throw e;
        }
        assert.deepEqual(exported.channelAddresses, [], "none before any");
        await store.linkChannelAddress("whatsapp", `+1555${tag}`, customer);
        assert.equal(await store.resolveChannelAddress("email", `b-${tag}@example.test`, customer), customer, "a first message's address");
        await store.linkChannelAddress("email", `a-${tag}@example.test`, customer);
        await store.linkChannelAddress("email", `ü-${tag}@example.test`, customer);
        await store.linkChannelAddress("email", `moved-${tag}@example.test`, customer);
        await store.linkChannelAddress("email", `moved-${tag}@example.test`, other);
        await store.linkChannelAddress("email", `c-${tag}@example.test`, other);
        assert.deepEqual((await store.exportCustomer(customer)).channelAddresses, [
          { type: "email", address: `a-${tag}@example.test` },
          { type: "email", address: `b-${tag}@example.test` },
          { type: "email", address: `ü-${tag}@example.test` },
          { type: "whatsapp", address: `+1555${tag}` },
        ], "a relinked address follows its new customer");
        assert.deepEqual((await store.exportCustomer(other)).channelAddresses, [
          { type: "email", address: `c-${tag}@example.test` },
          { type: "email", address: `moved-${tag}@example.test` },
        ]);
      });
    });

    describe("fencing: one owner epoch writes a room", () => {
      const isFenced = (e: any) => e instanceof StoreError && e.kind === "fenced";
      const queued = {
        id: "req-1", kind: "new" as const, roomId: "cc-x", roomKind: "contact_center" as const, customerId: "x",
        conversationId: "conv-1", targetUserId: "", fromUserId: "", reason: "", forBot: false, createdAt: 5, escalated: false,
      };

      it("hands out a larger epoch at every activation, across rooms; an unknown room is not_found", async () => {
        const one = await roomWithConversation();
        const two = await roomWithConversation();
        const epochs = [await store.activateRoom(one.roomId), await store.activateRoom(two.roomId), await store.activateRoom(one.roomId)];
        assert.ok(epochs[0] > 0 && epochs[1] > epochs[0] && epochs[2] > epochs[1], `increasing: ${epochs}`);
        await assert.rejects(store.activateRoom(`room-${randomUUID()}`), (e: any) => e instanceof StoreError && e.kind === "not_found");
      });

      it("refuses every write of an older epoch with kind fenced, and stores nothing of it", async () => {
        const { roomId, conversation } = await roomWithConversation();
        const old = store.forOwner(roomId, await store.activateRoom(roomId));
        await old.appendMessage(newMessage("conv-1", "m1"));
        const current = store.forOwner(roomId, await store.activateRoom(roomId));
        const team = `team${randomUUID().slice(0, 8)}`;
        await current.saveQueue(team, [queued]);
        await current.saveAgents(team, [{ userId: "ag1", status: "away", reason: "" }]);
        await current.setIdleDeadline(50);

        await assert.rejects(old.appendMessage(newMessage("conv-1", "m2")), isFenced);
        await assert.rejects(old.appendMessage(newMessage("conv-1", "m1")), isFenced, "not even a retry of its own message");
        await assert.rejects(old.saveConversation({ ...conversation, participants: [] }), isFenced);
        await assert.rejects(old.endConversation(ended(conversation, 3_000)), isFenced);
        await assert.rejects(old.startConversation(conversationRecord(roomId, "conv-1", 1_500)), isFenced);
        await assert.rejects(old.setIdleDeadline(10), isFenced);
        await assert.rejects(old.clearIdleDeadline(), isFenced);
        await assert.rejects(old.addMembers(["intruder"]), isFenced);
        await assert.rejects(old.appendOutbox(["{\"old\":1}"]), isFenced);
        await assert.rejects(old.saveQueue(team, []), isFenced);
        await assert.rejects(old.saveAgents(team, [{ userId: "ag1", status: "not_ready", reason: "stale" }]), isFenced);
        await assert.rejects(old.saveAgents(team, []), isFenced);

        const room = (await store.getRoom(roomId))!;
        assert.deepEqual([room.lastSeq, room.members, room.activeConversationId], [1, [], "conv-1"]);
        const stored = (await store.getConversation(roomId, "conv-1"))!;
        assert.deepEqual([stored.state, stored.participants.length, stored.messageCount], ["active", 1, 1]);
        assert.deepEqual(await store.dueIdleDeadlines(60, 10), [roomId], "the owner's deadline stands");
        assert.deepEqual(await store.readOutbox(roomId, 10), []);
        assert.deepEqual((await store.loadQueue(team)).map((r) => r.id), ["req-1"]);
        assert.deepEqual(await store.loadAgents(team), [{ userId: "ag1", status: "away", reason: "" }], "the owner's statuses stand");
      });

      it("lets the newer owner write, and a retry of a stored message id stays idempotent for it", async () => {
        const { roomId, conversation } = await roomWithConversation();
        const first = store.forOwner(roomId, await store.activateRoom(roomId));
        const stored = await first.appendMessage(newMessage("conv-1", "m1"));
        const second = store.forOwner(roomId, await store.activateRoom(roomId));
        const retry = await second.appendMessage(newMessage("conv-1", "m1"));
        assert.deepEqual([retry.duplicate, retry.message.seq], [true, stored.message.seq]);
        assert.deepEqual([(await second.appendMessage(newMessage("conv-1", "m2"))).message.seq], [2]);
        await second.addMembers(["a1"]);
        await second.saveConversation({ ...conversation, participants: [] });
        await second.appendOutbox(["{\"e\":1}"]);
        await second.setIdleDeadline(10);
        assert.deepEqual(await store.dueIdleDeadlines(20, 10), [roomId]);
        await second.clearIdleDeadline();
        assert.deepEqual(await store.dueIdleDeadlines(20, 10), []);
        await second.endConversation(ended(conversation, 3_000));
        await second.startConversation(conversationRecord(roomId, "conv-2", 4_000));
        assert.deepEqual((await store.getRoom(roomId))!.members, ["a1"]);
        assert.equal((await store.readOutbox(roomId, 10)).length, 1);
      });

      it("refuses an older epoch's CSAT rating and its events; the owner's rating stands and a new owner may rate", async () => {
        const { roomId, conversation } = await roomWithConversation();
        const old = store.forOwner(roomId, await store.activateRoom(roomId));
        await old.endConversation(ended(conversation, 3_000));
        const current = store.forOwner(roomId, await store.activateRoom(roomId));
        const mine = { rating: 2, comment: "slow", by: "cust-1", at: 3_500 };
        await current.rateConversation("conv-1", mine);
        const stale = { rating: 5, comment: "stale", by: "cust-1", at: 3_600 };
        await assert.rejects(old.rateConversation("conv-1", stale, [conversationRatedEvent(roomId, "conv-1", stale)]), isFenced);
        assert.deepEqual((await store.getConversation(roomId, "conv-1"))!.csat, mine, "the stale rating stored nothing");
        assert.deepEqual(await store.readOutbox(roomId, 10), [], "nor its event");
        await assert.rejects(current.rateConversation("conv-nope", stale), { code: "not_found" }, "the owner's checks still apply");

        const next = store.forOwner(roomId, await store.activateRoom(roomId));
        await assert.rejects(current.rateConversation("conv-1", stale), isFenced, "the former owner is fenced in turn");
        const again = { ...mine, rating: 3, at: 3_700 };
        await next.rateConversation("conv-1", again, [conversationRatedEvent(roomId, "conv-1", again)]);
        assert.deepEqual((await store.getConversation(roomId, "conv-1"))!.csat, again);
        assert.equal((await store.readOutbox(roomId, 10)).length, 1);
      });

      it("orders a racing activation wholly before or after each append: the seqs stay gapless and no old write follows it", async () => {
        const { roomId } = await roomWithConversation();
        const old = store.forOwner(roomId, await store.activateRoom(roomId));
        const appends = Array.from({ length: 30 }, (_, i) => old.appendMessage(newMessage("conv-1", `o${i}`)).then((r) => r.message.seq, (e) => (isFenced(e) ? -1 : Promise.reject(e))));
        const taken = store.activateRoom(roomId);
        const seqs = await Promise.all(appends);
        const current = store.forOwner(roomId, await taken);
        const last = (await current.appendMessage(newMessage("conv-1", "new"))).message.seq;
        const accepted = seqs.filter((s) => s > 0);
        assert.deepEqual([...accepted, last], range(1, accepted.length + 1), "gapless, and the new owner's message after every old one");
        assert.ok(seqs.indexOf(-1) === -1 || seqs.slice(seqs.indexOf(-1)).every((s) => s === -1), "once refused, every later append of the old owner is refused");
      });
    });

    describe("leases and team queues", () => {
      it("grants a lease to one caller until it expires", async () => {
        const name = `lease-${randomUUID()}`;
        const results = await Promise.all(Array.from({ length: 10 }, () => store.claim(name, 150)));
        assert.equal(results.filter(Boolean).length, 1);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(await store.claim(name, 150), true);
      });

      it("saves and loads a team's queue whole, per team", async () => {
        const team = `team${randomUUID().slice(0, 8)}`;
        assert.deepEqual(await store.loadQueue(team), []);
        const request = {
          id: "req-1", kind: "new" as const, roomId: "cc-x", roomKind: "contact_center" as const, customerId: "x",
          conversationId: "conv-1", targetUserId: "", fromUserId: "", reason: "", forBot: false, createdAt: 5, escalated: false,
        };
        await store.saveQueue(team, [request, { ...request, id: "req-2", kind: "transfer", targetUserId: "a1" }]);
        assert.deepEqual((await store.loadQueue(team)).map((r) => [r.id, r.kind, r.targetUserId]), [["req-1", "new", ""], ["req-2", "transfer", "a1"]]);
        assert.deepEqual(await store.loadQueue(`${team}-other`), []);
        await store.saveQueue(team, []);
        assert.deepEqual(await store.loadQueue(team), []);
      });

      it("keeps a queued request's follow-up flag and the requeue kind", async () => {
        const team = `team${randomUUID().slice(0, 8)}`;
        const request = {
          id: "req-1", kind: "requeue" as const, roomId: "cc-x", roomKind: "contact_center" as const, customerId: "x",
          conversationId: "conv-1", targetUserId: "", fromUserId: "", reason: "", forBot: false, createdAt: 5, escalated: false, followUp: true,
        };
        await store.saveQueue(team, [request]);
        assert.deepEqual(await store.loadQueue(team), [request]);
        await store.saveQueue(team, []);
      });

      it("saves and loads a team's live conversations whole, per team (a new team actor rebuilds from them)", async () => {
        const team = `team${randomUUID().slice(0, 8)}`;
        assert.deepEqual(await store.loadLive(team), []);
        const live = [
          { roomId: "cc-a", conversationId: "conv-a", customerId: "a", startedAt: 10, agents: ["ag1", "ag2"] },
          { roomId: "cc-b", conversationId: "conv-b", customerId: "b", startedAt: 20, agents: [] },
        ];
        await store.saveLive(team, live);
        assert.deepEqual(await store.loadLive(team), live);
        assert.deepEqual(await store.loadLive(`${team}-other`), []);
        await store.saveLive(team, [live[1]]);
        assert.deepEqual(await store.loadLive(team), [live[1]]);
        await store.saveLive(team, []);
        assert.deepEqual(await store.loadLive(team), []);
      });

      it("saves and loads a team's agent statuses whole, per team (an agent who rejoins a new team actor keeps its status)", async () => {
        const team = `team${randomUUID().slice(0, 8)}`;
        assert.deepEqual(await store.loadAgents(team), []);
        const agents = [
          { userId: "ag1", status: "not_ready" as const, reason: "missed_offer" },
          { userId: "ag2", status: "away" as const, reason: "" },
          { userId: "ag\"3 ✓", status: "not_ready" as const, reason: "training \"q\"" },
        ];
        await store.saveAgents(team, agents);
        assert.deepEqual(await store.loadAgents(team), agents);
        assert.deepEqual(await store.loadAgents(`${team}-other`), []);
        await store.saveAgents(team, [agents[1]]);
        assert.deepEqual(await store.loadAgents(team), [agents[1]]);
        await store.saveAgents(team, []);
        assert.deepEqual(await store.loadAgents(team), []);
      });

      it("saves and loads a team's canned replies whole, per team", async () => {
        const team = `team${randomUUID().slice(0, 8)}`;
        assert.deepEqual(await store.loadCanned(team), []);
        const replies = [{ shortcut: "hello", text: "Hello {{customer.name}} ✓ \"q\"" }, { shortcut: "bye", text: "Bye" }];
        await store.saveCanned(team, replies);
        assert.deepEqual(await store.loadCanned(team), replies);
        assert.deepEqual(await store.loadCanned(`${team}-other`), []);
        await store.saveCanned(team, [replies[1]]);
        assert.deepEqual(await store.loadCanned(team), [replies[1]], "replaced as a whole");
        await store.saveCanned(team, []);
        assert.deepEqual(await store.loadCanned(team), []);
      });
    });
  });
}

// --- the implementations --------------------------------------------------------

storeContract("MemoryStore", () => new MemoryStore());

describe("RedisStore", function () {
  const runPrefix = `cc-test:${randomUUID()}:`;
  let client: Redis;
  let stores = 0;

  async function keysUnder(prefix: string) {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
    return keys;
  }

  before(async () => {
    client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });

  after(async () => {
    const keys = await keysUnder(runPrefix);
    for (let i = 0; i < keys.length; i += 500) { await client.del(...keys.slice(i, i + 500)); }
    await client.quit();
  });

  // every test gets its own prefix, so the global idle set starts empty
  storeContract("RedisStore", () => new RedisStore(client, `${runPrefix}${++stores}:`));

  describe("RedisStore specifics", () => {
    it("refuses a ping with `unavailable` when its Redis is unreachable", async () => {
      // nothing listens on port 1; no offline queue, as the node's own connection (server/wiring/app.ts)
      const dead = new Redis(1, "127.0.0.1", { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      dead.on("error", () => {});
      const store = new RedisStore(dead, `${runPrefix}dead:`);
      await assert.rejects(store.ping(), (e: unknown) => e instanceof StoreError && e.kind === "unavailable");
      dead.disconnect();
    });

    it("keeps every key under its prefix, tagged with the room id", async () => {
      const prefix = `${runPrefix}layout:`;
      const store = new RedisStore(client, prefix);
      const { roomId } = await store.createRoom(roomRecord());
      const conversation = conversationRecord(roomId, "conv-1", 1_500);
      await store.startConversation(conversation);
      await store.appendMessage(roomId, newMessage("conv-1", "m1"));
      await store.endConversation(ended(conversation, 3_000));
      await store.setIdleDeadline(roomId, 10);

      const keys = (await keysUnder(prefix)).sort();
      assert.deepEqual(keys, [
        `${prefix}conv:{${roomId}}:conv-1`,
        `${prefix}idem:{${roomId}}`,
        `${prefix}idle`,
        `${prefix}msgs:{${roomId}}:conv-1`,
        `${prefix}past:{${roomId}}`,
        `${prefix}room:{${roomId}}`,
      ]);
      assert.equal(await client.type(`${prefix}msgs:{${roomId}}:conv-1`), "stream");
      const entries = await client.xrange(`${prefix}msgs:{${roomId}}:conv-1`, "-", "+");
      assert.deepEqual(entries.map(([id]) => id), ["1-0"]);
    });

    it("leaves no key of a deleted room behind", async () => {
      const prefix = `${runPrefix}delete:`;
      const store = new RedisStore(client, prefix);
      const roomId = await roomWithEverything(store, "me");
      await store.deleteRoom(roomId);
      assert.deepEqual(await keysUnder(prefix), []);
    });

    it("shares state between store instances on the same prefix", async () => {
      const prefix = `${runPrefix}shared:`;
      const one = new RedisStore(client, prefix);
      const two = new RedisStore(client, prefix);
      const { roomId } = await one.createRoom(roomRecord());
      await one.startConversation(conversationRecord(roomId, "conv-1", 1_500));
      await one.appendMessage(roomId, newMessage("conv-1", "m1"));
      const retry = await two.appendMessage(roomId, newMessage("conv-1", "m1"));
      assert.equal(retry.duplicate, true);
      assert.equal((await two.appendMessage(roomId, newMessage("conv-1", "m2"))).message.seq, 2);
      assert.deepEqual(await two.getRoom(roomId), await one.getRoom(roomId));
    });

    it("quits only a client it created", async () => {
      const borrowed = new RedisStore(client, `${runPrefix}borrowed:`);
      await borrowed.close();
      assert.equal(await client.ping(), "PONG");

      const own = RedisStore.connect(REDIS_URL, `${runPrefix}own:`);
      const record = roomRecord();
      assert.deepEqual(await own.createRoom(record), record);
      await own.close();
      await assert.rejects(own.getRoom(record.roomId));
      assert.equal(await client.ping(), "PONG");
    });
  });
});

// --- the SQL stores ---------------------------------------------------------------

/** deleteRoom, for the stores of this branch (the memory/Redis helper adds it to storeContract). */
function deleteRoomContract(name: string, makeStore: () => RoomStore | Promise<RoomStore>) {
  describe(`RoomStore.deleteRoom: ${name}`, () => {
    let store: RoomStore;
    beforeEach(async () => { store = await makeStore(); });
    afterEach(async () => { await store.close(); });

    it("removes the room and everything under it, and nothing of other rooms", async () => {
      const keep = await store.createRoom(roomRecord());
      await store.startConversation(conversationRecord(keep.roomId, "conv-1", 1_500));
      await store.appendMessage(keep.roomId, newMessage("conv-1", "m1"));
      const roomId = await roomWithEverything(store, "owner-1");

      await store.deleteRoom(roomId);
      await store.deleteRoom(roomId); // again: nothing to do
      await store.deleteRoom(`room-${randomUUID()}`);

      assert.equal(await store.getRoom(roomId), null);
      assert.equal(await store.getConversation(roomId, "conv-1"), null);
      assert.equal(await store.getConversation(roomId, "conv-2"), null);
      assert.deepEqual(await store.listConversations(roomId, { limit: 10 }), []);
      assert.deepEqual(await store.readMessages(roomId, "conv-2", { limit: 10, includeNotes: true }), []);
      assert.deepEqual(await store.dueIdleDeadlines(1_000, 10), []);
      assert.deepEqual(await store.readOutbox(roomId, 10), []);
      assert.deepEqual(await store.pendingOutboxes(10), []);
      assert.equal(await store.leaseOutbox(roomId, "owner-2", 1_000), true, "the lease went with the room");

      // a room created again under the id starts from nothing: seqs and idempotency keys too
      await store.createRoom(roomRecord({ roomId }));
      await store.startConversation(conversationRecord(roomId, "conv-1", 5_000));
      assert.deepEqual(await store.appendMessage(roomId, newMessage("conv-1", "m1")).then((r) => [r.duplicate, r.message.seq]), [false, 1]);
      assert.equal((await store.getRoom(keep.roomId))!.lastSeq, 1);
      assert.equal((await store.readMessages(keep.roomId, "conv-1", { limit: 10, includeNotes: true })).length, 1);
    });

    it("tells a refusal from a failure by the error's kind", async () => {
      const { roomId } = await store.createRoom(roomRecord());
      const kindOf = (p: Promise<unknown>) => p.then(() => "resolved", (e) => (e instanceof StoreError ? e.kind : `untyped: ${e}`));
      assert.equal(await kindOf(store.addMembers(`room-${randomUUID()}`, ["a"])), "not_found");
      assert.equal(await kindOf(store.appendMessage(roomId, newMessage("conv-x", "m1"))), "conflict");
      assert.equal(await kindOf(store.appendMessage(`room-${randomUUID()}`, newMessage("conv-x", "m1"))), "not_found");
      await store.startConversation(conversationRecord(roomId, "conv-1", 1_500));
      assert.equal(await kindOf(store.startConversation(conversationRecord(roomId, "conv-2", 1_600))), "conflict");
      assert.equal(await kindOf(store.saveConversation(conversationRecord(roomId, "conv-2", 1_600))), "not_found");
    });
  });
}

/** Appends from many rooms at once: the group commit must still give every room 1..n exactly. */
async function manyRoomsAppend(store: RoomStore, rooms: number, perRoom: number) {
  const ids: string[] = [];
  for (let r = 0; r < rooms; r++) {
    const { roomId } = await store.createRoom(roomRecord());
    await store.startConversation(conversationRecord(roomId, "conv-1", 1_500));
    ids.push(roomId);
  }
  const results = await Promise.all(ids.flatMap((roomId) => range(1, perRoom).map((i) =>
    store.appendMessage(roomId, newMessage("conv-1", `m${i}`, { senderId: `user-${i % 3}` })).then((r) => ({ roomId, r })))));
  // a retry of every message in the same burst stores nothing
  const retries = await Promise.all(ids.map((roomId) => store.appendMessage(roomId, newMessage("conv-1", "m1", { senderId: "user-1" }))));
  assert.ok(retries.every((r) => r.duplicate && r.message.seq >= 1));
  for (const roomId of ids) {
    const got = results.filter((x) => x.roomId === roomId).map((x) => x.r.message.seq).sort((a, b) => a - b);
    assert.deepEqual(got, range(1, perRoom), `room ${roomId}`);
    assert.deepEqual(seqs(await store.readMessages(roomId, "conv-1", { limit: 1_000, includeNotes: true })), range(1, perRoom));
    const conversation = (await store.getConversation(roomId, "conv-1"))!;
    assert.deepEqual([conversation.firstSeq, conversation.lastSeq, conversation.messageCount], [1, perRoom, perRoom]);
  }
}

describe("SqliteStore", function () {
  let dir: string;
  let n = 0;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), "cc-sqlite-store-")); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  const fresh = () => new SqliteStore(path.join(dir, `store-${++n}.sqlite`));

  storeContract("SqliteStore", fresh);
  deleteRoomContract("SqliteStore", fresh);

  describe("SqliteStore specifics", () => {
    it("applies its migrations once, also when two stores open an empty file at once", async () => {
      const file = path.join(dir, "migrations.sqlite");
      const one = new SqliteStore(file);
      const two = new SqliteStore(file);
      assert.deepEqual(one.appliedMigrations(), SQLITE_VERSIONS);
      assert.deepEqual(two.appliedMigrations(), SQLITE_VERSIONS);
      await one.close();
      await two.close();
      const again = new SqliteStore(file);
      assert.deepEqual(again.appliedMigrations(), SQLITE_VERSIONS);
      await again.close();
    });

    it("applies its migrations once when two processes open an empty file at the same moment", async function () {
      this.timeout(30_000);
      const file = path.join(dir, "two-processes.sqlite");
      const script = `import { SqliteStore } from ${JSON.stringify(path.resolve(__dirname, "../server/store/sqlite.ts"))};
        const s = new SqliteStore(${JSON.stringify(file)}); console.log(JSON.stringify(s.appliedMigrations())); await s.close();`;
      const run = () => new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { out += d; });
        child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${out}`))));
      });
      assert.deepEqual(await Promise.all([run(), run()]), [JSON.stringify(SQLITE_VERSIONS), JSON.stringify(SQLITE_VERSIONS)]);
      const store = new SqliteStore(file);
      assert.deepEqual(store.appliedMigrations(), SQLITE_VERSIONS);
      await store.close();
    });

    it("keeps what it acknowledged across a reopen of the file", async () => {
      const file = path.join(dir, "reopen.sqlite");
      const store = new SqliteStore(file);
      const { roomId } = await store.createRoom(roomRecord());
      await store.startConversation(conversationRecord(roomId, "conv-1", 1_500));
      await store.appendMessage(roomId, newMessage("conv-1", "m1"));
      await store.close();
      const reopened = new SqliteStore(file);
      assert.deepEqual(seqs(await reopened.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true })), [1]);
      assert.equal((await reopened.appendMessage(roomId, newMessage("conv-1", "m1"))).duplicate, true);
      await reopened.close();
    });

    it("gives 2,000 concurrent appends across 200 rooms the seqs 1..n of each room", async function () {
      this.timeout(60_000);
      const store = fresh();
      try { await manyRoomsAppend(store, 200, 10); } finally { await store.close(); }
    });
  });
});

describe("PostgresStore", function () {
  this.timeout(30_000);
  const base = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/cc_store_test";
  const urlOf = (db: string) => { const u = new URL(base); u.pathname = `/${db}`; return u.toString(); };
  const testDb = new URL(base).pathname.slice(1);
  let admin: pg.Pool;

  /** Drops without FORCE: a pool that just ended may still have sockets closing, and FORCE would kill them mid-close. */
  async function drop(db: string) {
    for (let i = 0; i < 50; i++) {
      try { await admin.query(`DROP DATABASE IF EXISTS ${db}`); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
  }

  async function recreate(db: string) {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${db}`);
  }

  before(async () => {
    admin = new pg.Pool({ connectionString: urlOf("postgres"), max: 2 });
    // a new database every run: one left by an older checkout may hold other migrations
    await recreate(testDb);
  });
  after(async () => { await admin.end(); });

  // every test starts on empty tables (the idle and outbox listings are global)
  const fresh = async () => {
    const store = await PostgresStore.connect({ url: base, poolSize: 4 });
    const pool = new pg.Pool({ connectionString: base, max: 1 });
    await pool.query("TRUNCATE cc_rooms, cc_conversations, cc_messages, cc_idle_deadlines, cc_leases, cc_outbox, cc_outbox_leases, cc_team_queues, cc_channel_addresses, cc_team_live");
    await pool.end();
    return store;
  };

  storeContract("PostgresStore", fresh);
  deleteRoomContract("PostgresStore", fresh);

  describe("PostgresStore specifics", () => {
    it("applies its migrations once when several stores boot at once on an empty database", async () => {
      const db = `${testDb}_migrate`;
      await recreate(db);
      const stores = await Promise.all(range(1, 4).map(() => PostgresStore.connect({ url: urlOf(db), poolSize: 2 })));
      const pool = new pg.Pool({ connectionString: urlOf(db), max: 1 });
      try {
        assert.deepEqual((await pool.query("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r) => r.version), POSTGRES_VERSIONS);
        assert.deepEqual(await migrate(pool), POSTGRES_VERSIONS, "applying again changes nothing");
        const { roomId } = await stores[0].createRoom(roomRecord());
        assert.ok(await stores[3].getRoom(roomId));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await pool.end();
        await drop(db);
      }
    });

    it("gives 2,000 concurrent appends across 200 rooms the seqs 1..n of each room", async function () {
      this.timeout(60_000);
      const store = await fresh();
      try { await manyRoomsAppend(store, 200, 10); } finally { await store.close(); }
    });

    it("stores a retry once when two nodes append it at the same moment", async () => {
      const one = await fresh();
      const two = await PostgresStore.connect({ url: base, poolSize: 4 });
      try {
        const { roomId } = await one.createRoom(roomRecord());
        await one.startConversation(conversationRecord(roomId, "conv-1", 1_500));
        const results = await Promise.all(range(1, 20).map((i) => (i % 2 ? one : two).appendMessage(roomId, newMessage("conv-1", `m${i % 5}`))));
        assert.equal(results.filter((r) => !r.duplicate).length, 5);
        assert.deepEqual(seqs(await one.readMessages(roomId, "conv-1", { limit: 50, includeNotes: true })), range(1, 5));
      } finally {
        await one.close();
        await two.close();
      }
    });

    it("one append the server refuses does not fail the others of its batch", async () => {
      const store = await fresh();
      try {
        const { roomId } = await store.createRoom(roomRecord());
        await store.startConversation(conversationRecord(roomId, "conv-1", 1_500));
        // PostgreSQL's text refuses U+0000: in a sender id (a column of its own) the batch statement fails
        const results = await Promise.allSettled([
          store.appendMessage(roomId, newMessage("conv-1", "a")),
          store.appendMessage(roomId, newMessage("conv-1", "b")),
          store.appendMessage(roomId, newMessage("conv-1", "bad", { senderId: "x\u0000y" })),
          store.appendMessage(roomId, newMessage("conv-1", "c")),
        ]);
        assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
        const rejected = results[2] as PromiseRejectedResult;
        assert.ok(rejected.reason instanceof StoreError && rejected.reason.kind === "unavailable");
        assert.deepEqual(seqs(await store.readMessages(roomId, "conv-1", { limit: 10, includeNotes: true })), [1, 2, 3]);
      } finally {
        await store.close();
      }
    });
  });
});
