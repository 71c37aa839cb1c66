import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { freePort, until } from "./server";

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILL: an outage, as when the host dies; the AOF keeps every acknowledged write */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGSTOP: a frozen Redis (connections stay open, nothing answers), as under a stalled host */
  freeze(): void;
  /** SIGCONT after freeze() */
  thaw(): void;
}

/**
 * A redis-server of the test's own on a free port, with `appendfsync always`, for
 * tests that stop or restart Redis (the machine's shared Redis must not be touched).
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-redis-"));
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
      "--appendfsync", "always", "--dir", dir,
    ], { stdio: "ignore" });
    await until(async () => {
      const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try { await probe.connect(); return (await probe.ping()) === "PONG"; } catch { return false; } finally { probe.disconnect(); }
    }, 10_000, `redis-server on ${port}`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) { return; }
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    kill,
    // a frozen server is thawed first: SIGKILL works on it, but its exit must not wait for a SIGCONT
    async stop() { if (child?.exitCode === null) { child.kill("SIGCONT"); } await kill(); fs.rmSync(dir, { recursive: true, force: true }); },
    freeze() { child?.kill("SIGSTOP"); },
    thaw() { child?.kill("SIGCONT"); },
  };
}
