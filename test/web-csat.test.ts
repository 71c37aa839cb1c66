import assert from "node:assert/strict";
import http from "node:http";
import { signToken } from "../server/auth";
import { ChatConnection, ChatError } from "../client";
import { freePort, startServerProcess, TEST_SECRET, until, uniqueId, type ServerProcess } from "./helpers/server";

/**
 * CSAT, the server part the widget's rating needs, against a real server process:
 * the `csat` request of a customer room, validated and permitted like every request,
 * stored with the conversation, shown by `conversations` and the HTTP API, and
 * announced as a `conversation.rated` webhook.
 */
describe("web: CSAT answers (csat request, stored, in the API and the webhook)", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let hook: http.Server;
  const received: any[] = [];
  const token = (sub: string, role: string, teams: string[] = []) => signToken(TEST_SECRET, { sub, role: role as any, name: sub, teams });

  before(async () => {
    const hookPort = await freePort();
    hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => { body += d; });
      req.on("end", () => { received.push(JSON.parse(body)); res.end("ok"); });
    }).listen(hookPort, "127.0.0.1");
    server = await startServerProcess({ WEBHOOK_URLS: `http://127.0.0.1:${hookPort}/hook`, WEBHOOK_SECRET: "a-webhook-secret-for-tests-only" });
  });
  after(async () => { await server?.stop(); hook?.close(); });

  async function endedConversation() {
    const customerId = uniqueId("rater");
    const customer = await ChatConnection.join({ urls: [server.url], token: await token(customerId, "customer"), room: "contact_center", options: { channel: { type: "web" } } });
    await customer.send("my parcel is late");
    const agent = await ChatConnection.join({ urls: [server.url], token: await token(uniqueId("agent"), "agent", ["support"]), room: "contact_center", options: { customerId } });
    const conversationId = customer.state.conversation.id as string;
    await assert.rejects(customer.request("csat", { conversationId, rating: 5 }), (e: ChatError) => e.code === "conflict", "not while it is active");
    await agent.end("resolved");
    return { customer, agent, customerId, conversationId };
  }

  it("a customer rates an ended conversation: stored, listed, in the HTTP API and the webhook; a new answer replaces it", async () => {
    const { customer, agent, customerId, conversationId } = await endedConversation();
    const answer: any = await customer.request("csat", { conversationId, rating: 4, comment: "  quick\u0000 and kind  " });
    assert.equal(answer.rating, 4);
    const [listed] = (await customer.conversations({ limit: 5 })).conversations as any[];
    assert.equal(listed.id, conversationId);
    assert.deepEqual([listed.csat.rating, listed.csat.comment, listed.csat.by], [4, "  quick and kind  ", customerId], "the comment is normalised like every stored text (control characters go)");

    await customer.request("csat", { conversationId, rating: 5 });
    const app = await token("crm", "app");
    const api = await fetch(`${server.url}/api/rooms/cc-${customerId}/conversations`, { headers: { authorization: `Bearer ${app}` } });
    const { conversations } = await api.json() as any;
    assert.deepEqual([conversations[0].csat.rating, conversations[0].csat.comment], [5, ""]);

    await until(() => received.filter((e) => e.type === "conversation.rated" && e.conversationId === conversationId).length === 2, 15_000, "two conversation.rated webhooks");
    const rated = received.filter((e) => e.type === "conversation.rated" && e.conversationId === conversationId);
    assert.deepEqual(rated.map((e) => e.data.rating), [4, 5]);
    await customer.leave(); await agent.leave();
  });

  it("refuses ratings out of range, of unknown conversations, and from staff", async () => {
    const { customer, agent, conversationId } = await endedConversation();
    const code = (p: Promise<unknown>) => p.then(() => "ok", (e: ChatError) => e.code);
    assert.equal(await code(customer.request("csat", { conversationId, rating: 6 })), "invalid_payload");
    assert.equal(await code(customer.request("csat", { conversationId, rating: 0 })), "invalid_payload");
    assert.equal(await code(customer.request("csat", { conversationId, rating: 3.5 })), "invalid_payload");
    assert.equal(await code(customer.request("csat", { conversationId, rating: 3, comment: "x".repeat(1001) })), "invalid_payload");
    assert.equal(await code(customer.request("csat", { conversationId: "conv-nope", rating: 3 })), "unknown_conversation");
    assert.equal(await code(agent.request("csat", { conversationId, rating: 1 })), "forbidden");
    await customer.leave(); await agent.leave();
  });
});
