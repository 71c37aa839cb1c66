import assert from "node:assert/strict";
import { signToken } from "../server/auth";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

async function post(url: string, token: string, roomId: string, body: unknown) {
  const res = await fetch(`${url}/api/rooms/${roomId}/messages`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as any };
}

async function get(url: string, token: string, path: string) {
  const res = await fetch(`${url}/api${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as any };
}

describe("HTTP API for applications", function () {
  this.timeout(30_000);
  let server: ServerProcess;
  let appToken: string;
  before(async () => {
    server = await startServerProcess({ APP_REQUESTS_PER_SECOND: "5" });
    appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app", name: "CRM" });
  });
  after(async () => { await server?.stop(); });

  const call = async (method: string, path: string, body?: unknown, token: string | null = appToken) => {
    const res = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  };

  it("posts into a customer room through its actor, lists conversations and reads the transcript", async () => {
    const customerId = uniqueId("c");
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
    assert.equal((await customer.request("send", { id: "c1", text: "hello" })).seq, 1);
    const posted = await call("POST", `/rooms/cc-${customerId}/messages`, { id: "crm-1", text: "Your ticket #77 was created" });
    assert.deepEqual(posted, { status: 200, body: { seq: 2 } });
    const retried = await call("POST", `/rooms/cc-${customerId}/messages`, { id: "crm-1", text: "Your ticket #77 was created" });
    assert.deepEqual(retried.body, { seq: 2 }, "idempotent on id");
    await waitFor(customer, () => customer.state.conversation?.messages.length === 2, 5_000, "the app's message reaches the customer");
    const fromApp = customer.state.conversation.messages[1];
    assert.deepEqual([fromApp.senderId, fromApp.senderRole, fromApp.text], ["crm", "app", "Your ticket #77 was created"]);
    assert.equal(customer.state.conversation.participants.get("crm").role, "app");

    await agent.request("send", { id: "n1", text: "internal", kind: "note" });
    await agent.request("end", { reason: "resolved" });
    const listed = await call("GET", `/rooms/cc-${customerId}/conversations?limit=5`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.conversations.length, 1);
    const conversationId = listed.body.conversations[0].id;
    const transcript = await call("GET", `/rooms/cc-${customerId}/conversations/${conversationId}/messages?after=0&limit=10`);
    assert.deepEqual(transcript.body.messages.map((m: any) => [m.seq, m.kind, m.text]), [
      [1, "text", "hello"], [2, "text", "Your ticket #77 was created"], [3, "note", "internal"],
    ]);
    await customer.leave();
    await agent.leave();
  });

  it("refuses with the same codes as the rooms: auth, permissions, validation, limits", async () => {
    const customerId = uniqueId("c");
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const room = `/rooms/cc-${customerId}`;
    const customerToken = await signToken(TEST_SECRET, { sub: customerId, role: "customer" });
    const expired = await signToken(TEST_SECRET, { sub: "crm", role: "app" }, Math.floor(Date.now() / 1000) - 60);
    const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
      ["no token", call("GET", `${room}/conversations`, undefined, null), 401, "auth_missing"],
      ["expired token", call("GET", `${room}/conversations`, undefined, expired), 401, "auth_expired"],
      ["a customer's token", call("GET", `${room}/conversations`, undefined, customerToken), 403, "forbidden"],
      ["a team room", call("GET", "/rooms/team-sales/conversations"), 403, "forbidden"],
      ["a path in the room id", call("GET", "/rooms/cc-..%2F..%2Fx/conversations"), 400, "invalid_payload"],
      ["an unknown room", call("GET", "/rooms/cc-nobody-here/conversations"), 404, "room_not_found"],
      ["an unknown conversation", call("GET", `${room}/conversations/conv-nope/messages`), 404, "unknown_conversation"],
      ["a bad id", call("POST", `${room}/messages`, { id: "../x", text: "x" }), 400, "invalid_payload"],
      ["a note", call("POST", `${room}/messages`, { id: "n", text: "x", kind: "note" }), 403, "forbidden"],
    ];
    for (const [name, promise, status, code] of cases) {
      const res = await promise;
      assert.deepEqual([res.status, res.body.code], [status, code], name);
      assert.equal(typeof res.body.message, "string");
    }
    await new Promise((r) => setTimeout(r, 2_100)); // the app's bucket refills
    const more: [string, Promise<{ status: number; body: any }>, number, string][] = [
      ["a post into a team room", call("POST", "/rooms/team-sales/messages", { id: "t1", text: "x" }), 403, "forbidden"],
      ["a text too long", call("POST", `${room}/messages`, { id: "l", text: "x".repeat(4_001) }), 400, "text_too_long"],
      ["a body too large", call("POST", `${room}/messages`, { id: "b", text: "x", pad: "y".repeat(20_000) }), 413, "payload_too_large"],
      ["not JSON", call("POST", `${room}/messages`, "{not json"), 400, "invalid_payload"],
      ["limit over the maximum", call("GET", `${room}/conversations?limit=100000`), 400, "invalid_payload"],
    ];
    for (const [name, promise, status, code] of more) {
      const res = await promise;
      assert.deepEqual([res.status, res.body.code], [status, code], name);
    }
    await new Promise((r) => setTimeout(r, 2_100));
    const flood = await Promise.all(Array.from({ length: 30 }, () => call("GET", `${room}/conversations`)));
    assert.ok(flood.filter((r) => r.status === 429 && r.body.code === "rate_limited").length >= 15, "a flood is rate limited");
    assert.ok(flood.some((r) => r.status === 200));
    await customer.leave();
  });
});

describe("HTTP API for applications: through the room's one actor", function () {
  this.timeout(30_000);
  let server: ServerProcess;
  let appToken: string;
  before(async () => {
    server = await startServerProcess({});
    appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app", name: "CRM" });
  });
  after(async () => { await server?.stop(); });

  it("starts the room's actor when none runs; the message opens a conversation the customer finds on its next join", async () => {
    const customerId = uniqueId("c");
    const roomId = `cc-${customerId}`;
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
    await customer.request("send", { id: "c1", text: "hello" });
    await agent.request("end", {});
    await customer.leave();
    await agent.leave();
    await until(() => server.output().includes(`"roomId":"${roomId}","msg":"room actor disposed"`), 5_000, "actor disposal");

    assert.deepEqual(await post(server.url, appToken, roomId, { id: "late-1", text: "Your parcel left the warehouse" }), { status: 200, body: { seq: 2 } });
    const starts = server.output().split(`"roomId":"${roomId}","kind":"contact_center"`).length - 1;
    assert.equal(starts, 2, "the API started a new actor for the room");
    assert.deepEqual((await post(server.url, appToken, roomId, { id: "late-1", text: "Your parcel left the warehouse" })).body, { seq: 2 }, "idempotent");

    const again = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await waitFor(again, () => again.state.conversation?.messages.length === 1, 5_000, "the app's message in the resumed state");
    assert.deepEqual([again.state.conversation.messages[0].seq, again.state.conversation.messages[0].senderRole], [2, "app"]);
    assert.equal((await again.request("send", { id: "c2", text: "great, thanks" })).seq, 3);
    const conversationId = again.state.conversation.id;
    const transcript = await get(server.url, appToken, `/rooms/${roomId}/conversations/${conversationId}/messages`);
    assert.deepEqual(transcript.body.messages.map((m: any) => [m.seq, m.senderId, m.text]), [[2, "crm", "Your parcel left the warehouse"], [3, customerId, "great, thanks"]]);
    const past = await get(server.url, appToken, `/rooms/${roomId}/conversations`);
    assert.equal(past.body.conversations.length, 1, "the ended conversation");
    await again.leave();
  });

  it("posts into a private room; concurrent posts and retries get consecutive seqs, one per id", async () => {
    const customerId = uniqueId("c");
    const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("private", { customers: [customerId] });
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("private", { roomId: agent.roomId });
    const ids = Array.from({ length: 15 }, (_, i) => `bulk-${i}`);
    const answers = await Promise.all([...ids, ...ids].map((id) => post(server.url, appToken, agent.roomId, { id, text: `update ${id}` })));
    assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.find((a) => a.status !== 200)));
    const seqOf = new Map<string, number>();
    [...ids, ...ids].forEach((id, i) => {
      const seq = answers[i].body.seq;
      if (seqOf.has(id)) { assert.equal(seq, seqOf.get(id), `a retry of ${id} answers the stored seq`); } else { seqOf.set(id, seq); }
    });
    assert.deepEqual([...seqOf.values()].sort((a, b) => a - b), Array.from({ length: 15 }, (_, i) => i + 1));
    await waitFor(customer, () => customer.state.conversation?.messages.length === 15, 5_000, "every post delivered live");
    const page = await customer.request("history", { after: 0, limit: 50 });
    assert.deepEqual(page.messages.map((m: any) => [m.seq, m.text]), [...seqOf].sort((a, b) => a[1] - b[1]).map(([id, seq]) => [seq, `update ${id}`]));
    await customer.leave();
    await agent.leave();
  });
});

describe("HTTP API for applications on Redis nodes: any node reaches the room's actor", function () {
  this.timeout(40_000);
  const nodes: ServerProcess[] = [];
  let appToken: string;
  before(async () => {
    await flushTestDb();
    for (let i = 0; i < 2; i++) { nodes.push(await startServerProcess({ REDIS_URL: REDIS_TEST_URL })); }
    appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app", name: "CRM" });
  });
  after(async () => { await Promise.all(nodes.map((n) => n.stop())); });

  it("posts through both nodes reach the customer live, in seq order, idempotent across nodes", async () => {
    const customerId = uniqueId("c");
    const roomId = `cc-${customerId}`;
    const customer = await (await clientFor(nodes[0].url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await until(() => nodes.some((n) => n.output().includes(`"roomId":"${roomId}","kind":"contact_center"`)), 5_000, "actor started");
    const host = nodes.findIndex((n) => n.output().includes(`"roomId":"${roomId}","kind":"contact_center"`));
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post(nodes[i % 2].url, appToken, roomId, { id: `n${i}`, text: `via node ${i % 2}` });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      seqs.push(res.body.seq);
    }
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
    const retry = await post(nodes[1 - host].url, appToken, roomId, { id: "n0", text: "via node 0" });
    assert.deepEqual(retry.body, { seq: 1 }, "a retry through the other node");
    await waitFor(customer, () => customer.state.conversation?.messages.length === 6, 5_000, "all six delivered");
    assert.deepEqual([...customer.state.conversation.messages].map((m: any) => [m.seq, m.text]), seqs.map((seq, i) => [seq, `via node ${i % 2}`]));
    assert.equal(nodes.filter((n) => n.output().includes(`"roomId":"${roomId}","kind":"contact_center"`)).length, 1, "one actor in the cluster");
    await customer.leave();
  });
});
