import assert from "node:assert/strict";
import { ChatError } from "../server/errors";
import { leaseWithin, type Lease } from "../server/cluster/lease";
import { MemoryStore } from "../server/store/memory";
import { RoomOwnership } from "../rooms/ownership";

/** A room actor's ownership (rooms/ownership.ts) on the memory store: who may write, and when the actor stops. */
describe("room ownership: the fenced writer of one actor", () => {
  const roomId = "cc-own";
  const conversation = {
    id: "conv-1", roomId, state: "active" as const, startedAt: 1, endedAt: 0, endReason: "", endedBy: "",
    firstSeq: 0, lastSeq: 0, messageCount: 0, participants: [], channelSessions: [],
  };
  const message = (id: string) => ({ id, conversationId: "conv-1", senderId: "c", senderRole: "customer" as const, senderName: "C", kind: "text" as const, text: id, at: 2 });
  let store: MemoryStore;
  let held: boolean;
  const lease: Lease = { valid: () => held, onLapse: () => () => {} };

  beforeEach(async () => {
    store = new MemoryStore();
    held = true;
    await store.createRoom({ roomId, kind: "contact_center", members: [], customers: ["c"], createdAt: 1, lastActivityAt: 1, activeConversationId: null, lastSeq: 0, pastConversations: 0 });
    await store.startConversation(conversation);
  });

  const owner = (listed: () => Promise<boolean> = async () => false) => {
    const stops: string[] = [];
    const ownership = new RoomOwnership(store, roomId, lease, (reason) => stops.push(reason), listed);
    return { ownership, stops };
  };
  const unavailable = (e: unknown) => e instanceof ChatError && e.code === "unavailable";

  it("writes with its epoch until a newer actor takes the room; then it stops once and answers unavailable", async () => {
    const old = owner();
    const epoch = await old.ownership.activate();
    assert.equal(old.ownership.writer.epoch, epoch, "the writer names the epoch it holds");
    assert.equal((await old.ownership.writer.appendMessage(message("m1"))).message.seq, 1);
    const next = owner();
    await next.ownership.activate();
    await assert.rejects(old.ownership.writer.appendMessage(message("m2")), unavailable);
    await assert.rejects(old.ownership.writer.saveConversation(conversation), unavailable);
    assert.deepEqual(old.stops, ["a newer actor owns the room"]);
    assert.equal(old.ownership.fenced, true);
    assert.equal((await next.ownership.writer.appendMessage(message("m2"))).message.seq, 2);
    assert.equal((await store.getRoom(roomId))!.lastSeq, 2, "nothing of the old actor's refused write was stored");
  });

  it("takes the room back from a discarded duplicate while the matchmaker still lists it and the lease holds", async () => {
    const winner = owner(async () => true);
    await winner.ownership.activate();
    winner.ownership.takeOver();
    await owner().ownership.activate(); // a duplicate that started late, then lost the listing
    assert.equal((await winner.ownership.writer.appendMessage(message("m1"))).message.seq, 1);
    assert.deepEqual(winner.stops, []);
  });

  it("stops when its lease lapsed, before anything reaches the store, and starts no actor without a lease", async () => {
    const actor = owner(async () => true);
    await actor.ownership.activate();
    held = false;
    await assert.rejects(actor.ownership.writer.appendMessage(message("m1")), unavailable);
    assert.deepEqual(actor.stops, ["the process lease lapsed"]);
    assert.equal((await store.getRoom(roomId))!.lastSeq, 0);
    await assert.rejects(owner().ownership.activate(), unavailable);
  });

  it("leaseWithin (the join gate): true at once while held, true once the lease is taken again within the wait, false after it", async () => {
    assert.equal(await leaseWithin(lease, 0), true);
    held = false;
    const t0 = performance.now();
    assert.equal(await leaseWithin(lease, 100), false);
    assert.ok(performance.now() - t0 >= 100, "it waited the whole time");
    setTimeout(() => { held = true; }, 50);
    assert.equal(await leaseWithin(lease, 5_000), true);
    assert.ok(performance.now() - t0 < 4_000, "and answered when the lease came back, not at the end of the wait");
  });
});
