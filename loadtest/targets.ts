/**
 * The servers a run drives: a chat node the harness starts (embedded or Redis-backed),
 * the two baselines (bare `ws` relay, bare Colyseus relay room), a PM2 cluster the
 * harness starts under its own PM2_HOME, or an external URL list. Every process
 * started here is stopped by `stop()` (SIGTERM, then SIGKILL after a deadline).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, portsFree } from "../server/ports";
import type { TargetKind } from "./drivers";


const run = promisify(execFile);
export const ROOT = path.resolve(__dirname, "..");

export interface Target {
  /** label in reports: chat-embedded, chat-redis, pm2, external, ws-relay, colyseus-relay */
  name: string;
  kind: TargetKind;
  urls: string[];
  /** server processes to sample (CPU, RSS) */
  pids: () => number[];
  /** GET /metrics of the chat server, for the event-loop delay (null for the baselines) */
  metricsUrls: string[];
  stop(): Promise<void>;
}


/** Starts `node --import tsx <script>` and waits until `readyUrl` answers 200 (or its `"msg":"listening"` line). */
async function startProcess(script: string, env: Record<string, string>, readyUrl: string, nodeArgs: string[] = []): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer) => { out += d; if (out.length > 200_000) { out = out.slice(-100_000); } };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`${script} did not start in time:\n${out}`)); }, 20_000);
    let ready = false;
    const done = () => { if (!ready) { ready = true; clearTimeout(timer); clearInterval(poll); resolve(); } };
    // the server logs "listening" at info level only; with LOG_LEVEL=warn its /health answers
    const poll = setInterval(() => {
      fetch(readyUrl, { signal: AbortSignal.timeout(1_000) }).then((r) => { if (r.status === 200) { done(); } }, () => {});
    }, 200);
    child.stdout!.on("data", () => { if (/"msg":"listening"/.test(out)) { done(); } });
    child.once("exit", (code) => { clearTimeout(timer); clearInterval(poll); if (!ready) { reject(new Error(`${script} exited with ${code}:\n${out}`)); } });
  });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) { return; }
      child.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      if (!killed) { child.kill("SIGKILL"); await exited; }
    },
  };
}

export interface ChatOptions {
  secret: string;
  idleMs: number;
  redisUrl?: string;
  /** the store (--target postgres); else memory, or Redis with redisUrl */
  databaseUrl?: string;
  logLevel: string;
  cpuProfDir?: string;
  extraEnv?: Record<string, string>;
}

function chatEnv(o: ChatOptions, port: number): Record<string, string> {
  return {
    NODE_ENV: "production",
    AUTH_SECRET: o.secret,
    CONVERSATION_IDLE_MS: String(o.idleMs),
    LOG_LEVEL: o.logLevel,
    PORT: String(port),
    PUBLIC_ADDRESS: `127.0.0.1:${port}`,
    REDIS_URL: o.redisUrl ?? "",
    // the embedded target stays the in-memory node it has always measured (DATABASE_URL
    // overrides); a Redis target keeps its rooms in Redis (docs/storage.md)
    DATABASE_URL: o.databaseUrl ?? process.env.DATABASE_URL ?? (o.redisUrl ? "" : "memory:"),
    // one generator identity joins hundreds of rooms (agents, the final verification):
    // the per-user join and room limits are for people, not for the harness
    JOINS_PER_SECOND: "100000",
    MAX_ROOMS_PER_AGENT: "100000",
    // likewise the per-user request budgets (docs/security.md): shared by all of one
    // identity's connections, they would throttle the generator's agents and verifier
    MESSAGES_PER_SECOND: "100000",
    MESSAGES_BURST: "100000",
    SIGNALS_PER_SECOND: "100000",
    QUERIES_PER_SECOND: "100000",
    DESK_ACTIONS_PER_SECOND: "100000",
    ...o.extraEnv,
  };
}

/** One chat node (server/index.ts) in its own process: embedded, or Redis-backed with `redisUrl`. */
export async function startChat(o: ChatOptions): Promise<Target> {
  const port = await freePort();
  const nodeArgs = o.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", o.cpuProfDir] : [];
  const url = `http://127.0.0.1:${port}`;
  const p = await startProcess("server/index.ts", chatEnv(o, port), `${url}/health`, nodeArgs);
  return { name: o.databaseUrl?.startsWith("postgres") ? "chat-postgres" : o.redisUrl ? "chat-redis" : "chat-embedded", kind: "chat", urls: [url], pids: () => [p.child.pid!], metricsUrls: [`${url}/metrics`], stop: p.stop };
}

export async function startRelay(kind: "ws-relay" | "colyseus-relay"): Promise<Target> {
  const port = await freePort();
  const script = kind === "ws-relay" ? "loadtest/relay/wsRelay.ts" : "loadtest/relay/colyseusRelay.ts";
  const p = await startProcess(script, { PORT: String(port) }, `http://127.0.0.1:${port}/health-of-a-relay`);
  return { name: kind, kind, urls: [`http://127.0.0.1:${port}`], pids: () => [p.child.pid!], metricsUrls: [], stop: p.stop };
}

/**
 * The PM2 cluster of ecosystem.config.js (`npm run cluster`), under a PM2_HOME of
 * the harness' own so it never touches another PM2 daemon, on ports base..base+n-1.
 */
export async function startPm2(o: ChatOptions, instances: number, basePort = 2567): Promise<Target> {
  if (!(await portsFree(basePort, instances))) { basePort = await freePort(); }
  if (!(await portsFree(basePort, instances))) { throw new Error(`ports ${basePort}..${basePort + instances - 1} are not free`); }
  const pm2Home = `/tmp/cc-loadtest-pm2-${process.pid}`;
  const env = {
    ...process.env, ...chatEnv(o, basePort), PM2_HOME: pm2Home, INSTANCES: String(instances), BASE_PORT: String(basePort),
    PUBLIC_HOST: "127.0.0.1", REDIS_URL: o.redisUrl ?? "redis://127.0.0.1:6379",
  };
  delete (env as Record<string, string | undefined>).PORT;
  delete (env as Record<string, string | undefined>).PUBLIC_ADDRESS;
  const pm2 = (args: string[]) => run("npx", ["pm2", ...args], { cwd: ROOT, env, timeout: 90_000 });
  const urls = Array.from({ length: instances }, (_, i) => `http://127.0.0.1:${basePort + i}`);
  let pids: number[] = [];
  const stop = async () => {
    await pm2(["delete", "ecosystem.config.js"]).catch(() => {});
    await pm2(["kill"]).catch(() => {});
  };
  try {
    await pm2(["start", "ecosystem.config.js"]);
    for (const url of urls) {
      const deadline = Date.now() + 30_000;
      while ((await fetch(`${url}/health`).then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > deadline) { throw new Error(`${url} not healthy in 30 s`); }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const { stdout } = await pm2(["jlist"]);
    pids = (JSON.parse(stdout.slice(stdout.indexOf("["))) as { pid: number }[]).map((p) => p.pid).filter(Boolean);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: `pm2x${instances}`, kind: "chat", urls, pids: () => pids, metricsUrls: urls.map((u) => `${u}/metrics`), stop };
}

/** URLs the harness did not start (e.g. a running `npm run cluster`); `pids` optional. */
export function external(urls: string[], pids: number[]): Target {
  for (const u of urls) {
    const host = new URL(u).hostname;
    if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) { throw new Error(`only loopback targets are allowed, not ${host}`); }
  }
  return { name: "external", kind: "chat", urls, pids: () => pids, metricsUrls: urls.map((u) => `${u}/metrics`), stop: async () => {} };
}

/**
 * Pins processes (all their threads) to a CPU list with taskset, so that the server
 * and the load generator stop competing for the same cores (`--server-cpus`,
 * `--generator-cpus`). Returns each pid's previous list, for `unpin`.
 */
export async function pin(pids: number[], cpus: string): Promise<Map<number, string>> {
  const before = new Map<number, string>();
  for (const pid of pids) {
    const { stdout } = await run("taskset", ["-pc", String(pid)]);
    before.set(pid, stdout.trim().split(/:\s*/).pop() ?? "");
    await run("taskset", ["-a", "-pc", cpus, String(pid)]);
  }
  return before;
}

export async function unpin(before: Map<number, string>): Promise<void> {
  for (const [pid, cpus] of before) { await run("taskset", ["-a", "-pc", cpus, String(pid)]).catch(() => {}); }
}

/** The pid of the Redis server behind a loopback URL (to pin it with the chat server). */
export async function redisPid(url: string): Promise<number | null> {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) { return null; }
  const { stdout } = await run("redis-cli", ["-u", url, "info", "server"]).catch(() => ({ stdout: "" }));
  const pid = Number(/process_id:(\d+)/.exec(stdout)?.[1]);
  return pid > 0 ? pid : null;
}
