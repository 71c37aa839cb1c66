import assert from "node:assert/strict";
import { CloseCode } from "@colyseus/sdk";
import type { Room } from "@colyseus/sdk";
import {
  clientFor, sleep, startServerProcess, uniqueId, until, waitFor, type ServerProcess,
} from "./helpers/server";
import { REDIS_TEST_URL, flushTestDb } from "./helpers/redis";

import { rejection } from "./helpers/fixtures";

const IDLE_MS = 1_500;

for (const mode of ["embedded", "redis"] as const) {
  describe(`chat (${mode} node)`, function () {
    this.timeout(30_000);
    let server: ServerProcess;
    const rooms: Room<any>[] = [];

    before(async () => {
      const env: Record<string, string> = { CONVERSATION_IDLE_MS: String(IDLE_MS), RECONNECT_GRACE_SECONDS: "10" };
      if (mode === "redis") {
        await flushTestDb();
        env.REDIS_URL = REDIS_TEST_URL;
      }
      server = await startServerProcess(env);
    });

    afterEach(async () => {
      await Promise.all(rooms.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined));
    });

    after(async () => { await server?.stop(); });

    async function customer(id = uniqueId("cust"), channel: { type: string; address?: string } = { type: "web" }) {
      const client = await clientFor(server.url, { sub: id, role: "customer", name: `Customer ${id}` });
      const room = await client.joinOrCreate("contact_center", { channel });
      rooms.push(room);
      return { id, client, room };
    }

    async function agent(customerId: string, role: "agent" | "supervisor" = "agent", id = uniqueId("agent")) {
      const client = await clientFor(server.url, { sub: id, role, name: `Agent ${id}`, teams: ["sales"] });
      const room = await client.joinOrCreate("contact_center", { customerId });
      rooms.push(room);
      return { id, client, room };
    }

    const texts = (room: Room<any>) => [...(room.state.conversation?.messages ?? [])].map((m: any) => m.text);

    it("a customer and an agent chat: seqs increase without gaps and the transcript is right", async () => {
      const c = await customer();
      const a = await agent(c.id);
      assert.equal(c.room.roomId, `cc-${c.id}`);
      assert.equal(a.room.roomId, c.room.roomId);

      const acks: number[] = [];
      acks.push((await c.room.request("send", { id: "m1", text: "Hello, my order is late" })).seq);
      acks.push((await a.room.request("send", { id: "m2", text: "Sorry to hear that, let me check" })).seq);
      acks.push((await c.room.request("send", { id: "m3", text: "Order 1234" })).seq);
      acks.push((await a.room.request("send", { id: "m4", text: "It ships tomorrow" })).seq);
      assert.deepEqual(acks, [1, 2, 3, 4]);

      const expected = ["Hello, my order is late", "Sorry to hear that, let me check", "Order 1234", "It ships tomorrow"];
      await waitFor(c.room, () => texts(c.room).length === 4, 5_000, "customer state");
      await waitFor(a.room, () => texts(a.room).length === 4, 5_000, "agent state");
      assert.deepEqual(texts(c.room), expected);
      assert.deepEqual(texts(a.room), expected);

      const page = await c.room.request("history", {});
      assert.equal(page.conversationId, c.room.state.conversation.id);
      assert.deepEqual(page.messages.map((m: any) => [m.seq, m.senderId, m.text]), [
        [1, c.id, expected[0]], [2, a.id, expected[1]], [3, c.id, expected[2]], [4, a.id, expected[3]],
      ]);

      const conversation = c.room.state.conversation;
      assert.deepEqual([...conversation.participants.keys()].sort(), [a.id, c.id].sort());
      assert.equal(conversation.participants.get(a.id).role, "agent");
      const sessions = [...conversation.channelSessions.values()];
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0].customerId, c.id);
      assert.equal(sessions[0].type, "web");
      assert.equal(sessions[0].state, "active");
    });

    it("a retried send with the same id stores one message and answers the same seq", async () => {
      const c = await customer();
      const first = await c.room.request("send", { id: "retry-1", text: "once" });
      const again = await c.room.request("send", { id: "retry-1", text: "once" });
      const other = await c.room.request("send", { id: "retry-2", text: "twice" });
      assert.equal(again.seq, first.seq);
      assert.equal(other.seq, first.seq + 1);
      const page = await c.room.request("history", {});
      assert.deepEqual(page.messages.map((m: any) => m.id), ["retry-1", "retry-2"]);
      await waitFor(c.room, () => texts(c.room).length === 2);
      assert.deepEqual(texts(c.room), ["once", "twice"]);
    });

    it("a note reaches agents only: never the customer's state nor its history", async () => {
      const c = await customer();
      const a = await agent(c.id);
      const s = await agent(c.id, "supervisor");
      await c.room.request("send", { id: "c1", text: "hi" });
      const note = await a.room.request("send", { id: "n1", text: "VIP customer, be nice", kind: "note" });
      await c.room.request("send", { id: "c2", text: "anyone?" });

      const notes = (room: Room<any>) => [...(room.state.conversation?.notes ?? [])].map((m: any) => m.text);
      await waitFor(a.room, () => notes(a.room).length === 1 && texts(a.room).length === 2, 5_000, "agent sees note");
      await waitFor(s.room, () => notes(s.room).length === 1, 5_000, "supervisor sees note");
      await waitFor(c.room, () => texts(c.room).length === 2, 5_000, "customer messages");
      assert.deepEqual(notes(c.room), []);
      assert.deepEqual(texts(c.room), ["hi", "anyone?"]);

      const customerPage = await c.room.request("history", {});
      assert.deepEqual(customerPage.messages.map((m: any) => m.text), ["hi", "anyone?"]);
      const agentPage = await a.room.request("history", {});
      assert.deepEqual(agentPage.messages.map((m: any) => m.seq), [note.seq - 1, note.seq, note.seq + 1]);

      const refused = await rejection(c.room.request("send", { id: "c3", text: "sneaky", kind: "note" }));
      assert.equal(refused.code, "forbidden");
    });

    it("`end` by an agent moves the conversation into history with its channel sessions; the next message starts a new one", async () => {
      const c = await customer(undefined, { type: "whatsapp", address: "+4915112345678" });
      const a = await agent(c.id);
      await c.room.request("send", { id: "x1", text: "question" });
      await a.room.request("send", { id: "x2", text: "answer" });
      await waitFor(c.room, () => !!c.room.state.conversation);
      const firstId = c.room.state.conversation.id;

      assert.equal((await rejection(c.room.request("end", {}))).code, "forbidden");
      const ended = new Promise<any>((resolve) => c.room.onMessage("conversation_ended", resolve));
      await a.room.request("end", { reason: "resolved" });
      assert.deepEqual(await ended, { conversationId: firstId, reason: "resolved" });
      await waitFor(c.room, () => c.room.state.conversation?.status === "ended", 5_000, "conversation ended, kept in the state");

      const { conversations } = await c.room.request("conversations", {});
      assert.equal(conversations.length, 1);
      const past = conversations[0];
      assert.equal(past.id, firstId);
      assert.equal(past.state, "ended");
      assert.equal(past.endReason, "resolved");
      assert.equal(past.endedBy, a.id);
      assert.equal(past.messageCount, 2);
      assert.equal(past.channelSessions.length, 1);
      assert.equal(past.channelSessions[0].type, "whatsapp");
      assert.equal(past.channelSessions[0].address, "+4915112345678");
      assert.equal(past.channelSessions[0].state, "ended");
      assert.ok(past.channelSessions[0].endedAt >= past.startedAt);
      assert.ok(past.participants.every((p: any) => p.leftAt > 0));

      const old = await c.room.request("history", { conversationId: firstId });
      assert.deepEqual(old.messages.map((m: any) => m.text), ["question", "answer"]);

      const next = await c.room.request("send", { id: "x3", text: "one more thing" });
      assert.equal(next.seq, 3, "seq continues across conversations");
      await waitFor(c.room, () => c.room.state.conversation?.id !== firstId, 5_000, "a new conversation");
      assert.equal(c.room.state.conversation.channelSessions.size, 1, "a new channel session for the new conversation");
      assert.equal((await rejection(a.room.request("end", {}).then(() => a.room.request("end", {})))).code, "no_active_conversation");
    });

    it("a conversation ends after the idle period and lands in history; the next message starts a new one", async () => {
      // an agent holds it (a conversation waiting in the queue is never idle: test/deskLifecycle.test.ts)
      const c = await customer();
      await c.room.request("send", { id: "i1", text: "are you there?" });
      await waitFor(c.room, () => !!c.room.state.conversation);
      const firstId = c.room.state.conversation.id;
      const a = await agent(c.id);
      await a.room.request("send", { id: "i1a", text: "yes, how can I help?" });
      const started = Date.now();
      const ended = new Promise<any>((resolve) => c.room.onMessage("conversation_ended", resolve));
      assert.deepEqual(await ended, { conversationId: firstId, reason: "idle" });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= IDLE_MS - 100 && elapsed < IDLE_MS + 2_000, `ended after ${elapsed} ms`);

      const { conversations } = await c.room.request("conversations", {});
      assert.equal(conversations[0].id, firstId);
      assert.equal(conversations[0].endReason, "idle");
      assert.equal(conversations[0].channelSessions[0].state, "ended");

      await c.room.request("send", { id: "i2", text: "hello again" });
      await waitFor(c.room, () => c.room.state.conversation?.id !== firstId, 5_000, "a new conversation");
      assert.equal(c.room.state.conversation.status, "queued", "routed through the queue, not to the agent's open tab");
      assert.deepEqual([...c.room.state.conversation.participants.keys()], [c.id]);
    });

    it("the actor disposes when empty and idle, and the next join resumes the record and history", async () => {
      const c = await customer();
      const a = await agent(c.id);
      await c.room.request("send", { id: "d1", text: "before" });
      await a.room.request("end", {});
      const roomId = c.room.roomId;
      await c.room.leave();
      await a.room.leave();
      await until(() => server.output().includes(`"roomId":"${roomId}","msg":"room actor disposed"`), 5_000, "actor disposal");

      const again = await customer(c.id);
      assert.equal(again.room.roomId, roomId);
      assert.notEqual(again.room.sessionId, c.room.sessionId);
      await waitFor(again.room, () => again.room.state.lastSeq === 1, 5_000, "lastSeq resumed");
      const { conversations } = await again.room.request("conversations", {});
      assert.equal(conversations.length, 1);
      const page = await again.room.request("history", { conversationId: conversations[0].id });
      assert.deepEqual(page.messages.map((m: any) => m.text), ["before"]);
      assert.equal((await again.room.request("send", { id: "d2", text: "after" })).seq, 2);
      const starts = server.output().split(`"roomId":"${roomId}","kind":"contact_center"`).length - 1;
      assert.equal(starts, 2, "a second actor was started for the room");
    });

    it("a dropped client reconnects and, with history, has every message", async () => {
      const c = await customer();
      const a = await agent(c.id);
      c.room.reconnection.minUptime = 0;
      await c.room.request("send", { id: "r1", text: "first" });
      await waitFor(c.room, () => c.room.state.lastSeq === 1);
      const lastSeen = c.room.state.lastSeq;

      const reconnected = new Promise<void>((resolve) => c.room.onReconnect(() => resolve()));
      c.room.connection.close(CloseCode.MAY_TRY_RECONNECT, "network drop");
      const sent: number[] = [];
      for (let i = 0; i < 5; i++) { sent.push((await a.room.request("send", { id: `a${i}`, text: `while away ${i}` })).seq); }
      await reconnected;

      const page = await c.room.request("history", { after: lastSeen });
      assert.deepEqual(page.messages.map((m: any) => m.seq), sent);
      await waitFor(c.room, () => c.room.state.lastSeq === sent[sent.length - 1], 5_000, "state resync");
      const seen = new Set([...c.room.state.conversation.messages].map((m: any) => m.seq));
      for (const seq of [1, ...sent]) { assert.ok(seen.has(seq), `seq ${seq} in state after resync`); }
      assert.equal(c.room.state.conversation.participants.get(c.id).connected, true);
    });

    it("history pages backwards with `before` and `limit`", async () => {
      const c = await customer();
      for (let i = 1; i <= 7; i++) { await c.room.request("send", { id: `p${i}`, text: `m${i}` }); await sleep(5); }
      const last = await c.room.request("history", { limit: 3 });
      assert.deepEqual(last.messages.map((m: any) => m.seq), [5, 6, 7]);
      const before = await c.room.request("history", { limit: 3, before: 5 });
      assert.deepEqual(before.messages.map((m: any) => m.seq), [2, 3, 4]);
      const first = await c.room.request("history", { limit: 3, before: 2 });
      assert.deepEqual(first.messages.map((m: any) => m.seq), [1]);
    });

    it("bad payloads are rejected with stable codes and the connection stays open", async () => {
      const c = await customer();
      assert.equal((await rejection(c.room.request("send", { id: "bad id/..", text: "x" }))).code, "invalid_payload");
      assert.equal((await rejection(c.room.request("send", { id: "ok", text: 42 }))).code, "invalid_payload");
      assert.equal((await rejection(c.room.request("send", { id: "ok", text: "x".repeat(5000) }))).code, "text_too_long");
      assert.equal((await rejection(c.room.request("history", { limit: 100000 }))).code, "invalid_payload");
      assert.equal((await rejection(c.room.request("read", { seq: -1 }))).code, "invalid_payload");
      await assert.rejects(c.room.request("no-such-request", {}), /no onMessage|handler/);
      assert.equal(c.room.connection.isOpen, true);
      assert.equal((await c.room.request("send", { id: "fine", text: "still here" })).seq, 1);
    });

    it("refuses joins without a valid token or outside the permission table", async () => {
      const { Client } = await import("@colyseus/sdk");
      await assert.rejects(new Client(server.url).joinOrCreate("contact_center", { channel: { type: "web" } }), /^Error: auth_missing|auth_missing: a JWT is required/);
      const forged = await clientFor(server.url, { sub: "mallory", role: "customer" }, "another-secret-another-secret-1234");
      await assert.rejects(forged.joinOrCreate("contact_center", {}), /auth_invalid: token invalid/);
      const stranger = await agent(uniqueId("nobody")).catch((e) => e);
      assert.match(String(stranger?.message), /room_not_found: no contact_center room for customer/, "staff cannot create a customer room");
      const teamless = await clientFor(server.url, { sub: uniqueId("ag"), role: "agent", teams: ["sales"] });
      await assert.rejects(teamless.joinOrCreate("team", { teamId: "support" }), /forbidden: not a member of team support/);
      const member = await teamless.joinOrCreate("team", { teamId: "sales" });
      rooms.push(member);
      assert.equal(member.roomId, "team-sales");
    });

    it("a customer room's handshake carries only the chat types: SDK clients that join many rooms keep nothing per join", async () => {
      // @colyseus/schema keeps every reflected subclass in a static map (TypeContext.inheritedTypes);
      // a customer room whose state class had a subclass (the team room's) made every SDK
      // join add classes there that were never freed: a long-lived bot or load generator leaked
      const context = (room: Room<any>) => (room as any).serializer.decoder.context;
      const first = await customer();
      const typeNames = Object.values(context(first.room).types).map((t: any) => Object.values(t[Symbol.metadata] ?? {}).map((f: any) => f?.name));
      assert.ok(!typeNames.flat().includes("requests") && !typeNames.flat().includes("agents"), `team types in a customer room: ${JSON.stringify(typeNames)}`);
      const inherited = context(first.room).constructor.inheritedTypes as Map<unknown, Set<unknown>>;
      const size = () => [...inherited.values()].reduce((n, set) => n + set.size, 0);
      const before = size();
      for (let i = 0; i < 5; i++) {
        const c = await customer();
        await c.room.leave();
      }
      assert.equal(size(), before, "joins left reflected classes behind in TypeContext.inheritedTypes");
    });
  });
}
