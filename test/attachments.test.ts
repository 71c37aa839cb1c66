import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import { startWhatsAppConnector, type WhatsAppConnector } from "../connectors/whatsapp";
import { S3Storage } from "../server/attachments/storage";
import { signToken } from "../server/auth";
import { send } from "./helpers/http";
import { inboundValue, startFakeWhatsApp, type FakeWhatsApp } from "./helpers/fakeWhatsApp";
import { REDIS_TEST_URL, flushTestDb } from "./helpers/redis";
import { clientFor, freePort, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

/**
 * Attachments (docs/channels.md "Attachments") and rich messages against real server
 * processes: uploads with per-channel limits, messages carrying them, signed URLs only
 * for readers of the room, web -> agent, agent -> WhatsApp and WhatsApp -> agent through
 * the connector and a local fake of the Cloud API; the S3 storage of a cluster against
 * a local S3-compatible server (s3rver).
 */
const CONNECTOR_SECRET = "connector-secret-for-the-tests-0123456789";
const APP_SECRET = "meta-app-secret";
const ACCESS_TOKEN = "EAAG-test-access-token";
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(3000, 7)]);

const token = (who: Parameters<typeof signToken>[1]) => signToken(TEST_SECRET, who);
async function upload(url: string, roomId: string, bearer: string, type: string, body: Buffer, name = "photo.png") {
  const res = await fetch(`${url}/api/rooms/${roomId}/attachments?name=${encodeURIComponent(name)}`, {
    method: "POST", headers: { "content-type": type, authorization: `Bearer ${bearer}` }, body: new Uint8Array(body),
  });
  return { status: res.status, body: await res.json() as any };
}
async function urlOf(url: string, roomId: string, id: string, bearer: string) {
  const res = await fetch(`${url}/api/rooms/${roomId}/attachments/${id}`, { headers: { authorization: `Bearer ${bearer}` } });
  return { status: res.status, body: await res.json() as any };
}

describe("attachments and rich messages", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  let fake: FakeWhatsApp;
  let connector: WhatsAppConnector;
  let webhookUrl: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cc-attachments-"));
    fake = await startFakeWhatsApp(ACCESS_TOKEN, APP_SECRET);
    const [port, connectorPort] = [await freePort(), await freePort()];
    server = await startServerProcess({
      ATTACHMENTS_STORAGE: `disk:${dir}`, PUBLIC_URL: `http://127.0.0.1:${port}`, AGENT_TEAM_SCOPED: "true",
      CONNECTOR_URLS: `whatsapp=http://127.0.0.1:${connectorPort}/deliver`, CONNECTOR_SECRET, WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_MS: "100",
    }, port);
    connector = await startWhatsAppConnector({
      apiUrl: server.url, authSecret: TEST_SECRET, connectorSecret: CONNECTOR_SECRET, httpPort: connectorPort,
      appSecret: APP_SECRET, verifyToken: "v", graphUrl: fake.graphUrl, phoneNumberId: fake.phoneNumberId, accessToken: ACCESS_TOKEN,
    });
    webhookUrl = `http://127.0.0.1:${connector.port}/webhook`;
  });
  after(async () => {
    await connector?.close(); await server?.stop(); await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const agentIn = async (customerId: string, teams = ["support"]) =>
    (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams })).joinOrCreate("contact_center", { customerId });

  it("web -> agent: a customer's upload in a message; the agent fetches it by its signed URL", async () => {
    const customerId = uniqueId("web");
    const customerToken = await token({ sub: customerId, role: "customer" });
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const up = await upload(server.url, `cc-${customerId}`, customerToken, "image/png", PNG, "../../etc/my photo.png");
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual([up.body.name, up.body.type, up.body.size], ["my photo.png", "image/png", PNG.length]);
    await web.request("send", { id: "w1", text: "", attachments: [up.body.id] });

    const agent = await agentIn(customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 1, 5_000, "the message");
    const [message] = agent.state.conversation.messages;
    assert.deepEqual(message.attachments.map((a: any) => [a.id, a.name, a.type, a.size]), [[up.body.id, "my photo.png", "image/png", PNG.length]]);
    const agentToken = await token({ sub: uniqueId("agent"), role: "agent", teams: ["support"] });
    const link = await urlOf(server.url, `cc-${customerId}`, up.body.id, agentToken);
    assert.equal(link.status, 200);
    assert.ok(link.body.expiresAt - Date.now() <= 300_000 + 1_000, "short-lived");
    const file = await fetch(link.body.url);
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);
    assert.equal(file.headers.get("content-type"), "image/png");
    assert.match(file.headers.get("content-disposition")!, /^attachment; filename\*=UTF-8''my%20photo\.png$/);
    assert.equal(file.headers.get("x-content-type-options"), "nosniff");
    await web.leave();
    await agent.leave();
  });

  it("a forbidden reader gets no URL; a tampered or foreign link serves nothing; limits per channel", async () => {
    const customerId = uniqueId("c");
    const customerToken = await token({ sub: customerId, role: "customer" });
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const up = await upload(server.url, `cc-${customerId}`, customerToken, "image/png", PNG);
    const roomId = `cc-${customerId}`;
    const refused: [string, string][] = [
      ["another customer", await token({ sub: uniqueId("other"), role: "customer" })],
      ["an agent of another team (AGENT_TEAM_SCOPED)", await token({ sub: uniqueId("ag"), role: "agent", teams: ["sales"] })],
      ["a connector", await token({ sub: "wa", role: "connector", channels: ["whatsapp"] })],
    ];
    for (const [who, bearer] of refused) {
      const answer = await urlOf(server.url, roomId, up.body.id, bearer);
      assert.deepEqual([answer.status, answer.body.code, answer.body.url], [403, "forbidden", undefined], who);
      assert.equal((await upload(server.url, roomId, bearer, "image/png", PNG)).status, 403, `${who} uploads`);
    }
    const app = await urlOf(server.url, roomId, up.body.id, await token({ sub: "crm", role: "app" }));
    assert.equal(app.status, 200, "apps read customer rooms");
    const good = new URL(app.body.url);
    const tampered = new URL(good); tampered.searchParams.set("exp", String(Number(good.searchParams.get("exp")) + 3600));
    assert.equal((await fetch(tampered)).status, 403, "a longer life is not ours");
    const unsigned = new URL(good); unsigned.search = "";
    assert.equal((await fetch(unsigned)).status, 403);
    const otherRoom = new URL(good); otherRoom.pathname = good.pathname.replace(roomId, `cc-${uniqueId("x")}`);
    assert.equal((await fetch(otherRoom)).status, 403, "a signature names its room");

    // someone else's upload cannot be sent, nor an unknown one
    const other = await (await clientFor(server.url, { sub: uniqueId("c2"), role: "customer" })).joinOrCreate("contact_center", {});
    await assert.rejects(other.request("send", { id: "x", text: "mine?", attachments: [up.body.id] }), (e: any) => e.reason?.code === "invalid_payload");
    // the web's limits: types and sizes
    const exe = await upload(server.url, roomId, customerToken, "application/x-msdownload", Buffer.from("MZ"), "a.exe");
    assert.deepEqual([exe.status, exe.body.code], [400, "invalid_payload"]);
    const big = await upload(server.url, roomId, customerToken, "text/plain", Buffer.alloc(1024 * 1024 + 1, 97), "big.txt");
    assert.deepEqual([big.status, big.body.code], [413, "payload_too_large"]);
    const huge = await send(server.url, "POST", `/api/rooms/${roomId}/attachments`, {
      headers: { "content-type": "application/pdf", "content-length": String(200 * 1024 * 1024), authorization: `Bearer ${customerToken}` },
      total: 200 * 1024 * 1024, chunk: 256 * 1024,
    });
    assert.equal(huge.status, 413, "a declared length over every channel's limit is refused");
    assert.ok(huge.sent < 50 * 1024 * 1024, `refused before it was read (${huge.sent} bytes sent)`);
    await web.leave();
    await other.leave();
  });

  it("agent -> WhatsApp: the file goes out by its link, which the provider fetches; WhatsApp -> agent: the customer's photo", async () => {
    const customerId = uniqueId("wa");
    const number = `1444${String(Date.now()).slice(-7)}`;
    await fetch(`${server.url}/api/customers/${customerId}/channels`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await token({ sub: "crm", role: "app" })}` },
      body: JSON.stringify({ type: "whatsapp", address: number }),
    });
    const mediaId = fake.addMedia("image/jpeg", PNG);
    const value: any = inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("m")}`, "");
    value.messages[0] = { from: number, id: value.messages[0].id, type: "image", image: { id: mediaId, mime_type: "image/jpeg", caption: "the broken part" } };
    assert.equal(await fake.webhook(webhookUrl, value), 200);

    const agentWho = { sub: uniqueId("agent"), role: "agent" as const, teams: ["support"] };
    const agent = await (await clientFor(server.url, agentWho)).joinOrCreate("contact_center", { customerId });
    await waitFor(agent, () => agent.state.conversation?.messages.length === 1, 5_000, "the photo");
    const [photo] = agent.state.conversation.messages;
    assert.equal(photo.text, "the broken part");
    assert.deepEqual(photo.attachments.map((a: any) => a.type), ["image/jpeg"]);
    const link = await urlOf(server.url, `cc-${customerId}`, photo.attachments[0].id, await token(agentWho));
    assert.deepEqual(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()), PNG);

    const manual = Buffer.from("%PDF-1.4 the manual");
    const up = await upload(server.url, `cc-${customerId}`, await token(agentWho), "application/pdf", manual, "manual.pdf");
    assert.equal(up.status, 200, JSON.stringify(up.body));
    await agent.request("send", { id: "a1", text: "Here is the manual", attachments: [up.body.id] });
    await until(() => fake.sent.filter((m) => m.to === number).length === 2, 5_000, "text and document");
    const [text, document] = fake.sent.filter((m) => m.to === number);
    assert.deepEqual([text!.type, text!.text], ["text", "Here is the manual"]);
    assert.deepEqual([document!.type, document!.body.document.filename], ["document", "manual.pdf"]);
    assert.deepEqual([document!.fetched!.status, document!.fetched!.type], [200, "application/pdf"]);
    assert.deepEqual(document!.fetched!.bytes, manual);
    await agent.leave();
  });

  it("erasing a customer removes their files from the storage", async () => {
    const customerId = uniqueId("gone");
    const customerToken = await token({ sub: customerId, role: "customer" });
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const up = await upload(server.url, `cc-${customerId}`, customerToken, "image/png", PNG);
    await web.request("send", { id: "w1", text: "my passport", attachments: [up.body.id] });
    const app = await token({ sub: "crm", role: "app" });
    const link = await urlOf(server.url, `cc-${customerId}`, up.body.id, app);
    assert.equal((await fetch(link.body.url)).status, 200);
    const res = await fetch(`${server.url}/api/customers/${customerId}`, { method: "DELETE", headers: { authorization: `Bearer ${app}` } });
    const body = await res.json() as any;
    assert.deepEqual([res.status, body.erased.attachments], [200, 1], JSON.stringify(body));
    assert.equal((await fetch(link.body.url)).status, 404, "a link handed out before is dead");
    assert.deepEqual(readdirSync(dir).filter((d) => d === `cc-${customerId}`).flatMap((d) => readdirSync(path.join(dir, d))), []);
  });

  it("rich messages: quick replies as WhatsApp buttons, as text where they do not fit, and in the widget's state", async () => {
    const customerId = uniqueId("rich");
    const number = `1333${String(Date.now()).slice(-7)}`;
    const web = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    await web.request("send", { id: "w1", text: "hello" });
    await fetch(`${server.url}/api/customers/${customerId}/channels`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await token({ sub: "crm", role: "app" })}` },
      body: JSON.stringify({ type: "whatsapp", address: number }),
    });
    await fake.webhook(webhookUrl, inboundValue(fake.phoneNumberId, number, `wamid.${uniqueId("m")}`, "and from my phone"));
    const agent = await agentIn(customerId);
    await waitFor(agent, () => agent.state.conversation?.messages.length === 2, 5_000, "both");
    const two = { quickReplies: [{ id: "yes", title: "Yes" }, { id: "no", title: "No" }] };
    await agent.request("send", { id: "q1", text: "Did that help?", rich: two });
    await until(() => fake.sent.some((m) => m.to === number), 5_000, "the buttons");
    const buttons = fake.sent.find((m) => m.to === number)!;
    assert.equal(buttons.type, "interactive");
    assert.deepEqual(buttons.body.interactive.action.buttons.map((b: any) => [b.reply.id, b.reply.title]), [["yes", "Yes"], ["no", "No"]]);
    await waitFor(web, () => web.state.conversation?.messages.some((m: any) => m.rich), 5_000, "the widget");
    assert.deepEqual(JSON.parse(web.state.conversation.messages.find((m: any) => m.rich).rich), two);

    const card = { cards: [{ title: "Order 17", subtitle: "Shipped", buttons: [{ id: "track", title: "Track", url: "https://shop.example/17" }] }] };
    await agent.request("send", { id: "q2", text: "Your order:", rich: card });
    await until(() => fake.sent.filter((m) => m.to === number).length === 2, 5_000, "the fallback");
    assert.equal(fake.sent.filter((m) => m.to === number)[1]!.text, "Your order:\n\nOrder 17\nShipped\nTrack: https://shop.example/17");
    await assert.rejects(agent.request("send", { id: "q3", text: "x", rich: { quickReplies: [{ id: "a", title: "x".repeat(21) }] } }),
      (e: any) => e.reason?.code === "invalid_payload");
    await assert.rejects(agent.request("send", { id: "q4", text: "x", rich: { cards: [{ title: "t", imageUrl: "javascript:alert(1)" }] } }),
      (e: any) => e.reason?.code === "invalid_payload");
    await web.leave();
    await agent.leave();
  });
});

describe("attachments in an S3-compatible bucket (a cluster)", function () {
  this.timeout(40_000);
  let s3: S3rver;
  let s3Endpoint: string;
  let dir: string;
  const nodes: ServerProcess[] = [];

  before(async () => {
    await flushTestDb();
    dir = mkdtempSync(path.join(tmpdir(), "cc-s3rver-"));
    const port = await freePort();
    s3Endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3rver({ port, address: "127.0.0.1", silent: true, directory: dir, configureBuckets: [{ name: "cc-attachments", configs: [] }] });
    await s3.run();
    for (let i = 0; i < 2; i++) {
      const nodePort = await freePort();
      nodes.push(await startServerProcess({
        REDIS_URL: REDIS_TEST_URL, PUBLIC_ADDRESS: `127.0.0.1:${nodePort}`,
        ATTACHMENTS_STORAGE: "s3://cc-attachments", S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_FORCE_PATH_STYLE: "true",
        S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER", ATTACHMENT_URL_SECRET: "one-secret-for-the-whole-cluster",
      }, nodePort));
    }
  });
  after(async () => {
    for (const node of nodes) { await node.stop(); }
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores, lists and removes objects in the bucket (the erasure's calls)", async () => {
    const storage = new S3Storage({ bucket: "cc-attachments", endpoint: s3Endpoint, region: "us-east-1", accessKeyId: "S3RVER", secretAccessKey: "S3RVER", forcePathStyle: true });
    const room = `cc-${uniqueId("b")}`;
    await storage.put(`${room}/att-1`, PNG, "image/png");
    await storage.put(`${room}/att-1.json`, Buffer.from("{}"), "application/json");
    assert.deepEqual((await storage.list(room)).sort(), [`${room}/att-1`, `${room}/att-1.json`]);
    assert.deepEqual(await storage.get(`${room}/att-1`), PNG);
    await storage.remove([`${room}/att-1`, `${room}/att-1.json`, `${room}/never-there`]);
    assert.deepEqual(await storage.list(room), []);
    assert.equal(await storage.get(`${room}/att-1`), null);
  });

  it("a file uploaded through one node is served, by a signed URL, through the other", async () => {
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    const customerId = uniqueId("s3");
    const web = await (await clientFor(a.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    const up = await upload(a.url, `cc-${customerId}`, await token({ sub: customerId, role: "customer" }), "image/png", PNG);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    await web.request("send", { id: "w1", text: "see picture", attachments: [up.body.id] });
    const agentWho = { sub: uniqueId("agent"), role: "agent" as const, teams: ["support"] };
    const link = await urlOf(b.url, `cc-${customerId}`, up.body.id, await token(agentWho));
    assert.equal(link.status, 200, JSON.stringify(link.body));
    assert.ok(link.body.url.startsWith(b.url), "the URL names the node that signed it");
    const file = await fetch(link.body.url);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);
    // the bytes are in the bucket, not on either node
    const agent = await (await clientFor(b.url, agentWho)).joinOrCreate("contact_center", { customerId });
    await waitFor(agent, () => agent.state.conversation?.messages[0]?.attachments.length === 1, 5_000, "the reference");
    await web.leave();
    await agent.leave();
  });
});
