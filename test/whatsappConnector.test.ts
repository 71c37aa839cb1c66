import assert from "node:assert/strict";
import { startWhatsAppConnector, type WhatsAppConnector } from "../connectors/whatsapp";
import { signToken } from "../server/auth";
import { startConnectorProcess } from "./helpers/connectorProcess";
import { inboundValue, startFakeWhatsApp, statusValue, type FakeWhatsApp } from "./helpers/fakeWhatsApp";
import { clientFor, freePort, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

/**
 * The WhatsApp connector end to end (docs/channels.md): the server process, the
 * connector, and a local fake of the Cloud API (test/helpers/fakeWhatsApp.ts); the
 * web customer is a real SDK client.
 */
const CONNECTOR_SECRET = "connector-secret-for-the-tests-0123456789";
const APP_SECRET = "meta-app-secret";
const ACCESS_TOKEN = "EAAG-test-access-token";

describe("WhatsApp connector", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  let fake: FakeWhatsApp;
  let connector: WhatsAppConnector;
  let webhookUrl: string;
  let app: string;

  before(async () => {
    fake = await startFakeWhatsApp(ACCESS_TOKEN, APP_SECRET);
    const port = await freePort();
    server = await startServerProcess({
      CONNECTOR_URLS: `whatsapp=http://127.0.0.1:${port}/deliver`, CONNECTOR_SECRET, WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_MS: "100",
    });
    connector = await startWhatsAppConnector({
      apiUrl: server.url, authSecret: TEST_SECRET, connectorSecret: CONNECTOR_SECRET, httpPort: port,
      appSecret: APP_SECRET, verifyToken: "verify-me", graphUrl: fake.graphUrl, phoneNumberId: fake.phoneNumberId, accessToken: ACCESS_TOKEN,
    });
    webhookUrl = `http://127.0.0.1:${connector.port}/webhook`;
    app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
  });
  after(async () => { await connector?.close(); await server?.stop(); await fake?.close(); });
  beforeEach(() => { fake.answer = () => 200; });

  const phone = () => `1555${String(Date.now()).slice(-7)}${Math.floor(Math.random() * 10)}`;
  const sessionsOf = (room: any): any[] => [...(room.state.conversation?.channelSessions.values() ?? [])];
  const agentIn = async (customerId: string) =>
    (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: ["support"] })).joinOrCreate("contact_center", { customerId });
  const link = (customerId: string, address: string) => fetch(`${server.url}/api/customers/${customerId}/channels`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${app}` }, body: JSON.stringify({ type: "whatsapp", address }),
  });

  it("answers the webhook verification handshake, and refuses a webhook without the app's signature", async () => {
    const ok = await fetch(`${webhookUrl}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444`);
    assert.deepEqual([ok.status, await ok.text()], [200, "1158201444"]);
    const wrong = await fetch(`${webhookUrl}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    assert.equal(wrong.status, 403);
    const customerId = uniqueId("forged");
    const number = phone();
    await link(customerId, number);
    assert.equal(await fake.webhook(webhookUrl, inboundValue(fake.phoneNumberId, number, "wamid.forged", "hi"), "sha256=" + "0".repeat(64)), 401);
    const probe = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent" })).joinOrCreate("contact_center", { customerId }).catch((e) => e);
    assert.match(String(probe?.message), /room_not_found/, "nothing reached the server");
  });

  it("a web customer continues on WhatsApp: one conversation, two channel sessions, one transcript; the agent's answer goes to both", async () => {
    const customerId = uniqueId("web");
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer", name: "Wanda" })).joinOrCreate("contact_center", {});
    await web.request("send", { id: "w1", text: "hi from the website" });
    const number = phone();
    assert.equal((await link(customerId, number)).status, 200);
    assert.equal(await fake.webhook(webhookUrl, inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("in")}`, "now on WhatsApp", "Wanda W")), 200);

    const agent = await agentIn(customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 2, 5_000, "one transcript");
    assert.deepEqual(agent.state.conversation.messages.map((m: any) => [m.seq, m.senderId, m.text]),
      [[1, customerId, "hi from the website"], [2, customerId, "now on WhatsApp"]]);
    assert.deepEqual(sessionsOf(agent).map((s) => [s.type, s.via, s.state]).sort(), [["web", "", "active"], ["whatsapp", "connector", "active"]]);
    await waitFor(web, () => web.state.conversation?.messages.length === 2, 5_000, "the widget shows the WhatsApp message too");

    const { seq } = await agent.request("send", { id: "a1", text: "Hello on both channels" });
    await until(() => fake.sent.some((m) => m.to === number), 5_000, "the send to WhatsApp");
    const sent = fake.sent.find((m) => m.to === number)!;
    assert.equal(sent.text, "Hello on both channels");
    assert.deepEqual([sent.body.messaging_product, sent.body.recipient_type, sent.body.type], ["whatsapp", "individual", "text"]);
    await waitFor(web, () => web.state.conversation?.messages.some((m: any) => m.seq === seq), 5_000, "the widget");

    // statuses webhooks become the session's delivery status in the agent's state
    assert.equal(await fake.webhook(webhookUrl, statusValue(fake.phoneNumberId, sent, "sent")), 200);
    assert.equal(await fake.webhook(webhookUrl, statusValue(fake.phoneNumberId, sent, "delivered")), 200);
    await waitFor(agent, () => sessionsOf(agent).find((s) => s.type === "whatsapp")?.deliveredSeq === seq, 5_000, "delivered");
    assert.equal(await fake.webhook(webhookUrl, statusValue(fake.phoneNumberId, sent, "read")), 200);
    await waitFor(agent, () => sessionsOf(agent).find((s) => s.type === "whatsapp")?.readSeq === seq, 5_000, "read");
    await web.leave();
    await agent.leave();
  });

  it("runs as a process of its own (connectors/whatsapp/main.ts), configured by the environment", async () => {
    const port = await freePort();
    const proc = await startConnectorProcess("connectors/whatsapp/main.ts", {
      CONNECTOR_API_URL: server.url, AUTH_SECRET: TEST_SECRET, CONNECTOR_SECRET, WHATSAPP_HTTP_PORT: String(port), WHATSAPP_HTTP_HOST: "127.0.0.1",
      WHATSAPP_APP_SECRET: APP_SECRET, WHATSAPP_VERIFY_TOKEN: "proc-token", WHATSAPP_GRAPH_URL: fake.graphUrl,
      WHATSAPP_PHONE_NUMBER_ID: fake.phoneNumberId, WHATSAPP_ACCESS_TOKEN: ACCESS_TOKEN,
    });
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/webhook?hub.mode=subscribe&hub.verify_token=proc-token&hub.challenge=42`);
      assert.deepEqual([ok.status, await ok.text()], [200, "42"]);
      const customerId = uniqueId("proc");
      const number = phone();
      await link(customerId, number);
      assert.equal(await fake.webhook(`http://127.0.0.1:${port}/webhook`, inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("p")}`, "via the process")), 200);
      const agent = await agentIn(customerId);
      await waitFor(agent, () => agent.state.conversation?.messages[0]?.text === "via the process", 5_000, "the message through the process");
      await agent.leave();
    } finally {
      await proc.stop();
    }
  });

  it("a webhook the provider sends twice is stored once", async () => {
    const customerId = uniqueId("dup");
    const number = phone();
    await link(customerId, number);
    const value = inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("d")}`, "only once please");
    assert.equal(await fake.webhook(webhookUrl, value), 200);
    assert.equal(await fake.webhook(webhookUrl, value), 200);
    await fake.webhook(webhookUrl, inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("d")}`, "second"));
    const agent = await agentIn(customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 2, 5_000, "two messages");
    assert.deepEqual(agent.state.conversation.messages.map((m: any) => m.text), ["only once please", "second"]);
    await agent.leave();
  });

  it("a send the Cloud API keeps failing is retried, then shown failed; a failed status shows its error", async () => {
    const customerId = uniqueId("fail");
    const number = phone();
    await link(customerId, number);
    await fake.webhook(webhookUrl, inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("f")}`, "hello"));
    const agent = await agentIn(customerId);
    await waitFor(agent, () => sessionsOf(agent).length === 1, 5_000, "the session");
    fake.answer = (body) => (body.to === number ? 503 : 200);
    const { seq } = await agent.request("send", { id: "a1", text: "are you there?" });
    await waitFor(agent, () => sessionsOf(agent)[0].failedSeq === seq, 15_000, "shown failed");
    assert.equal(fake.attempts.filter((b) => b.to === number).length, 3, "WEBHOOK_MAX_ATTEMPTS attempts");
    assert.equal(sessionsOf(agent)[0].failedReason, "gave_up");
    const noteOf = (n: number) => [...agent.state.conversation.notes].map((m: any) => m.text).find((t: string) => t.startsWith(`Message ${n} `));
    await waitFor(agent, () => noteOf(seq) !== undefined, 5_000, "the staff note");
    assert.equal(noteOf(seq), `Message ${seq} was not delivered on whatsapp to ${number}: gave_up (not accepted by the connector after 3 attempts)`);

    // accepted by the API, then reported failed by a status webhook: the provider's error is shown to staff
    fake.answer = () => 200;
    const next = await agent.request("send", { id: "a2", text: "second try" });
    await until(() => fake.sent.some((m) => m.to === number), 5_000, "accepted");
    const sent = fake.sent.find((m) => m.to === number)!;
    await fake.webhook(webhookUrl, statusValue(fake.phoneNumberId, sent, "failed", [{ code: 131047, title: "Re-engagement message", error_data: { details: "more than 24 hours" } }]));
    await waitFor(agent, () => sessionsOf(agent)[0].failedSeq === next.seq, 5_000, "the status failure");
    assert.equal(sessionsOf(agent)[0].failedReason, "provider_rejected");
    await waitFor(agent, () => noteOf(next.seq) !== undefined, 5_000, "the staff note");
    assert.equal(noteOf(next.seq), `Message ${next.seq} was not delivered on whatsapp to ${number}: provider_rejected (131047: Re-engagement message: more than 24 hours)`);

    // a refusal for good (4xx) is not retried: shown failed after one attempt
    fake.answer = (body) => (body.to === number ? 400 : 200);
    const before = fake.attempts.length;
    const third = await agent.request("send", { id: "a3", text: "third" });
    await waitFor(agent, () => sessionsOf(agent)[0].failedSeq === third.seq, 5_000, "refused");
    assert.equal(fake.attempts.length - before, 1);
    assert.equal(sessionsOf(agent)[0].failedReason, "provider_rejected");
    await waitFor(agent, () => noteOf(third.seq) !== undefined, 5_000, "the staff note");
    assert.match(noteOf(third.seq)!, /provider_rejected \(131026/);
    await agent.leave();
  });
});
