import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "../loadtest/scenarios";
import { pin, unpin } from "../loadtest/targets";
import { ROOT } from "./helpers/server";

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
