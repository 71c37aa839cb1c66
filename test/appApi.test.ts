import assert from "node:assert/strict";
import { signToken } from "../server/auth";
import { clientFor, startServerProcess, TEST_SECRET, uniqueId, waitFor, type ServerProcess } from "./helpers/server";

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
      ["a team room", call("GET", "/rooms/team-sales/conversations"), 400, "invalid_payload"],
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
