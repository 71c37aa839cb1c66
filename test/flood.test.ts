import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { Room } from "@colyseus/sdk";
import { signToken } from "../server/auth";
import { cpuShare, cpuTicks, rssMb } from "./helpers/proc";
import { freshDatabase } from "./helpers/pg";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, ROOT, sleep, startServerProcess, TEST_SECRET, uniqueId, type ServerProcess } from "./helpers/server";

/**
 * LONG (about 35 s each): run on their own with `npx mocha test/flood.test.ts` or
 * `--grep flood`. Issue #11's "must show": an honest customer's send round trip stays
 * under 250 ms p99 while another user floods every request type at full speed, and
 * the server's memory stays bounded, on the embedded node and on a Redis-backed node.
 */

const FLOOD_SECONDS = 30;
const FLOOD_CONNECTIONS = 5;
/** RSS bounds of the server process: growth over its idle, joined baseline, and absolute. */
const MAX_RSS_GROWTH_MB = 300;
const MAX_RSS_MB = 700;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function floodRun(server: ServerProcess) {
  const honest = await (await clientFor(server.url, { sub: uniqueId("honest"), role: "customer" })).joinOrCreate("contact_center", {});
  await honest.request("send", { id: "warm", text: "hello" });
  await sleep(500);
  const baseline = rssMb(server.child.pid!);
  const cpuAtStart = cpuTicks(server.child.pid!);
  const startedAt = Date.now();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(server.child.pid!));
    // the machine is shared: a server past twice the bound has failed already
    if (peak > MAX_RSS_MB * 2) { server.child.kill("SIGKILL"); }
  }, 250);

  const token = await signToken(TEST_SECRET, { sub: uniqueId("flooder"), role: "customer" });
  // niced: on this 2-core machine a real attacker's CPU is not the server's; the
  // flooder still sends as fast as the server takes it
  const flooder = spawn("nice", ["-n", "15", process.execPath, "--import", "tsx", "test/helpers/flooder.ts", server.url, token, String(FLOOD_CONNECTIONS), String(FLOOD_SECONDS)], {
    cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
  });
  let flooderOut = "";
  flooder.stdout!.on("data", (d) => { flooderOut += d; });
  flooder.stderr!.on("data", (d) => { flooderOut += d; });
  const flooderDone = new Promise<void>((resolve) => flooder.once("exit", () => resolve()));

  const rtts: number[] = [];
  const failures: string[] = [];
  await sleep(1_000); // the flood is at full speed
  const end = Date.now() + (FLOOD_SECONDS - 2) * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const started = performance.now();
    try {
      await honest.request("send", { id: `h${i}`, text: `honest ${i}` });
      rtts.push(performance.now() - started);
    } catch (e: any) {
      failures.push(e?.reason?.code ?? e?.message);
    }
    await sleep(200); // 5 messages a second: within the send budget
  }
  await flooderDone;
  clearInterval(sampler);
  if (server.child.exitCode === null && server.child.signalCode === null) { peak = Math.max(peak, rssMb(server.child.pid!)); }
  const connected = honest.connection.isOpen;
  await honest.leave().catch(() => {});

  rtts.sort((a, b) => a - b);
  const stats = {
    samples: rtts.length, p50: Math.round(percentile(rtts, 50)), p99: Math.round(percentile(rtts, 99)), max: Math.round(rtts[rtts.length - 1]),
    serverCpu: cpuShare(server.child.pid!, cpuAtStart, startedAt), rssBaselineMb: Math.round(baseline), rssPeakMb: Math.round(peak), flooder: flooderOut.trim().slice(-1500),
  };
  console.log(`      flood: ${JSON.stringify(stats)}`);
  assert.deepEqual(failures, [], "every honest send is stored");
  assert.ok(connected, "the honest customer is still connected");
  assert.ok(rtts.length > (FLOOD_SECONDS - 3) * 4, `the honest client kept sending (${rtts.length})`);
  assert.ok(stats.p99 < 250, `honest send round trip p99 ${stats.p99} ms (p50 ${stats.p50} ms) under 250 ms`);
  assert.ok(peak - baseline < MAX_RSS_GROWTH_MB, `server RSS grew ${Math.round(peak - baseline)} MB (< ${MAX_RSS_GROWTH_MB} MB)`);
  assert.ok(peak < MAX_RSS_MB, `server RSS peaked at ${Math.round(peak)} MB (< ${MAX_RSS_MB} MB)`);
  assert.match(flooderOut, /rate_limited/, "the flooder was refused");
}

describe("flood (LONG, ~35 s each): an honest customer next to a user flooding every request type", function () {
  this.timeout(90_000);
  const servers: ServerProcess[] = [];
  let open: Room<any>[] = [];
  afterEach(async () => {
    await Promise.all(open.map((r) => r.leave().catch(() => {}))); open = [];
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it("flood: embedded node: honest send p99 < 250 ms, server RSS bounded", async () => {
    const server = await startServerProcess();
    servers.push(server);
    await floodRun(server);
  });

  it("flood: Redis-backed node: honest send p99 < 250 ms, server RSS bounded", async () => {
    await flushTestDb();
    const server = await startServerProcess({ REDIS_URL: REDIS_TEST_URL });
    servers.push(server);
    await floodRun(server);
  });

  it("flood: Redis presence + PostgreSQL store (the cluster's configuration): honest send p99 < 250 ms, server RSS bounded", async () => {
    await flushTestDb();
    const db = await freshDatabase("cc_flood_test");
    try {
      const server = await startServerProcess({ REDIS_URL: REDIS_TEST_URL, DATABASE_URL: db.url });
      servers.push(server);
      await floodRun(server);
    } finally {
      await Promise.all(servers.splice(0).map((s) => s.stop()));
      await db.drop();
    }
  });
});
