import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Client, type Room } from "@colyseus/sdk";
import { signToken } from "../../server/auth";
import { freePort } from "../../server/ports";

export { freePort, freePortRange } from "../../server/ports";
import type { Role } from "../../server/store/types";

export const TEST_SECRET = "test-secret-for-the-test-suite-only-0123456789";
export const ROOT = path.resolve(__dirname, "..", "..");

export interface ServerProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** everything the process wrote, for assertions and post-mortems */
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `server/index.ts` as its own process on a free port and waits until it listens. */
export async function startServerProcess(env: Record<string, string> = {}, port?: number): Promise<ServerProcess> {
  port ??= await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "test", AUTH_SECRET: TEST_SECRET, LOG_LEVEL: "info", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => { out += d; });
  child.stderr!.on("data", (d) => { out += d; });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  await new Promise<void>((resolve, reject) => {
    // a server that never says it listens is not left running behind the failed test
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`server did not start in time:\n${out}`)); }, 15_000);
    const check = () => {
      if (out.includes('"msg":"listening"')) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${out}`)); });
  });

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) { child.kill("SIGTERM"); }
      await exited;
    },
    async kill() {
      if (child.exitCode === null) { child.kill("SIGKILL"); }
      await exited;
    },
  };
}

export interface Who {
  sub: string;
  role: Role;
  name?: string;
  teams?: string[];
}

export async function clientFor(url: string, who: Who, secret = TEST_SECRET): Promise<Client> {
  const client = new Client(url);
  client.auth.token = await signToken(secret, who);
  return client;
}

/** Resolves once `predicate` holds, checking after every state change. */
export function waitFor(room: Room<any>, predicate: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  if (predicate()) { return Promise.resolve(); }
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) { clearTimeout(timer); room.onStateChange.remove(check); resolve(); }
    };
    const timer = setTimeout(() => { room.onStateChange.remove(check); reject(new Error(`timed out waiting for ${what}`)); }, timeoutMs);
    room.onStateChange(check);
  });
}

export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition") {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) { throw new Error(`timed out waiting for ${what}`); }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
/** A unique id per test run, so tests on the shared Redis never collide. */
export function uniqueId(prefix: string) {
  return `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
