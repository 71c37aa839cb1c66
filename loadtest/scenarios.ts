/**
 * Named scenarios and their defaults; every value can be overridden on the command
 * line (`--conversations 500 --duration 120`, see `npm run loadtest -- --help`).
 */
export type ScenarioName = "smoke" | "steady" | "ramp" | "join-storm" | "churn";

export interface Options {
  scenario: ScenarioName;
  /** embedded | redis | pm2 | urls */
  target: "embedded" | "redis" | "postgres" | "pm2" | "urls";
  /** PostgreSQL for --target postgres: this database is dropped and created afresh per run */
  databaseUrl: string;
  urls: string[];
  pids: number[];
  instances: number;
  redisUrl: string;
  workers: number;
  conversations: number;
  durationS: number;
  /** customers arriving per second (all workers together) */
  rate: number;
  intervalMs: number;
  textBytes: number;
  typingShare: number;
  readReceipts: boolean;
  perAgent: number;
  convSeconds: [number, number];
  idleMs: number;
  idleShare: number;
  dropPerMin: number;
  agents: boolean;
  sendsPerConversation: number;
  verify: boolean;
  baselines: boolean;
  baselineDurationS: number;
  repeat: number;
  cpuProf: boolean;
  /** the load generator's workers under --cpu-prof too (is the generator the limit?) */
  genCpuProf: boolean;
  logLevel: string;
  // ramp
  start: number;
  step: number;
  stepSeconds: number;
  maxSteps: number;
  p99LimitMs: number;
  out: string;
  quiet: boolean;
  /** taskset CPU lists ("1", "0-1"): the server processes, and the generator (main + workers) */
  serverCpus: string;
  generatorCpus: string;
}

const common = {
  target: "embedded" as const, urls: [], pids: [], instances: 2, redisUrl: "redis://127.0.0.1:6379/12", databaseUrl: "postgres://postgres@127.0.0.1:5432/cc_loadtest", workers: 2,
  textBytes: 120, typingShare: 0.3, readReceipts: true, perAgent: 4, agents: true, sendsPerConversation: 0,
  baselines: true, baselineDurationS: 0, repeat: 1, cpuProf: false, genCpuProf: false, logLevel: "warn",
  start: 200, step: 200, stepSeconds: 20, maxSteps: 15, p99LimitMs: 100, out: "", quiet: false,
  serverCpus: "", generatorCpus: "",
};

export const scenarios: Record<ScenarioName, Omit<Options, "scenario"> & { about: string }> = {
  smoke: {
    ...common, about: "tiny end-to-end check of the harness (~40 s): drops, idle and agent ends, verification, both baselines",
    conversations: 16, durationS: 10, rate: 16, intervalMs: 800, convSeconds: [4, 7], idleMs: 2_000, idleShare: 0.3,
    dropPerMin: 0.5, verify: true, baselineDurationS: 8,
  },
  steady: {
    ...common, about: "2,000 concurrent conversations, one message every 5 s per participant, 10 minutes",
    conversations: 2_000, durationS: 600, rate: 50, intervalMs: 5_000, convSeconds: [60, 180], idleMs: 20_000, idleShare: 0.2,
    dropPerMin: 0, verify: false,
  },
  churn: {
    ...common, about: "steady, with 5 % of the clients dropping and reconnecting per minute; verifies every acknowledged message is stored",
    conversations: 2_000, durationS: 600, rate: 50, intervalMs: 5_000, convSeconds: [60, 180], idleMs: 20_000, idleShare: 0.2,
    dropPerMin: 0.05, verify: true,
  },
  "join-storm": {
    ...common, about: "500 customers joining within 5 s: join latency and failures",
    conversations: 500, durationS: 15, rate: 100, intervalMs: 2_000, convSeconds: [0, 0], idleMs: 900_000, idleShare: 0,
    dropPerMin: 0, verify: false, agents: false, sendsPerConversation: 1, typingShare: 0, readReceipts: false,
  },
  ramp: {
    ...common, about: "adds conversations step by step until the delivery p99 exceeds 100 ms",
    conversations: 0, durationS: 0, rate: 100, intervalMs: 5_000, convSeconds: [3_600, 3_600], idleMs: 900_000, idleShare: 0,
    dropPerMin: 0, verify: false,
  },
};

const USAGE = `npm run loadtest -- <scenario> [options]

scenarios:
${Object.entries(scenarios).map(([n, s]) => `  ${n.padEnd(11)} ${s.about}`).join("\n")}

options (defaults depend on the scenario):
  --target embedded|redis|postgres|pm2|urls   server under test (default embedded: a node the harness starts;
                                     postgres: a node with DATABASE_URL on a fresh PostgreSQL database)
  --urls http://127.0.0.1:2567,...   with --target urls (loopback only); --pids 1,2 to sample their CPU/RSS
  --instances N                      PM2 processes for --target pm2 (default 2)
  --database-url URL                 PostgreSQL for --target postgres (default postgres://postgres@127.0.0.1:5432/cc_loadtest, recreated first)
  --redis-url URL                    Redis for --target redis|pm2 (default redis://127.0.0.1:6379/12, flushed first)
  --workers N                        load-generator processes (default 2)
  --conversations N --duration S     concurrent conversations, seconds of load
  --rate N                           customers arriving per second
  --interval-ms N                    mean time between two messages of one participant
  --text-bytes N --typing-share F --no-reads --per-agent N --conv-seconds A-B
  --idle-ms N --idle-share F         server CONVERSATION_IDLE_MS; share of conversations ended by idleness
  --drop-per-min F                   share of connections dropped (close 4010) per minute
  --verify / --no-verify             page history at the end: every acknowledged message stored?
  --no-baselines                     skip the ws relay and Colyseus relay runs
  --baseline-duration S              seconds of each baseline run (default: same as --duration)
  --repeat N                         run the whole sequence N times; the report gives medians
  --cpu-prof                         server under --cpu-prof (profiles in loadtest/results/)
  --generator-cpu-prof               the generator's workers under --cpu-prof (loadtest/results/<run>-prof/generator)
  --start N --step N --step-seconds S --max-steps N --p99-limit-ms N   (ramp)
  --server-cpus LIST                 pin the server processes (and Redis, for redis|pm2) to these CPUs (taskset, e.g. 1)
  --generator-cpus LIST              pin the load generator (main process and workers) to these CPUs (e.g. 0)
  --out FILE                         result JSON path (default loadtest/results/<scenario>-<time>.json)
`;

function cpuList(flag: string, v: string | undefined): string {
  if (!v || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) { throw new Error(`${flag} needs a CPU list such as 1 or 0-1 or 0,2`); }
  return v;
}

export function parseArgs(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h") || argv.length === 0) { console.log(USAGE); process.exit(argv.length === 0 ? 1 : 0); }
  const name = argv[0] as ScenarioName;
  if (!(name in scenarios)) { console.error(`unknown scenario "${name}"\n\n${USAGE}`); process.exit(1); }
  const { about: _about, ...defaults } = scenarios[name];
  const o: Options = { scenario: name, ...defaults, convSeconds: [...defaults.convSeconds] as [number, number] };
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) { throw new Error(`${flag} needs a non-negative number`); }
    return n;
  };
  for (let i = 1; i < argv.length; i++) {
    const flag = argv[i];
    const v = () => argv[++i];
    switch (flag) {
      case "--target": o.target = v() as Options["target"]; break;
      case "--database-url": o.databaseUrl = v(); break;
      case "--urls": o.urls = v().split(",").filter(Boolean); o.target = "urls"; break;
      case "--pids": o.pids = v().split(",").map(Number).filter(Boolean); break;
      case "--instances": o.instances = num(flag, v()); break;
      case "--redis-url": o.redisUrl = v(); break;
      case "--workers": o.workers = Math.max(1, num(flag, v())); break;
      case "--conversations": o.conversations = num(flag, v()); break;
      case "--duration": o.durationS = num(flag, v()); break;
      case "--rate": o.rate = num(flag, v()); break;
      case "--interval-ms": o.intervalMs = Math.max(50, num(flag, v())); break;
      case "--text-bytes": o.textBytes = num(flag, v()); break;
      case "--typing-share": o.typingShare = num(flag, v()); break;
      case "--no-reads": o.readReceipts = false; break;
      case "--per-agent": o.perAgent = Math.max(1, num(flag, v())); break;
      case "--conv-seconds": { const [a, b] = v().split("-").map(Number); o.convSeconds = [a, b ?? a]; break; }
      case "--idle-ms": o.idleMs = num(flag, v()); break;
      case "--idle-share": o.idleShare = num(flag, v()); break;
      case "--drop-per-min": o.dropPerMin = num(flag, v()); break;
      case "--verify": o.verify = true; break;
      case "--no-verify": o.verify = false; break;
      case "--no-baselines": o.baselines = false; break;
      case "--baselines": o.baselines = true; break;
      case "--baseline-duration": o.baselineDurationS = num(flag, v()); break;
      case "--repeat": o.repeat = Math.max(1, num(flag, v())); break;
      case "--cpu-prof": o.cpuProf = true; break;
      case "--generator-cpu-prof": o.genCpuProf = true; break;
      case "--log-level": o.logLevel = v(); break;
      case "--start": o.start = num(flag, v()); break;
      case "--step": o.step = num(flag, v()); break;
      case "--step-seconds": o.stepSeconds = num(flag, v()); break;
      case "--max-steps": o.maxSteps = num(flag, v()); break;
      case "--p99-limit-ms": o.p99LimitMs = num(flag, v()); break;
      case "--out": o.out = v(); break;
      case "--server-cpus": o.serverCpus = cpuList(flag, v()); break;
      case "--generator-cpus": o.generatorCpus = cpuList(flag, v()); break;
      case "--quiet": o.quiet = true; break;
      default: throw new Error(`unknown option ${flag}\n\n${USAGE}`);
    }
  }
  if (o.target === "urls" && o.urls.length === 0) { throw new Error("--target urls needs --urls"); }
  if (!o.baselineDurationS) { o.baselineDurationS = o.durationS; }
  return o;
}
