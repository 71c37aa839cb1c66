import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
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
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
