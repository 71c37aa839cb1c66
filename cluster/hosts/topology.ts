import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../server/ports";
import { haproxyConfig } from "./haproxy";
import { createNet, destroyNet, namespacesUnavailable, netStatus, planNet, setLink, type HostNet, type Net } from "./net";

/**
 * Three hosts and a database host as network namespaces on one machine, a real
 * HAProxy in front (docs/cluster.md "Multi-host topology"): host n1..n3 each run one
 * node on port 2567, host `db` runs Redis (6379) and PostgreSQL (5432) of their own
 * (temp dirs), the balancer listens on 127.0.0.1:<port> in the root namespace. All
 * that `up` made is written to `<dir>/state.json`, so `down` removes it even after a
 * failed `up` or a test that crashed: processes (by pid), namespaces, links, dirs.
 */

export interface Proc { name: string; pid: number; log: string }
export interface State {
  id: string;
  dir: string;
  net: Net;
  /** the balancer's URL: what clients are given */
  url: string;
  authSecret: string;
  procs: Proc[];
}

export interface UpOptions {
  /** where state, logs and data go (default: a new temp dir) */
  dir?: string;
  /** the balancer's port on 127.0.0.1 (default: a free one) */
  port?: number;
  /** the nodes' AUTH_SECRET (default: a random one, in state.json) */
  authSecret?: string;
  /** more environment for the nodes (CONVERSATION_IDLE_MS, LOG_LEVEL, …) */
  env?: Record<string, string>;
}

const ROOT = path.resolve(__dirname, "..", "..");
export const NODE_PORT = 2567;
export const NODES = ["n1", "n2", "n3"];
const PG_BIN = () => {
  const versions = fs.readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
};

const stateFile = (dir: string) => path.join(dir, "state.json");
const save = (s: State) => fs.writeFileSync(stateFile(s.dir), JSON.stringify(s, null, 2));
export const loadState = (dir: string): State => JSON.parse(fs.readFileSync(stateFile(dir), "utf8"));
export const hostOf = (s: State, name: string): HostNet => {
  const h = s.net.hosts.find((x) => x.name === name);
  if (!h) { throw new Error(`no host ${name} (hosts: ${s.net.hosts.map((x) => x.name).join(", ")})`); }
  return h;
};

/** A detached process in a namespace (or the root one), its output in a log file. */
function launch(s: State, name: string, netns: string | null, cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const log = path.join(s.dir, `${name}.log`);
  const fd = fs.openSync(log, "a");
  const argv = netns ? ["ip", ["netns", "exec", netns, cmd, ...args]] as const : [cmd, args] as const;
  const child = spawn(argv[0], [...argv[1]], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", fd, fd], detached: true });
  fs.closeSync(fd);
  child.unref();
  const proc = { name, pid: child.pid!, log };
  s.procs.push(proc);
  save(s);
  return proc;
}

async function waitUntil(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number, logOf?: string) {
  const t0 = Date.now();
  const tryOk = async () => { try { return await ok(); } catch { return false; } };
  while (!(await tryOk())) {
    if (Date.now() - t0 > timeoutMs) {
      const tail = logOf && fs.existsSync(logOf) ? `\n${fs.readFileSync(logOf, "utf8").split("\n").slice(-15).join("\n")}` : "";
      throw new Error(`timed out waiting for ${what}${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const httpOk = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(1_000) })).status === 200;
const inNs = (netns: string, cmd: string, args: string[]) => execFileSync("ip", ["netns", "exec", netns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] }).toString();

export async function up(options: UpOptions = {}): Promise<State> {
  const why = namespacesUnavailable();
  if (why) { throw new Error(`cannot build the topology: ${why}`); }
  for (const bin of ["haproxy", "redis-server"]) {
    try { execFileSync("which", [bin], { stdio: "ignore" }); } catch { throw new Error(`${bin} is not installed (apt-get install -y haproxy redis-server iproute2)`); }
  }
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "cc-hosts-"));
  // a second `up` on the same dir would lose the first one's state, and with it its teardown
  if (fs.existsSync(stateFile(dir))) { throw new Error(`a topology is up in ${dir}: \`down\` it first`); }
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755); // PostgreSQL (user postgres) keeps its data dir under it
  const id = randomBytes(2).toString("hex");
  const port = options.port ?? await freePort();
  const s: State = {
    id, dir, net: planNet(id, 16 + (parseInt(id, 16) % 200), [...NODES, "db"]), url: `http://127.0.0.1:${port}`,
    authSecret: options.authSecret ?? randomBytes(32).toString("hex"), procs: [],
  };
  save(s);
  try {
    createNet(s.net);
    const db = hostOf(s, "db");
    // Redis: AOF, every write synced, as production should run it (docs/cluster.md)
    const redisDir = path.join(dir, "redis");
    fs.mkdirSync(redisDir);
    const redis = launch(s, "redis", db.netns, "redis-server", ["--bind", db.ip, "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", redisDir]);
    await waitUntil("redis", () => inNs(db.netns, "redis-cli", ["-h", db.ip, "ping"]).includes("PONG"), 10_000, redis.log);
    // PostgreSQL refuses to run as root: its data dir and process belong to `postgres`
    const pgData = path.join(dir, "pg");
    execFileSync("install", ["-d", "-o", "postgres", "-g", "postgres", pgData]);
    execFileSync("runuser", ["-u", "postgres", "--", `${PG_BIN()}/initdb`, "-D", pgData, "-A", "trust", "-U", "postgres", "--no-sync"], { stdio: "ignore" });
    fs.appendFileSync(path.join(pgData, "pg_hba.conf"), `host all all ${s.net.gateway.replace(/\.1$/, ".0")}/24 trust\n`);
    const pg = launch(s, "postgres", db.netns, "runuser", ["-u", "postgres", "--", `${PG_BIN()}/postgres`, "-D", pgData, "-p", "5432", "-k", pgData, "-c", `listen_addresses=${db.ip}`, "-c", "max_connections=100"]);
    await waitUntil("postgres", () => inNs(db.netns, `${PG_BIN()}/pg_isready`, ["-h", db.ip, "-p", "5432"]).includes("accepting"), 30_000, pg.log);

    const nodeEnv = {
      NODE_ENV: "production", LOG_LEVEL: "info", ...options.env, AUTH_SECRET: s.authSecret,
      REDIS_URL: `redis://${db.ip}:6379`, DATABASE_URL: `postgres://postgres@${db.ip}:5432/postgres`, PORT: String(NODE_PORT),
    };
    const nodes = s.net.hosts.filter((h) => NODES.includes(h.name));
    // one at a time: the first one migrates the database
    for (const h of nodes) { await startNode(s, h, nodeEnv); }

    const cfg = path.join(dir, "haproxy.cfg");
    fs.writeFileSync(cfg, haproxyConfig({ host: "127.0.0.1", port }, nodes.map((h) => ({ name: h.name, ip: h.ip, port: NODE_PORT })), path.join(dir, "haproxy.sock")));
    execFileSync("haproxy", ["-c", "-q", "-f", cfg]);
    const lb = launch(s, "haproxy", null, "haproxy", ["-db", "-f", cfg]);
    await waitUntil("the balancer", () => httpOk(`${s.url}/ready`), 15_000, lb.log);
    return s;
  } catch (e) {
    await down(dir);
    throw e;
  }
}

/** Starts (or restarts) the node of one host; PUBLIC_ADDRESS routes its WebSockets through the balancer. */
export async function startNode(s: State, h: HostNet, env?: Record<string, string>) {
  const nodeEnv = env ?? JSON.parse(fs.readFileSync(path.join(s.dir, "node-env.json"), "utf8"));
  fs.writeFileSync(path.join(s.dir, "node-env.json"), JSON.stringify(nodeEnv));
  s.procs = s.procs.filter((p) => p.name !== h.name);
  const proc = launch(s, h.name, h.netns, process.execPath, ["--import", "tsx", "server/index.ts"], {
    ...nodeEnv, PUBLIC_ADDRESS: `${s.url.replace(/^http:\/\//, "")}/${h.name}`,
  });
  await waitUntil(`node ${h.name}`, () => httpOk(`http://${h.ip}:${NODE_PORT}/ready`), 30_000, proc.log);
}

/** kill -9 of a host's node (the host stays up: its port refuses connections). */
export function killNode(s: State, name: string) {
  const p = s.procs.find((x) => x.name === name);
  if (!p) { throw new Error(`no process ${name}`); }
  try { process.kill(p.pid, "SIGKILL"); } catch { /* already gone */ }
}

export const partition = (s: State, name: string) => setLink(hostOf(s, name), false);
export const heal = (s: State, name: string) => setLink(hostOf(s, name), true);

/** Everything `up` made goes, whatever state it is in. */
export async function down(dir: string) { downNow(dir); }

/**
 * The same, synchronous, for an `exit` handler (a test run that is interrupted):
 * processes by pid (their whole process group: `ip netns exec` and runuser pass it
 * on), then links and namespaces, then the directory.
 */
export function downNow(dir: string) {
  if (!fs.existsSync(stateFile(dir))) { fs.rmSync(dir, { recursive: true, force: true }); return; }
  const s = loadState(dir);
  for (const p of [...s.procs].reverse()) {
    for (const target of [-p.pid, p.pid]) { try { process.kill(target, "SIGKILL"); } catch { /* gone */ } }
  }
  destroyNet(s.net);
  fs.rmSync(dir, { recursive: true, force: true });
}

export async function status(dir: string) {
  const s = loadState(dir);
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const hosts: Record<string, unknown> = {};
  const net = netStatus(s.net);
  for (const h of s.net.hosts) {
    const ready = NODES.includes(h.name) ? await fetch(`http://${h.ip}:${NODE_PORT}/health`, { signal: AbortSignal.timeout(1_500) }).then((r) => r.json(), (e) => ({ unreachable: e.message })) : undefined;
    hosts[h.name] = { ip: h.ip, ...net[h.name], procs: s.procs.filter((p) => p.name === h.name || (h.name === "db" && ["redis", "postgres"].includes(p.name))).map((p) => ({ name: p.name, pid: p.pid, alive: alive(p.pid) })), health: ready };
  }
  return { url: s.url, dir: s.dir, hosts, balancer: s.procs.filter((p) => p.name === "haproxy").map((p) => ({ pid: p.pid, alive: alive(p.pid) })) };
}
