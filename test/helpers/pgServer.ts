import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort, until } from "./server";

const BIN = "/usr/lib/postgresql/15/bin";

export interface OwnPostgres {
  url: string;
  /** SIGKILL of the postmaster and its backends: a crash; the WAL keeps every commit */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGSTOP of the postmaster and its backends: a frozen database (sockets open, no answer) */
  freeze(): void;
  /** SIGCONT after freeze() */
  thaw(): void;
}

/**
 * A PostgreSQL server of the test's own (initdb into a temp dir, a free port), for
 * tests that kill it; the machine's shared server is never touched. PostgreSQL
 * refuses to run as root, so it runs as the `postgres` user when we are root.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-pg-"));
  const data = path.join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  if (asRoot) { execFileSync("chown", ["postgres:postgres", dir]); }
  execFileSync(...as(`${BIN}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]), { stdio: "ignore" });
  let child: ChildProcess | undefined;

  const postmasterPid = () => Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const start = async () => {
    child = spawn(...as(`${BIN}/postgres`, ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=50"]), { stdio: "ignore" });
    await until(async () => {
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      client.on("error", () => {});
      try { await client.connect(); await client.query("SELECT 1"); return true; } catch { return false; } finally { await client.end().catch(() => {}); }
    }, 30_000, `postgres on ${port}`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) { return; }
    const pm = postmasterPid();
    // the postmaster first, then its backends (they would linger and hold the shared memory)
    const backends = execFileSync("ps", ["-o", "pid=", "--ppid", String(pm)]).toString().split("\n").map(Number).filter((p) => p > 0);
    const exited = new Promise((r) => c.once("exit", r));
    for (const pid of [pm, ...backends]) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
    await exited;
    await until(() => backends.every((pid) => { try { process.kill(pid, 0); return false; } catch { return true; } }), 10_000, "backends gone");
  };

  // runuser stops itself when its child stops (util-linux su-common): it is woken with the rest
  const signalAll = (signal: NodeJS.Signals) => {
    if (signal === "SIGCONT") { child?.kill("SIGCONT"); }
    const pm = postmasterPid();
    const backends = execFileSync("ps", ["-o", "pid=", "--ppid", String(pm)]).toString().split("\n").map(Number).filter((p) => p > 0);
    for (const pid of [pm, ...backends]) { try { process.kill(pid, signal); } catch { /* gone */ } }
  };

  await start();
  return {
    freeze: () => signalAll("SIGSTOP"),
    thaw: () => signalAll("SIGCONT"),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    kill,
    async stop() { try { signalAll("SIGCONT"); } catch { /* not running */ } await kill(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
