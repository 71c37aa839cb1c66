import assert from "node:assert/strict";
import { signToken } from "../server/auth";
import { startReceiver, type Receiver } from "./helpers/receiver";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, freePort, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

/**
 * The connector API (docs/channels.md) against a real server process: inbound
 * messages, idempotency on the provider's id, outbound deliveries from the outbox to
 * a connector endpoint in the test (a real HTTP server checking signatures), delivery
 * statuses in the agent's state, a failed delivery retried then shown, the channel's
 * inactivity timer, and the permission rows.
 */
const CONNECTOR_SECRET = "connector-secret-for-the-tests-0123456789";

describe("channel connector API", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  let receiver: Receiver;
  let connector: string;
  let app: string;

  before(async () => {
    receiver = await startReceiver(CONNECTOR_SECRET);
    server = await startServerProcess({
      CONNECTOR_URLS: `sms=${receiver.url}`, CONNECTOR_SECRET, CHANNEL_IDLE_MS: "sms=4000",
      WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_MS: "100",
    });
    connector = await signToken(TEST_SECRET, { sub: "sms-connector", role: "connector", channels: ["sms"] });
    app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
  });
  after(async () => { await server?.stop(); await receiver?.close(); });
  beforeEach(() => { receiver.answer = () => 204; });

  const call = async (path: string, body: unknown, token = connector) => {
    const res = await fetch(`${server.url}/api${path}`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  };
  const inbound = (address: string, messageId: string, text: string, extra: object = {}) =>
    call("/channels/sms/messages", { address, messageId, text, ...extra });
  const agentIn = async (customerId: string) =>
    (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: ["support"] })).joinOrCreate("contact_center", { customerId });
  const sessionsOf = (room: any): any[] => [...(room.state.conversation?.channelSessions.values() ?? [])];

  it("a message from an unknown address makes a customer and a conversation; a provider's redelivery is stored once", async () => {
    const address = `+1555${Date.now() % 1e7}`;
    const first = await inbound(address, "prov-1", "Hello from SMS", { name: "Sam" });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.customerId, /^cu-[0-9a-f]{32}$/);
    assert.equal(first.body.roomId, `cc-${first.body.customerId}`);
    assert.deepEqual([first.body.seq, first.body.duplicate], [1, false]);

    const again = await inbound(address, "prov-1", "Hello from SMS", { name: "Sam" });
    assert.deepEqual([again.body.customerId, again.body.seq, again.body.duplicate], [first.body.customerId, 1, true]);
    const second = await inbound(address, "prov-2", "second");
    assert.deepEqual([second.body.customerId, second.body.seq, second.body.sessionId], [first.body.customerId, 2, first.body.sessionId]);

    const agent = await agentIn(first.body.customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 2, 5_000, "the transcript");
    assert.deepEqual(agent.state.conversation.messages.map((m: any) => [m.seq, m.senderRole, m.senderName, m.text]),
      [[1, "customer", "Sam", "Hello from SMS"], [2, "customer", "Sam", "second"]]);
    const [session] = sessionsOf(agent);
    assert.deepEqual([session.type, session.address, session.via, session.state, session.id], ["sms", address, "connector", "active", first.body.sessionId]);
    await agent.leave();
  });

  it("delivers staff messages to the connector, signed and in order; statuses reach the agent's state", async () => {
    const address = `+1666${Date.now() % 1e7}`;
    const { body } = await inbound(address, uniqueId("p"), "I need help", { context: "thread-42" });
    const agent = await agentIn(body.customerId);
    const r1 = await agent.request("send", { id: "a1", text: "Hi, how can I help?" });
    const r2 = await agent.request("send", { id: "a2", text: "Still there?" });
    await agent.request("send", { id: "n1", text: "internal", kind: "note" });
    await until(() => receiver.accepted.filter((d) => d.roomId === body.roomId).length === 2, 5_000, "two deliveries");
    const mine = receiver.accepted.filter((d) => d.roomId === body.roomId);
    assert.deepEqual(mine.map((d) => [d.type, d.data.seq, d.data.text, d.channel.address, d.channel.sessionId, d.channel.context]), [
      ["channel.message", r1.seq, "Hi, how can I help?", address, body.sessionId, "thread-42"],
      ["channel.message", r2.seq, "Still there?", address, body.sessionId, "thread-42"],
    ]);
    assert.equal(mine[0].id, `${body.roomId}:${r1.seq}:${body.sessionId}`);

    const status = (seq: number, s: string) => call("/channels/sms/statuses", { roomId: body.roomId, sessionId: body.sessionId, seq, status: s });
    assert.equal((await status(r1.seq, "sent")).status, 200);
    await status(r2.seq, "delivered");
    await status(r1.seq, "read");
    await waitFor(agent, () => {
      const [s] = sessionsOf(agent);
      return s.sentSeq === r2.seq && s.deliveredSeq === r2.seq && s.readSeq === r1.seq;
    }, 5_000, "the statuses in the agent's state");
    const otherChannel = await signToken(TEST_SECRET, { sub: "wa", role: "connector", channels: ["whatsapp"] });
    const foreign = await call("/channels/whatsapp/statuses", { roomId: body.roomId, sessionId: body.sessionId, seq: r2.seq, status: "read" }, otherChannel);
    assert.deepEqual(foreign, { status: 200, body: { applied: false } }, "a connector reports on its own channel's sessions only");
    await agent.leave();
  });

  it("a delivery the connector keeps refusing is retried, then shown to the agent as failed", async () => {
    const address = `+1777${Date.now() % 1e7}`;
    const { body } = await inbound(address, uniqueId("p"), "hello?");
    receiver.answer = (d) => (d.roomId === body.roomId ? 503 : 204);
    const agent = await agentIn(body.customerId);
    const { seq } = await agent.request("send", { id: "a1", text: "this will not arrive" });
    await waitFor(agent, () => sessionsOf(agent)[0].failedSeq === seq, 15_000, "the failure in the agent's state");
    const tries = receiver.attempts.filter((a) => a.id === `${body.roomId}:${seq}:${body.sessionId}`);
    assert.equal(tries.length, 3, "WEBHOOK_MAX_ATTEMPTS attempts");
    assert.equal(sessionsOf(agent)[0].failedReason, "gave_up");

    // the connector reports a later message delivered: the failure of the earlier one stays visible
    receiver.answer = () => 204;
    const next = await agent.request("send", { id: "a2", text: "second try" });
    await until(() => receiver.accepted.some((d) => d.roomId === body.roomId && d.data.seq === next.seq), 5_000, "the next delivery");
    await call("/channels/sms/statuses", { roomId: body.roomId, sessionId: body.sessionId, seq: next.seq, status: "delivered" });
    await waitFor(agent, () => sessionsOf(agent)[0].deliveredSeq === next.seq, 5_000, "delivered");
    assert.equal(sessionsOf(agent)[0].failedSeq, seq);
    await agent.leave();
  });

  it("a web customer continues on another channel in the same conversation once the app links the address", async () => {
    const customerId = uniqueId("web");
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await web.request("send", { id: "w1", text: "from the widget" });
    const address = `+1888${Date.now() % 1e7}`;
    const linked = await call(`/customers/${customerId}/channels`, { type: "sms", address }, app);
    assert.deepEqual(linked, { status: 200, body: { customerId, type: "sms", address } });
    const { body } = await inbound(address, uniqueId("p"), "now on my phone");
    assert.equal(body.customerId, customerId);
    const agent = await agentIn(customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 2, 5_000, "one transcript");
    const conversationId = agent.state.conversation.id;
    assert.equal(body.conversationId, conversationId);
    assert.deepEqual(sessionsOf(agent).map((s: any) => [s.type, s.via]).sort(), [["sms", "connector"], ["web", ""]]);
    const reply = await agent.request("send", { id: "a1", text: "answered everywhere" });
    await until(() => receiver.accepted.some((d) => d.roomId === body.roomId && d.data.seq === reply.seq), 5_000, "the delivery");
    await waitFor(web, () => web.state.conversation?.messages.some((m: any) => m.seq === reply.seq), 5_000, "the widget sees it");
    assert.equal(receiver.accepted.filter((d) => d.roomId === body.roomId).length, 1, "the SDK session gets no delivery");
    await web.leave();
    await agent.leave();
  });

  it("a failed delivery's detail reaches staff only: the customer's state holds a code, the agent a note", async () => {
    const customerId = uniqueId("web");
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const seen: string[] = [];
    web.onMessage("*", (type: unknown, payload: unknown) => { seen.push(JSON.stringify([type, payload])); });
    await web.request("send", { id: "w1", text: "from the widget" });
    const address = `+1444${Date.now() % 1e7}`;
    assert.equal((await call(`/customers/${customerId}/channels`, { type: "sms", address }, app)).status, 200);
    const { body } = await inbound(address, uniqueId("p"), "and by SMS");
    const agent = await agentIn(customerId);
    const smsOf = (room: any) => sessionsOf(room).find((s: any) => s.type === "sms");
    await waitFor(web, () => smsOf(web) !== undefined, 5_000, "the sms session in the customer's state");

    // the provider refuses the first answer: the connector reports it with the provider's own words
    const raw = "carrier 30007: filtered by upstream\nSMPP bind=acme-prod-7";
    const r1 = await agent.request("send", { id: "a1", text: "first answer" });
    await until(() => receiver.accepted.some((d) => d.roomId === body.roomId && d.data.seq === r1.seq), 5_000, "the delivery");
    const failed = { roomId: body.roomId, sessionId: body.sessionId, seq: r1.seq, status: "failed", reason: raw };
    assert.equal((await call("/channels/sms/statuses", failed)).status, 200);
    await waitFor(web, () => smsOf(web).failedSeq === r1.seq, 5_000, "the failure in the customer's state");
    assert.equal(smsOf(web).failedReason, "provider_rejected");
    assert.equal((await call("/channels/sms/statuses", failed)).status, 200, "a report sent twice");

    // the connector keeps refusing the second: the outbox gives up
    receiver.answer = (d) => (d.roomId === body.roomId ? 503 : 204);
    const r2 = await agent.request("send", { id: "a2", text: "second answer" });
    await waitFor(agent, () => smsOf(agent).failedSeq === r2.seq && agent.state.conversation.notes.length === 2, 15_000, "the second failure and its note");
    assert.equal(smsOf(agent).failedReason, "gave_up");
    assert.deepEqual([...agent.state.conversation.notes].map((n: any) => [n.kind, n.senderRole, n.text]), [
      ["note", "app", `Message ${r1.seq} was not delivered on sms to ${address}: provider_rejected (carrier 30007: filtered by upstream SMPP bind=acme-prod-7)`],
      ["note", "app", `Message ${r2.seq} was not delivered on sms to ${address}: gave_up (not accepted by the connector after 3 attempts)`],
    ], "one note per failed message, the report sent twice included");

    await waitFor(web, () => smsOf(web).failedSeq === r2.seq, 5_000, "the second failure in the customer's state");
    assert.equal(smsOf(web).failedReason, "gave_up");
    const history = await web.request("history", { limit: 200 });
    const customerSaw = [JSON.stringify(web.state.toJSON()), JSON.stringify(history), ...seen].join("\n");
    for (const secret of ["30007", "SMPP", "acme", "attempts", "not delivered"]) {
      assert.ok(!customerSaw.includes(secret), `the customer never sees ${secret}`);
    }
    assert.equal(web.state.conversation.notes?.length ?? 0, 0);
    await web.leave();
    await agent.leave();
  });

  it("a connector session ends after its channel's inactivity timer; the next message opens a new one", async () => {
    const address = `+1999${Date.now() % 1e7}`;
    const { body } = await inbound(address, uniqueId("p"), "anyone?");
    const agent = await agentIn(body.customerId);
    await waitFor(agent, () => sessionsOf(agent)[0]?.state === "ended", 10_000, "the session's end");
    const again = await inbound(address, uniqueId("p"), "back again");
    assert.notEqual(again.body.sessionId, body.sessionId);
    assert.equal(again.body.conversationId, body.conversationId, "the conversation goes on");
    await agent.leave();
  });

  it("a connector session ends with its conversation; the next message starts a new conversation with a new session", async () => {
    const address = `+1333${Date.now() % 1e7}`;
    const { body } = await inbound(address, uniqueId("p"), "first");
    const agent = await agentIn(body.customerId);
    await waitFor(agent, () => sessionsOf(agent).length === 1, 5_000, "the session");
    await agent.request("end", { reason: "resolved" });
    const { conversations } = await agent.request("conversations", {});
    const [ended] = conversations[0].channelSessions;
    assert.deepEqual([ended.id, ended.via, ended.state, ended.endedAt > 0], [body.sessionId, "connector", "ended", true]);
    const next = await inbound(address, uniqueId("p"), "new question");
    assert.notEqual(next.body.conversationId, body.conversationId);
    assert.notEqual(next.body.sessionId, body.sessionId);
    await agent.leave();
  });

  it("the permission rows: only connectors, for their channels; links by apps only; no rooms for connectors", async () => {
    const customer = await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" });
    const other = await signToken(TEST_SECRET, { sub: "wa", role: "connector", channels: ["whatsapp"] });
    const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
      ["a customer's token", inbound("x", "m", "t").then(() => call("/channels/sms/messages", { address: "x", messageId: "m", text: "t" }, customer)), 403, "forbidden"],
      ["another channel's connector", call("/channels/sms/messages", { address: "x", messageId: "m", text: "t" }, other), 403, "forbidden"],
      ["an app's token", call("/channels/sms/messages", { address: "x", messageId: "m", text: "t" }, app), 403, "forbidden"],
      ["a blank address", call("/channels/sms/messages", { address: " ", messageId: "m", text: "t" }), 400, "invalid_payload"],
      ["a blank text", call("/channels/sms/messages", { address: "+1", messageId: uniqueId("m"), text: "  " }), 400, "invalid_payload"],
      ["a bad status", call("/channels/sms/statuses", { roomId: "cc-x", sessionId: "chs-00000000-0000-0000-0000-000000000000", seq: 1, status: "lost" }), 400, "invalid_payload"],
      ["a link by a connector", call("/customers/c1/channels", { type: "sms", address: "+1" }), 403, "forbidden"],
    ];
    for (const [what, answer, status, code] of cases) {
      const { status: got, body } = await answer;
      assert.deepEqual([got, body.code], [status, code], what);
    }
    const joining = (await clientFor(server.url, { sub: "sms-connector", role: "connector" })).joinOrCreate("contact_center", { customerId: "c1" });
    await assert.rejects(joining, /forbidden/);
  });
});

describe("channel connector API on a Redis cluster", function () {
  this.timeout(60_000);
  let receiver: Receiver;
  const nodes: ServerProcess[] = [];
  let connector: string;
  let app: string;

  before(async () => {
    await flushTestDb();
    receiver = await startReceiver(CONNECTOR_SECRET);
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      nodes.push(await startServerProcess({
        REDIS_URL: REDIS_TEST_URL, PUBLIC_ADDRESS: `127.0.0.1:${port}`,
        CONNECTOR_URLS: `sms=${receiver.url}`, CONNECTOR_SECRET, WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_MS: "100",
      }, port));
    }
    connector = await signToken(TEST_SECRET, { sub: "sms-connector", role: "connector", channels: ["sms"] });
    app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
  });
  after(async () => { for (const node of nodes) { await node.stop(); } await receiver?.close(); });

  const call = async (node: ServerProcess, path: string, body: unknown, token = connector) => {
    const res = await fetch(`${node.url}/api${path}`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as any };
  };

  it("a message posted to one node reaches the actor on the other; the delivery status outlives the node", async () => {
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    const customerId = uniqueId("cl");
    const web = await (await clientFor(a.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await web.request("send", { id: "w1", text: "on the web, node A" });
    const address = `+1222${Date.now() % 1e7}`;
    assert.equal((await call(b, `/customers/${customerId}/channels`, { type: "sms", address }, app)).status, 200);
    const inbound = await call(b, "/channels/sms/messages", { address, messageId: uniqueId("p"), text: "by SMS, through node B" });
    assert.equal(inbound.status, 200, JSON.stringify(inbound.body));
    assert.deepEqual([inbound.body.seq, inbound.body.duplicate], [2, false]);
    await waitFor(web, () => web.state.conversation?.messages.length === 2, 5_000, "the actor on node A has it");

    const agentWho = { sub: uniqueId("agent"), role: "agent" as const, teams: ["support"] };
    const agent = await (await clientFor(b.url, agentWho)).joinOrCreate("contact_center", { customerId });
    const { seq } = await agent.request("send", { id: "a1", text: "answer" });
    await until(() => receiver.accepted.some((d) => d.roomId === `cc-${customerId}` && d.data.seq === seq), 10_000, "the delivery");
    assert.equal((await call(b, "/channels/sms/statuses", { roomId: `cc-${customerId}`, sessionId: inbound.body.sessionId, seq, status: "read" })).body.applied, true);
    await waitFor(agent, () => [...agent.state.conversation.channelSessions.values()].some((s: any) => s.readSeq === seq), 5_000, "read");

    // the actor's node goes away: a new actor on the other node resumes the session with its status
    await web.leave();
    await agent.leave();
    await a.stop();
    const again = await (await clientFor(b.url, agentWho)).joinOrCreate("contact_center", { customerId });
    await waitFor(again, () => (again.state.conversation?.channelSessions.size ?? 0) > 0, 5_000, "the resumed conversation");
    const sms: any = [...again.state.conversation.channelSessions.values()].find((s: any) => s.type === "sms");
    assert.deepEqual([sms.via, sms.state, sms.sentSeq, sms.deliveredSeq, sms.readSeq], ["connector", "active", seq, seq, seq]);
    const next = await again.request("send", { id: "a2", text: "still there?" });
    await until(() => receiver.accepted.some((d) => d.roomId === `cc-${customerId}` && d.data.seq === next.seq), 10_000, "delivered by the new actor");
    await again.leave();
  });
});
