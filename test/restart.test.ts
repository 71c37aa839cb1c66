import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Room } from "@colyseus/sdk";
import pg from "pg";
import {
  clientFor, sleep, startServerProcess, uniqueId, waitFor, type ServerProcess, type Who,
} from "./helpers/server";

/*
 * A node on a durable store is killed with SIGKILL (no shutdown, no flush) and started
 * again on the same store: everything it acknowledged must be there.
 */

const PG_BASE = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/cc_store_test";
const pgUrl = (db: string) => { const u = new URL(PG_BASE); u.pathname = `/${db}`; return u.toString(); };

const backends: { name: string; setup(): Promise<{ url: string; cleanup(): Promise<void> }> }[] = [
  {
    name: "SQLite",
    async setup() {
      const dir = mkdtempSync(path.join(tmpdir(), "cc-restart-"));
      return { url: `sqlite:${path.join(dir, "node.sqlite")}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: "PostgreSQL",
    async setup() {
      const db = "cc_store_restart_test";
      const admin = new pg.Pool({ connectionString: pgUrl("postgres"), max: 1 });
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${db}`);
      return {
        url: pgUrl(db),
        cleanup: async () => {
          // the killed node's connections may take a moment to go; FORCE would race with them
          for (let i = 0; i < 50; i++) {
            try { await admin.query(`DROP DATABASE IF EXISTS ${db}`); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
          }
          await admin.end();
        },
      };
    },
  },
];

const requests = (room: Room<any>) => [...(room.state.requests?.values() ?? [])] as any[];
const texts = (list: any[]) => list.map((m) => [m.seq, m.kind, m.text]);

for (const backend of backends) {
  describe(`restart after kill -9 (${backend.name} store)`, function () {
    this.timeout(60_000);
    let store: { url: string; cleanup(): Promise<void> };
    let node: ServerProcess | undefined;
    const open: Room<any>[] = [];

    before(async () => { store = await backend.setup(); });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => (r.connection.isOpen ? r.leave().catch(() => {}) : undefined)));
      await node?.kill();
    });
    after(async () => { await store?.cleanup(); });

    const start = () => startServerProcess({ DATABASE_URL: store.url, REDIS_URL: "" });
    async function join(who: Who, name: string, options: Record<string, unknown>) {
      const room = await (await clientFor(node!.url, who)).joinOrCreate(name, options);
      room.onMessage("*", () => {});
      open.push(room);
      return room;
    }

    it("keeps every acknowledged message, conversation, note, channel session and queued request", async () => {
      const team = uniqueId("team");
      const waitingTeam = uniqueId("wait");
      const customer: Who = { sub: uniqueId("cust"), role: "customer", name: "Ann" };
      const agent: Who = { sub: uniqueId("agent"), role: "agent", name: "Bo", teams: [team] };
      const waiting: Who = { sub: uniqueId("cust"), role: "customer", name: "Cy" };
      const watcher: Who = { sub: uniqueId("agent"), role: "agent", name: "Di", teams: [waitingTeam] };

      node = await start();
      const c = await join(customer, "contact_center", { channel: { type: "web" }, teamId: team });
      const acks: number[] = [];
      acks.push((await c.request("send", { id: "c1", text: "Hello, my order is late" })).seq);
      const a = await join(agent, "contact_center", { customerId: customer.sub });
      acks.push((await a.request("send", { id: "a1", text: "Let me check" })).seq);
      acks.push((await a.request("send", { id: "n1", text: "VIP, be nice", kind: "note" })).seq);
      acks.push((await c.request("send", { id: "c2", text: "Order 1234" })).seq);
      assert.deepEqual(acks, [1, 2, 3, 4]);
      const conversationId = c.state.conversation.id;
      await waitFor(a, () => a.state.conversation?.participants?.has(agent.sub), 5_000, "the agent is a participant");

      // a customer nobody serves: its request waits in its team's queue
      const w = await join(waiting, "contact_center", { channel: { type: "web" }, teamId: waitingTeam });
      await w.request("send", { id: "w1", text: "Anyone there?" });
      const desk = await join(watcher, "team", { teamId: waitingTeam });
      await waitFor(desk, () => requests(desk).length === 1, 5_000, "the queued request");
      const queued = requests(desk)[0];
      // the team room writes its queue right after the change; give it a moment to land
      await sleep(1_000);

      await node.kill();
      open.splice(0);
      node = await start();

      const desk2 = await join(watcher, "team", { teamId: waitingTeam });
      await waitFor(desk2, () => requests(desk2).length === 1, 5_000, "the queued request after the restart");
      const restored = requests(desk2)[0];
      assert.deepEqual([restored.id, restored.roomId, restored.kind], [queued.id, `cc-${waiting.sub}`, "new"]);

      const a2 = await join(agent, "contact_center", { customerId: customer.sub });
      await waitFor(a2, () => a2.state.conversation?.id !== undefined, 5_000, "the agent's state");
      assert.equal(a2.state.conversation.id, conversationId, "the conversation is still the active one");
      const page = await a2.request("history", {});
      assert.deepEqual(texts(page.messages), [
        [1, "text", "Hello, my order is late"], [2, "text", "Let me check"], [3, "note", "VIP, be nice"], [4, "text", "Order 1234"],
      ]);
      const c2 = await join(customer, "contact_center", { channel: { type: "web" } });
      assert.deepEqual(texts((await c2.request("history", {})).messages).map((m) => m[2]), ["Hello, my order is late", "Let me check", "Order 1234"]);
      await waitFor(c2, () => c2.state.conversation?.channelSessions !== undefined, 5_000, "the customer's state");
      const sessions = [...c2.state.conversation.channelSessions.values()] as any[];
      assert.ok(sessions.some((s) => s.customerId === customer.sub && s.type === "web"), "the channel session");
      assert.ok(c2.state.conversation.participants.has(agent.sub), "the agent is still a participant");

      // the seq goes on where it stopped, and a retry of an acknowledged message stores nothing
      assert.equal((await c2.request("send", { id: "c2", text: "Order 1234" })).seq, 4);
      assert.equal((await c2.request("send", { id: "c3", text: "Thanks" })).seq, 5);
    });
  });
}
