import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { clientFor, ROOT, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

describe("examples/bot.ts, the sample bot on the SDK", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  let bot: ChildProcess;
  let botOut = "";

  before(async () => {
    server = await startServerProcess({ BOT_TEAMS: "support" });
    bot = spawn(process.execPath, ["--import", "tsx", "examples/bot.ts"], {
      cwd: ROOT, env: { ...process.env, SERVER_URL: server.url, AUTH_SECRET: TEST_SECRET, TEAM: "support", NODE_ENV: "test" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    bot.stdout!.on("data", (d) => { botOut += d; });
    bot.stderr!.on("data", (d) => { botOut += d; });
    await until(() => botOut.includes("is in team-support"), 15_000, `the bot to connect:\n${botOut}`);
  });
  after(async () => {
    bot?.kill("SIGKILL");
    await server?.stop();
  });

  it("greets and answers a customer, then hands over to an agent when asked", async () => {
    const customerId = uniqueId("cust");
    const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
    const agentDesk = await (await clientFor(server.url, { sub: uniqueId("ag"), role: "agent", teams: ["support"] })).joinOrCreate("team", { teamId: "support" });
    await customer.request("send", { id: "c1", text: "what are your opening hours?" });
    const fromBot = () => [...(customer.state.conversation?.messages ?? [])].filter((m: any) => m.senderRole === "bot").map((m: any) => m.text);
    await waitFor(customer, () => fromBot().length >= 2, 10_000, "the bot's greeting and answer").catch((e) => { throw new Error(`${e.message}\n${botOut}\n${server.output().split("\n").filter((l) => /error|warn|uncaught/i.test(l)).join("\n")}`); });
    assert.match(fromBot()[0], /help bot/);
    assert.match(fromBot()[1], /opening hours/);

    await customer.request("send", { id: "c2", text: "I want to talk to an agent" });
    await waitFor(agentDesk, () => [...agentDesk.state.requests.values()].some((r: any) => r.kind === "handover" && r.roomId === `cc-${customerId}`), 10_000, "the handover request");
    const events = (await customer.request("history", {})).messages.filter((m: any) => m.kind === "event");
    assert.equal(events.length, 1);
    assert.equal(events[0].senderRole, "bot");
    await customer.leave();
    await agentDesk.leave();
  });
});
