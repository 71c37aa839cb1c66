import assert from "node:assert/strict";
import { ChatConnection } from "../client";
import { signToken } from "../server/auth";
import { startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess } from "./helpers/server";

/** Join and leave lines in the transcript (TRANSCRIPT_JOIN_EVENTS), with the agents' display names. */
describe("web: join and leave events in the transcript", function () {
  this.timeout(60_000);
  const token = (sub: string, role: string, name = sub) => signToken(TEST_SECRET, { sub, role: role as any, name, teams: ["support"] });

  async function story(server: ServerProcess) {
    const customerId = uniqueId("cust");
    const customer = await ChatConnection.join({ urls: [server.url], token: await token(customerId, "customer"), room: "contact_center", options: { channel: { type: "web" } } });
    await customer.send("hello");
    const agentToken = await token(uniqueId("agent"), "agent", "Alice Agent");
    const agent = await ChatConnection.join({ urls: [server.url], token: agentToken, room: "contact_center", options: { customerId } });
    await agent.send("Hi, Alice here");
    // a second connection of the same agent (another tab) is no second join
    const again = await ChatConnection.join({ urls: [server.url], token: agentToken, room: "contact_center", options: { customerId } });
    await again.leave();
    await agent.leave();
    const events = async () => (await customer.history({ limit: 50 })).messages.filter((m) => m.kind === "event").map((m) => m.text);
    return { customer, events };
  }

  it("on: \"<name> joined\" when an agent joins, \"<name> left\" when its last connection leaves", async () => {
    const server = await startServerProcess({ TRANSCRIPT_JOIN_EVENTS: "true" });
    try {
      const { customer, events } = await story(server);
      await until(async () => (await events()).length === 2, 5_000, "two events");
      assert.deepEqual(await events(), ["Alice Agent joined the conversation", "Alice Agent left the conversation"]);
      await customer.leave();
    } finally { await server.stop(); }
  });

  it("off by default: the transcript holds only what people wrote", async () => {
    const server = await startServerProcess();
    try {
      const { customer, events } = await story(server);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await events(), []);
      await customer.leave();
    } finally { await server.stop(); }
  });
});
