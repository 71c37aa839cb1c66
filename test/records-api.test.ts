import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { signToken } from "../server/auth";
import { clientFor, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

/*
 * The records routes against a real node on SQLite: erasure (also of a customer who
 * is connected), export, audit, search with its permission rows, and the retention
 * job end to end.
 */

describe("records API (erasure, export, audit, search, retention)", function () {
  this.timeout(60_000);
  let dir: string;
  let server: ServerProcess;
  let appToken: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cc-records-api-"));
    server = await startServerProcess({
      DATABASE_URL: `sqlite:${path.join(dir, "cc.sqlite")}`, AGENT_TEAM_SCOPED: "true", DEFAULT_TEAM: "support",
      APP_REQUESTS_PER_SECOND: "50", QUERIES_PER_SECOND: "50",
    });
    appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app", name: "CRM" });
  });
  after(async () => { await server?.stop(); rmSync(dir, { recursive: true, force: true }); });

  const call = async (method: string, route: string, token: string | null = appToken) => {
    const res = await fetch(`${server.url}/api${route}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: await res.json() as any };
  };
  const tokenOf = (sub: string, role: "customer" | "agent" | "supervisor" | "bot", teams: string[] = []) => signToken(TEST_SECRET, { sub, role, name: sub, teams });

  it("erases a connected customer: their actor closes (4000), the room and its transcript are gone, a rejoin starts empty, the audit has counts only", async () => {
    const customerId = uniqueId("c");
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer", name: "Erin Secret" })).joinOrCreate("contact_center", {});
    const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent", teams: ["support"] })).joinOrCreate("contact_center", { customerId });
    assert.equal((await customer.request("send", { id: "m1", text: "my card is 4111 secret" })).seq, 1);
    assert.equal((await agent.request("send", { id: "m2", text: "thanks, noted" })).seq, 2);
    assert.equal((await agent.request("send", { id: "n1", text: "customer shared card", kind: "note" })).seq, 3);
    const customerLeft = new Promise<number>((resolve) => customer.onLeave((code) => resolve(code)));
    const agentLeft = new Promise<number>((resolve) => agent.onLeave((code) => resolve(code)));

    const erased = await call("DELETE", `/customers/${customerId}`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erased.body.customerId, customerId);
    assert.deepEqual(
      [erased.body.erased.rooms, erased.body.erased.conversations, erased.body.erased.messages, erased.body.erased.channelSessions >= 0],
      [1, 1, 3, true],
    );
    assert.equal(await customerLeft, 4000);
    assert.equal(await agentLeft, 4000);
    assert.deepEqual((await call("GET", `/rooms/cc-${customerId}/conversations`)).status, 404);
    assert.deepEqual((await call("GET", `/search?q=secret`)).body.hits.filter((h: any) => h.roomId === `cc-${customerId}`), []);

    // the actor wrote nothing back while closing, and the customer comes back to an empty room
    const again = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(again.state.lastSeq ?? 0, 0);
    assert.equal(again.state.conversation?.messages?.length ?? 0, 0);
    assert.equal((await again.request("send", { id: "m1", text: "hello again" })).seq, 1, "the old idempotency key went too");
    await again.leave();

    const audit = await call("GET", `/audit?subject=${customerId}`);
    assert.equal(audit.status, 200);
    assert.equal(audit.body.entries.length, 1);
    const [entry] = audit.body.entries;
    assert.deepEqual([entry.actor, entry.action, entry.subject, entry.detail.messages], ["crm", "erase_customer", customerId, 3]);
    assert.ok(!JSON.stringify(audit.body).includes("secret"), "the audit holds no contents");
  });

  it("exports one customer's rooms, conversations, messages with notes, channel sessions and channel addresses; apps only", async () => {
    const customerId = uniqueId("c");
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent", teams: ["support"] })).joinOrCreate("contact_center", { customerId });
    await customer.request("send", { id: "e1", text: "export me" });
    await agent.request("send", { id: "e2", text: "a note about them", kind: "note" });
    // the application links the customer's phone number and email address (docs/channels.md)
    const phone = `+1555${Date.now() % 1e7}`;
    for (const link of [{ type: "whatsapp", address: phone }, { type: "email", address: `${customerId.toLowerCase()}@example.test` }]) {
      const res = await fetch(`${server.url}/api/customers/${customerId}/channels`, {
        method: "POST", headers: { authorization: `Bearer ${appToken}`, "content-type": "application/json" }, body: JSON.stringify(link),
      });
      assert.equal(res.status, 200, await res.text());
    }
    const out = await call("GET", `/customers/${customerId}/export`);
    assert.equal(out.status, 200);
    assert.deepEqual(out.body.channelAddresses, [
      { type: "email", address: `${customerId.toLowerCase()}@example.test` },
      { type: "whatsapp", address: phone },
    ]);
    assert.deepEqual(out.body.rooms.map((r: any) => r.room.roomId), [`cc-${customerId}`]);
    assert.deepEqual(out.body.rooms[0].conversations[0].messages.map((m: any) => [m.kind, m.text]), [["text", "export me"], ["note", "a note about them"]]);
    assert.ok(Array.isArray(out.body.channelSessions));
    assert.equal((await call("GET", `/customers/${customerId}/export`, await tokenOf(customerId, "customer"))).status, 403);
    assert.equal((await call("GET", `/customers/${customerId}/export`, await tokenOf("a1", "agent", ["support"]))).status, 403);
    assert.equal((await call("DELETE", `/customers/${customerId}`, await tokenOf("s1", "supervisor", ["support"]))).status, 403);
    assert.equal((await call("GET", `/customers/bad%20id/export`)).body.code, "invalid_payload");
    const { detail } = (await call("GET", `/audit?subject=${customerId}&action=export_customer`)).body.entries[0];
    assert.deepEqual([detail.messages, detail.channelAddresses], [2, 2]);
    await customer.leave();
    await agent.leave();
  });

  it("searches transcripts: apps everything, staff their teams' rooms (AGENT_TEAM_SCOPED), customers never", async () => {
    const word = `zq${uniqueId("w").toLowerCase()}`;
    const inSupport = uniqueId("c");
    const inBilling = uniqueId("c");
    const c1 = await (await clientFor(server.url, { sub: inSupport, role: "customer" })).joinOrCreate("contact_center", {});
    const c2 = await (await clientFor(server.url, { sub: inBilling, role: "customer" })).joinOrCreate("contact_center", { teamId: "billing" });
    await c1.request("send", { id: "s1", text: `about ${word} please` });
    await c2.request("send", { id: "s1", text: `${word} billing question` });
    const rooms = (r: any) => r.body.hits.map((h: any) => h.roomId).sort();

    const byApp = await call("GET", `/search?q=${word}`);
    assert.equal(byApp.status, 200);
    assert.deepEqual(rooms(byApp), [`cc-${inBilling}`, `cc-${inSupport}`].sort());
    assert.deepEqual(rooms(await call("GET", `/search?q=${word}`, await tokenOf("a-sup", "agent", ["support"]))), [`cc-${inSupport}`]);
    assert.deepEqual(rooms(await call("GET", `/search?q=${word}`, await tokenOf("s-bill", "supervisor", ["billing"]))), [`cc-${inBilling}`]);
    assert.deepEqual(rooms(await call("GET", `/search?q=${word}`, await tokenOf("a-none", "agent", ["sales"]))), []);
    assert.equal((await call("GET", `/search?q=${word}`, await tokenOf(inSupport, "customer"))).body.code, "forbidden");
    assert.equal((await call("GET", `/search?q=${word}`, await tokenOf("bot-1", "bot", ["support"]))).status, 403);
    assert.equal((await call("GET", `/search?q=${word}`, null)).status, 401);
    const paged = await call("GET", `/search?q=${word}&limit=1`);
    assert.equal(paged.body.hits.length, 1);
    const next = await call("GET", `/search?q=${word}&limit=1&cursor=${paged.body.next}`);
    assert.notEqual(next.body.hits[0]?.roomId, paged.body.hits[0].roomId);
    assert.equal((await call("GET", `/search?q=${word}&limit=1&cursor=${next.body.next}`)).body.next, null, "two hits, then the end");
    assert.equal((await call("GET", `/search?q=${word}&cursor=nonsense`)).body.code, "invalid_payload");
    assert.equal((await call("GET", `/search?q=`)).body.code, "invalid_payload");
    assert.equal((await call("GET", `/search?q=x&limit=100000`)).body.code, "invalid_payload");
    await c1.leave();
    await c2.leave();
  });

  it("a node with a retention purges ended conversations once they are older than it", async () => {
    const node = await startServerProcess({
      DATABASE_URL: `sqlite:${path.join(dir, "retention.sqlite")}`, RETENTION_DAYS_CONTACT_CENTER: "0.00002", RETENTION_INTERVAL_MS: "300",
    });
    try {
      const customerId = uniqueId("c");
      const customer = await (await clientFor(node.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
      const agent = await (await clientFor(node.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
      await customer.request("send", { id: "r1", text: "short-lived" });
      await agent.request("end", { reason: "resolved" });
      await waitFor(customer, () => customer.state.conversation?.status === "ended", 5_000, "conversation ended");
      const get = async () => {
        const res = await fetch(`${node.url}/api/rooms/cc-${customerId}/conversations`, { headers: { authorization: `Bearer ${appToken}` } });
        return { status: res.status, body: await res.json() as any };
      };
      assert.equal((await get()).body.conversations.length, 1);
      await customer.leave();
      await agent.leave();
      await until(async () => { const r = await get(); return r.status === 404 || r.body.conversations.length === 0; }, 20_000, "the purge");
      const audit = await fetch(`${node.url}/api/audit?action=retention_purge`, { headers: { authorization: `Bearer ${appToken}` } }).then((r) => r.json() as any);
      assert.ok(audit.entries.length >= 1);
      assert.equal(audit.entries[0].subject, "contact_center");
    } finally { await node.stop(); }
  });

  it("a node on the Redis store answers the records routes 501 unsupported, and refuses to start with a retention", async () => {
    const node = await startServerProcess({ DATABASE_URL: process.env.REDIS_TEST_URL ?? "redis://127.0.0.1:6379/9" });
    try {
      const res = await fetch(`${node.url}/api/search?q=x`, { headers: { authorization: `Bearer ${appToken}` } });
      assert.deepEqual([res.status, ((await res.json()) as any).code], [501, "unsupported"]);
    } finally { await node.stop(); }
    await assert.rejects(startServerProcess({ DATABASE_URL: process.env.REDIS_TEST_URL ?? "redis://127.0.0.1:6379/9", RETENTION_DAYS_PRIVATE: "30" }),
      /RETENTION_DAYS_\* is set but the Redis store does not support retention/);
  });
});
