import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { signToken } from "../server/auth";
import { join, now, type Conn, type Delivered } from "../loadtest/drivers";
import { parseArgs } from "../loadtest/scenarios";
import { pin, unpin } from "../loadtest/targets";
import { ROOT, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess } from "./helpers/server";

const run = promisify(execFile);

/** Keeps the load harness working: its `smoke` scenario, as a child process, end to end. */
describe("load harness: smoke scenario", function () {
  this.timeout(90_000);

  it("drives the server and both baselines, and loses no acknowledged message", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-loadtest-"));
    const out = path.join(dir, "smoke.json");
    try {
      await run(process.execPath, ["--import", "tsx", "loadtest/index.ts", "smoke", "--quiet", "--out", out], {
        cwd: ROOT, timeout: 80_000, env: { ...process.env },
      });
      const result = JSON.parse(fs.readFileSync(out, "utf8"));
      const [chat, wsRelay, colyseusRelay] = result.repeats[0];
      assert.equal(chat.target, "chat-embedded");
      assert.ok(chat.totals.delivered > 0, "messages were delivered");
      assert.ok(chat.totals.acked > 0, "messages were acknowledged");
      assert.ok(chat.latencyMs.delivery.count > 0 && chat.latencyMs.delivery.p99 > 0, "delivery latency was measured");
      assert.ok(chat.verify, "the acknowledged messages were verified");
      assert.equal(chat.verify.acked, chat.totals.acked, "every acknowledged message was checked");
      assert.equal(chat.verify.lost, 0, `no acknowledged message lost: ${chat.verify.examples.join("; ")}`);
      assert.equal(chat.verify.seqMismatch, 0);
      assert.equal(chat.totals.joinFailures, 0);
      assert.ok(wsRelay.totals.delivered > 0 && colyseusRelay.totals.delivered > 0, "the baselines ran");
      assert.ok(fs.existsSync(result.chart), "the chart was written");
      assert.ok(chat.generator.rssMaxMB > 0 && chat.series.some((p: any) => p.genLoopP99Ms > 0), "the generator's own RSS and event-loop delay were sampled");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("load harness: the chat driver is the client library", function () {
  this.timeout(30_000);
  let server: ServerProcess;
  before(async () => { server = await startServerProcess({}); });
  after(async () => { await server?.stop(); });

  const connect = async (role: "customer" | "agent", userId: string, customerId: string) =>
    join({ target: "chat", url: server.url, urls: [server.url], token: await signToken(TEST_SECRET, { sub: userId, role, name: userId }), userId, role, customerId });
  const record = (conn: Conn) => {
    const got: Array<Delivered & { catchupBefore: number }> = [];
    conn.onDelivered = (m, catchupBefore) => got.push({ ...m, catchupBefore });
    return got;
  };

  it("delivers the other side's messages once (not the join's window, not one's own); a drop rejoins through the library and what it made late is marked", async () => {
    const customerId = uniqueId("ltc");
    const customer = await connect("customer", customerId, customerId);
    const toCustomer = record(customer);
    const before = now();
    assert.deepEqual(await customer.send("m0", "lt:0:before the agent", before).then((r) => r.since), before);
    const agent = await connect("agent", uniqueId("lta"), customerId);
    const toAgent = record(agent);
    let rejoined = 0;
    agent.onReconnected = () => { rejoined++; };
    const t1 = now();
    const { seq: seq1, since } = await customer.send("m1", `lt:${t1}:live`, t1);
    assert.equal(since, t1, "answered at the first attempt: timed from it");
    await until(() => toAgent.length === 1, 5_000, "the live message");
    assert.deepEqual(toAgent.map((m) => [m.id, m.seq, m.catchupBefore]), [["m1", seq1, 0]], "m0 was in the agent's join window: not a delivery");
    await agent.send("a1", "lt:0:to the customer", now());
    await until(() => toCustomer.length === 1, 5_000, "the agent's message");
    assert.deepEqual(toCustomer.map((m) => m.id), ["a1"], "one's own messages are not deliveries");

    // the agent's socket drops; the customer's message goes out before its rejoin can
    assert.equal(agent.drop(), true);
    const t2 = now();
    const { seq: seq2 } = await customer.send("m2", `lt:${t2}:while the agent is away`, t2);
    await until(() => rejoined === 1 && toAgent.length === 2, 10_000, "the agent's rejoin and catch-up");
    assert.ok(agent.isOpen());
    assert.deepEqual(toAgent.map((m) => [m.id, m.seq]), [["m1", seq1], ["m2", seq2]], "once, in seq order");
    assert.ok(toAgent[1].catchupBefore > t2, "sent before the rejoin, delivered after it: the worker does not time it");
    assert.equal(agent.lastSeq, seq2);
    await Promise.all([customer.leave(), agent.leave()]);
    assert.ok(customer.dead && agent.dead);
  });
});

describe("load harness: CPU pinning (--server-cpus, --generator-cpus)", () => {
  const allowed = (pid: number) => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];

  it("pins a process to a CPU list and gives it its old list back", async function () {
    if (os.cpus().length < 2) { this.skip(); }
    const child = spawn("sleep", ["30"]);
    try {
      const original = allowed(child.pid!);
      const before = await pin([child.pid!], "1");
      assert.equal(allowed(child.pid!), "1");
      await unpin(before);
      assert.equal(allowed(child.pid!), original);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("refuses a CPU list that is not one", () => {
    assert.throws(() => parseArgs(["ramp", "--server-cpus", "one"]), /needs a CPU list/);
    assert.equal(parseArgs(["ramp", "--server-cpus", "1", "--generator-cpus", "0"]).serverCpus, "1");
  });
});
