import assert from "node:assert/strict";
import { ChatConnection, ChatError } from "../client";
import { checkWrapUp, wrapUpReasonsFor } from "../desk/wrapUp";
import { loadConfig } from "../server/config";
import { signToken } from "../server/auth";
import { startServerProcess, TEST_SECRET, uniqueId, type ServerProcess } from "./helpers/server";

const code = (p: Promise<unknown>) => p.then(() => "ok", (e: ChatError) => e.code);

describe("web: wrap-up reasons per team (WRAP_UP_REASONS, WRAP_UP_REQUIRED)", function () {
  this.timeout(60_000);

  it("parses the per-team lists and applies them (pure rules)", () => {
    const config = loadConfig({ NODE_ENV: "test", AUTH_SECRET: TEST_SECRET, WRAP_UP_REASONS: "support=resolved|spam; *=done", WRAP_UP_REQUIRED: "true" } as any);
    assert.deepEqual(wrapUpReasonsFor(config, "support"), ["resolved", "spam"]);
    assert.deepEqual(wrapUpReasonsFor(config, undefined), ["resolved", "spam"], "no team: DEFAULT_TEAM's list");
    assert.deepEqual(wrapUpReasonsFor(config, "sales"), ["done"]);
    assert.doesNotThrow(() => checkWrapUp(config, "support", "spam"));
    assert.throws(() => checkWrapUp(config, "support", "done"), { code: "invalid_payload" });
    assert.throws(() => checkWrapUp(config, "support", undefined), { code: "invalid_payload" });
    const optional = { ...config, wrapUpRequired: false };
    assert.doesNotThrow(() => checkWrapUp(optional, "support", "anything at all"));
    for (const bad of ["support", "=a", "support=", "bad team=a"]) {
      assert.throws(() => loadConfig({ NODE_ENV: "test", AUTH_SECRET: TEST_SECRET, WRAP_UP_REASONS: bad } as any), /WRAP_UP_REASONS/);
    }
  });

  describe("against a server that requires them", () => {
    let server: ServerProcess;
    before(async () => { server = await startServerProcess({ WRAP_UP_REASONS: "support=resolved|follow-up needed", WRAP_UP_REQUIRED: "true" }); });
    after(async () => { await server?.stop(); });
    const token = (sub: string, role: string) => signToken(TEST_SECRET, { sub, role: role as any, name: sub, teams: ["support"] });

    it("the team room answers its reasons; an end must name one of them", async () => {
      const agentId = uniqueId("wrapper");
      const desk = await ChatConnection.join({ urls: [server.url], token: await token(agentId, "agent"), room: "team", options: { teamId: "support" } });
      assert.deepEqual(await desk.request("wrap_up_reasons", {}), { reasons: ["resolved", "follow-up needed"], required: true });
      const customerId = uniqueId("cust");
      const customer = await ChatConnection.join({ urls: [server.url], token: await token(customerId, "customer"), room: "contact_center", options: { channel: { type: "web" } } });
      await customer.send("hello");
      const agent = await ChatConnection.join({ urls: [server.url], token: await token(agentId, "agent"), room: "contact_center", options: { customerId } });
      assert.equal(await code(agent.end()), "invalid_payload");
      assert.equal(await code(agent.end("because")), "invalid_payload");
      assert.equal(await code(agent.end("follow-up needed")), "ok");
      const [ended] = (await customer.conversations({ limit: 1 })).conversations;
      assert.equal(ended.endReason, "follow-up needed");
      await Promise.all([desk.leave(), customer.leave(), agent.leave()]);
    });
  });
});
