/**
 * The load harness: `npm run loadtest -- <scenario> [options]` (see scenarios.ts).
 *
 * The main process starts the server under test (or takes a URL list), forks
 * worker processes (worker.ts) that each drive many clients (the project's client
 * library for the chat server, the raw SDK or `ws` for the baselines: drivers.ts),
 * aggregates their counters and histograms, samples CPU and RSS of every process
 * from /proc, prints a progress line every few seconds, then runs the same traffic
 * against the two baselines (a bare `ws` relay and a bare Colyseus relay room) and
 * writes JSON + an SVG chart into loadtest/results/. It stops by itself and stops
 * every process it started.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Redis from "ioredis";
import pg from "pg";
import { renderChart } from "./chart";
import { Hist, round, type HistSummary } from "./hist";
import { machineInfo, ProcSampler } from "./procstat";
import { parseArgs, type Options } from "./scenarios";
import { external, pin, redisPid, ROOT, startChat, startPm2, startRelay, unpin, type Target } from "./targets";
import { zeroCounters, type Counters, type MainToWorker, type StatsDelta, type VerifyResult, type WorkerConfig, type WorkerToMain } from "./types";

export const RESULTS_DIR = path.join(ROOT, "loadtest", "results");
const SERIES_EVERY_MS = 2_000;
const PROGRESS_EVERY_MS = 5_000;

export interface SeriesPoint {
  t: number;
  deliveredPerSec: number;
  sentPerSec: number;
  p50: number;
  p99: number;
  ackP99: number;
  conversations: number;
  conns: number;
  serverCpuPct: number;
  serverRssMB: number;
  genCpuPct: number;
  /** the workers' RSS, summed; their event-loop delay p99 (the worst worker) */
  genRssMB: number;
  genLoopP99Ms: number;
  eventLoopP99Ms: number | null;
}

export interface RampStep { conversations: number; reached: number; p50: number; p99: number; deliveredPerSec: number; serverCpuPct: number; errors: number; ok: boolean }

export interface TargetResult {
  target: string;
  kind: string;
  urls: string[];
  durationS: number;
  totals: Counters;
  errors: Record<string, number>;
  /** whole run; `*Window`: from the first time the target concurrency was reached */
  latencyMs: { delivery: HistSummary; ack: HistSummary; join: HistSummary; agentJoin: HistSummary; deliveryWindow: HistSummary; ackWindow: HistSummary; intervalP99Median: number };
  /** over the measurement window (after the ramp-up to the target) */
  throughput: { deliveredPerSec: number; sentPerSec: number; windowS: number };
  server: { pids: number[]; cpuAvgPct: number; cpuMaxPct: number; rssStartMB: number; rssMaxMB: number; peakConns: number; memPerClientKB: number | null; eventLoopP99MaxMs: number | null };
  generator: { workers: number; cpuAvgPct: number; cpuMaxPct: number; rssMaxMB: number; loopP99MedianMs: number; loopP99MaxMs: number };
  /** server CPU-seconds per 1,000 delivered messages */
  cpuMsPerKMsg: number | null;
  verify: VerifyResult | null;
  ramp?: { steps: RampStep[]; maxConversationsOk: number; maxDeliveredPerSecOk: number; stoppedBecause: string };
  series: SeriesPoint[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: { children: Set<ChildProcess>; targets: Set<Target> } = { children: new Set(), targets: new Set() };

function log(o: Options, line: string) { if (!o.quiet) { console.log(line); } }

function addCounters(into: Counters, d: Counters) {
  for (const k of Object.keys(into) as (keyof Counters)[]) { into[k] += d[k]; }
}

async function scrapeEventLoop(urls: string[]): Promise<number | null> {
  let worst: number | null = null;
  for (const url of urls) {
    try {
      const text = await (await fetch(url, { signal: AbortSignal.timeout(2_000) })).text();
      const v = /^nodejs_eventloop_lag_p99_seconds\s+([\d.eE+-]+)/m.exec(text)?.[1];
      if (v !== undefined) { worst = Math.max(worst ?? 0, Number(v) * 1000); }
    } catch { /* a busy server may not answer in time */ }
  }
  return worst;
}

/** Drives one target with fresh workers for `durationS` (or, for ramp, step by step). */
async function runTarget(o: Options, target: Target, durationS: number, tag: string, profDir: string): Promise<TargetResult> {
  const secret = (target as Target & { secret?: string }).secret ?? "";
  const workers: ChildProcess[] = [];
  const totals = zeroCounters();
  const errors: Record<string, number> = {};
  const hists = { delivery: new Hist(), ack: new Hist(), join: new Hist(), agentJoin: new Hist() };
  let interval = { counters: zeroCounters(), delivery: new Hist(), ack: new Hist() };
  let stepHist = new Hist();
  // latencies once the target concurrency is first reached (not the arrival burst)
  const windowHist = { delivery: new Hist(), ack: new Hist() };
  let inWindow = false;
  let stepErrors = 0;
  const gauges = new Map<number, StatsDelta["gauges"]>();
  const verifies: (VerifyResult | null)[] = [];
  const sampler = new ProcSampler();
  const series: SeriesPoint[] = [];
  const isRamp = o.scenario === "ramp";
  const doVerify = o.verify && target.kind === "chat";

  // the server's RSS before any client: the base of the memory-per-client figure
  const rssStartMB = round(target.pids().reduce((s, pid) => s + sampler.sample(pid).rssMB, 0));

  const done = new Map<number, Promise<VerifyResult | null>>();
  const drained = new Map<number, Promise<void>>();
  for (let i = 0; i < o.workers; i++) {
    const profArgs = o.genCpuProf ? ["--cpu-prof", "--cpu-prof-dir", path.join(profDir, "generator")] : [];
    const child = fork(path.join(__dirname, "worker.ts"), [], { execArgv: [...profArgs, "--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"], cwd: ROOT });
    started.children.add(child);
    child.once("exit", () => started.children.delete(child));
    workers.push(child);
    let resolveDone!: (v: VerifyResult | null) => void;
    let resolveDrained!: () => void;
    done.set(i, new Promise((r) => { resolveDone = r; }));
    drained.set(i, new Promise((r) => { resolveDrained = r; }));
    child.once("exit", () => { resolveDone(null); resolveDrained(); });
    child.on("message", (msg: WorkerToMain) => {
      switch (msg.type) {
        case "stats": {
          const s = msg.stats;
          addCounters(totals, s.counters);
          addCounters(interval.counters, s.counters);
          for (const [code, n] of Object.entries(s.errors)) { errors[code] = (errors[code] ?? 0) + n; stepErrors += n; }
          hists.delivery.merge(s.hists.delivery); hists.ack.merge(s.hists.ack); hists.join.merge(s.hists.join); hists.agentJoin.merge(s.hists.agentJoin);
          interval.delivery.merge(s.hists.delivery); interval.ack.merge(s.hists.ack);
          stepHist.merge(s.hists.delivery);
          if (inWindow) { windowHist.delivery.merge(s.hists.delivery); windowHist.ack.merge(s.hists.ack); }
          gauges.set(s.index, s.gauges);
          break;
        }
        case "drained": resolveDrained(); break;
        case "done": verifies[i] = msg.verify; resolveDone(msg.verify); break;
        case "log": log(o, `  ${msg.text}`); break;
      }
    });
    const config: WorkerConfig = {
      index: i, tag: `${tag}${i}`, target: target.kind, urls: target.urls, secret,
      arrivalPerSec: o.rate / o.workers, perAgent: o.perAgent, msgIntervalMs: o.intervalMs, textBytes: o.textBytes,
      typingShare: o.typingShare, readReceipts: o.readReceipts, convSeconds: o.convSeconds, idleShare: o.idleShare,
      idleWaitMs: o.idleMs + 15_000, dropPerMin: target.kind === "chat" ? o.dropPerMin : 0, agents: o.agents,
      sendsPerConversation: o.sendsPerConversation, verify: doVerify, statsEveryMs: 1_000,
    };
    child.send({ type: "start", config } satisfies MainToWorker);
  }
  const setTarget = (n: number) => {
    const per = Math.floor(n / o.workers);
    workers.forEach((w, i) => w.connected && w.send({ type: "target", conversations: per + (i < n % o.workers ? 1 : 0) } satisfies MainToWorker));
  };

  const t0 = Date.now();
  let genCpuPrev = workers.reduce((s, w) => s + ProcSampler.cpuSeconds(w.pid!), 0) + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  let genCpuPrevAt = performance.now();
  let lastProgress = 0;
  let eventLoop: number | null = null;
  let eventLoopMax: number | null = null;
  let lastScrape = 0;
  let currentTarget = isRamp ? o.start : o.conversations;
  setTarget(currentTarget);

  const point = async () => {
    const now = Date.now();
    const sec = SERIES_EVERY_MS / 1000;
    let cpu = 0; let rss = 0;
    for (const pid of target.pids()) { const s = sampler.sample(pid); cpu += s.cpuPct; rss += s.rssMB; }
    const cu = process.cpuUsage();
    const genCpu = workers.reduce((s, w) => s + ProcSampler.cpuSeconds(w.pid!), 0) + cu.user / 1e6 + cu.system / 1e6;
    const at = performance.now();
    const genPct = (100 * (genCpu - genCpuPrev)) / ((at - genCpuPrevAt) / 1000);
    genCpuPrev = genCpu; genCpuPrevAt = at;
    if (target.metricsUrls.length && now - lastScrape >= 5_000) {
      lastScrape = now;
      eventLoop = await scrapeEventLoop(target.metricsUrls);
      if (eventLoop !== null) { eventLoopMax = Math.max(eventLoopMax ?? 0, eventLoop); }
    }
    const g = [...gauges.values()];
    const genRss = workers.reduce((s, w) => s + sampler.sample(w.pid!).rssMB, 0);
    const p: SeriesPoint = {
      t: round((now - t0) / 1000, 1),
      deliveredPerSec: round(interval.counters.delivered / sec, 1),
      sentPerSec: round(interval.counters.sent / sec, 1),
      p50: round(interval.delivery.quantile(0.5)), p99: round(interval.delivery.quantile(0.99)), ackP99: round(interval.ack.quantile(0.99)),
      conversations: g.reduce((s, x) => s + x.conversations, 0), conns: g.reduce((s, x) => s + x.conns, 0),
      serverCpuPct: round(cpu, 1), serverRssMB: round(rss, 1), genCpuPct: round(genPct, 1),
      genRssMB: round(genRss, 1), genLoopP99Ms: round(Math.max(0, ...g.map((x) => x.loopP99Ms || 0))),
      eventLoopP99Ms: eventLoop === null ? null : round(eventLoop),
    };
    series.push(p);
    if (!inWindow && p.conversations >= 0.95 * (isRamp ? currentTarget : o.conversations)) { inWindow = true; }
    interval = { counters: zeroCounters(), delivery: new Hist(), ack: new Hist() };
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      const errs = Object.values(errors).reduce((s, n) => s + n, 0);
      log(o, `[${target.name} ${String(Math.round(p.t)).padStart(4)}s] conv ${p.conversations}/${currentTarget} conns ${p.conns} | sent ${p.sentPerSec}/s deliv ${p.deliveredPerSec}/s | e2e p50 ${p.p50} p99 ${p.p99} ms | ack p99 ${p.ackP99} | joins ${totals.joins} errors ${errs} drops ${totals.drops} | srv cpu ${p.serverCpuPct}% rss ${p.serverRssMB}MB${p.eventLoopP99Ms !== null ? ` loop p99 ${p.eventLoopP99Ms}ms` : ""} | gen cpu ${p.genCpuPct}% rss ${Math.round(p.genRssMB)}MB loop p99 ${p.genLoopP99Ms}ms`);
    }
    return p;
  };

  let ramp: TargetResult["ramp"];
  if (isRamp) {
    const steps: RampStep[] = [];
    let stoppedBecause = `max steps (${o.maxSteps})`;
    for (let step = 0; step < o.maxSteps; step++) {
      const added = step === 0 ? o.start : o.step;
      currentTarget = o.start + step * o.step;
      setTarget(currentTarget);
      const stepStart = Date.now();
      // the new conversations arrive at --rate; then half a step to settle, half a step measured
      const arrivalMs = (1000 * added) / Math.max(1, o.rate);
      const measureFrom = arrivalMs + (o.stepSeconds * 1000) / 2;
      const stepMs = arrivalMs + o.stepSeconds * 1000;
      const points: SeriesPoint[] = [];
      let measuring = false;
      while (Date.now() - stepStart < stepMs) {
        await sleep(SERIES_EVERY_MS);
        const p = await point();
        if (!measuring && Date.now() - stepStart >= measureFrom) { measuring = true; stepHist = new Hist(); stepErrors = 0; }
        if (measuring) { points.push(p); }
      }
      const reached = points.length ? points[points.length - 1].conversations : 0;
      const s: RampStep = {
        conversations: currentTarget, reached, p50: round(stepHist.quantile(0.5)), p99: round(stepHist.quantile(0.99)),
        deliveredPerSec: round(points.reduce((a, p) => a + p.deliveredPerSec, 0) / Math.max(1, points.length), 1),
        serverCpuPct: round(points.reduce((a, p) => a + p.serverCpuPct, 0) / Math.max(1, points.length), 1),
        errors: stepErrors, ok: false,
      };
      s.ok = s.p99 <= o.p99LimitMs && reached >= 0.95 * currentTarget && stepHist.count > 0;
      steps.push(s);
      log(o, `  ramp step ${step + 1}: ${currentTarget} conversations (reached ${reached}): p50 ${s.p50} p99 ${s.p99} ms, ${s.deliveredPerSec} delivered/s, server cpu ${s.serverCpuPct}% -> ${s.ok ? "ok" : "over the limit"}`);
      if (!s.ok) {
        stoppedBecause = s.p99 > o.p99LimitMs ? `p99 ${s.p99} ms > ${o.p99LimitMs} ms at ${currentTarget} conversations`
          : `only ${reached} of ${currentTarget} conversations reached (joins too slow / failing)`;
        break;
      }
    }
    const okSteps = steps.filter((s) => s.ok);
    ramp = {
      steps, stoppedBecause,
      maxConversationsOk: okSteps.length ? Math.max(...okSteps.map((s) => s.conversations)) : 0,
      maxDeliveredPerSecOk: okSteps.length ? Math.max(...okSteps.map((s) => s.deliveredPerSec)) : 0,
    };
  } else {
    const end = t0 + durationS * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(SERIES_EVERY_MS, Math.max(0, end - Date.now())));
      await point();
    }
  }

  // stop: traffic ends, in-flight requests drain, verification, workers exit
  for (const w of workers) { if (w.connected) { w.send({ type: "stop" } satisfies MainToWorker); } }
  await Promise.race([Promise.all(drained.values()), sleep(30_000)]);
  const durationActual = (Date.now() - t0) / 1000;
  if (doVerify) { log(o, `  verifying every acknowledged message through history paging...`); }
  const killAt = doVerify ? 180_000 : 30_000;
  await Promise.race([Promise.all(done.values()), sleep(killAt)]);
  // a worker exits by itself right after "done" (and writes its --cpu-prof then); the stuck ones are killed
  const exited = (w: ChildProcess) => w.exitCode !== null || w.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => w.once("exit", () => r()));
  await Promise.race([Promise.all(workers.map(exited)), sleep(o.genCpuProf ? 30_000 : 3_000)]);
  for (const w of workers) { if (w.exitCode === null && w.signalCode === null) { w.kill("SIGKILL"); } }

  let verify: VerifyResult | null = null;
  if (doVerify) {
    verify = { rooms: 0, acked: 0, found: 0, lost: 0, seqMismatch: 0, failedRooms: 0, ms: 0, examples: [] };
    for (let i = 0; i < o.workers; i++) {
      const v = verifies[i];
      if (!v) { verify.failedRooms++; verify.examples.push(`worker ${i} did not report its verification`); continue; }
      verify.rooms += v.rooms; verify.acked += v.acked; verify.found += v.found; verify.lost += v.lost;
      verify.seqMismatch += v.seqMismatch; verify.failedRooms += v.failedRooms; verify.ms = Math.max(verify.ms, v.ms);
      verify.examples.push(...v.examples.slice(0, 5));
    }
    log(o, `  verification: ${verify.found}/${verify.acked} acknowledged messages found in ${verify.rooms} rooms, lost ${verify.lost}, seq mismatches ${verify.seqMismatch}, failed rooms ${verify.failedRooms} (${verify.ms} ms)`);
  }

  // measurement window: from the first point at >= 95 % of the target conversations
  const goal = isRamp ? 0 : o.conversations;
  const firstFull = series.findIndex((p) => p.conversations >= 0.95 * goal);
  const window = firstFull >= 0 ? series.slice(firstFull + 1) : series;
  const w = window.length ? window : series;
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const peak = series.reduce((best, p) => (p.conns > best.conns ? p : best), series[0] ?? { conns: 0, serverRssMB: 0 } as SeriesPoint);
  const cpuAvg = avg(w.map((p) => p.serverCpuPct));
  const deliveredPerSec = avg(w.map((p) => p.deliveredPerSec));
  const result: TargetResult = {
    target: target.name, kind: target.kind, urls: target.urls, durationS: round(durationActual, 1),
    totals, errors,
    latencyMs: { delivery: hists.delivery.summary(), ack: hists.ack.summary(), join: hists.join.summary(), agentJoin: hists.agentJoin.summary(), deliveryWindow: windowHist.delivery.summary(), ackWindow: windowHist.ack.summary(), intervalP99Median: round(median(w.map((p) => p.p99)) ?? 0) },
    throughput: { deliveredPerSec: round(deliveredPerSec, 1), sentPerSec: round(avg(w.map((p) => p.sentPerSec)), 1), windowS: round(w.length * SERIES_EVERY_MS / 1000) },
    server: {
      pids: target.pids(), cpuAvgPct: round(cpuAvg, 1), cpuMaxPct: round(Math.max(0, ...series.map((p) => p.serverCpuPct)), 1),
      rssStartMB: rssStartMB, rssMaxMB: round(Math.max(0, ...series.map((p) => p.serverRssMB)), 1), peakConns: peak.conns,
      memPerClientKB: peak.conns > 0 && rssStartMB > 0 ? round(((peak.serverRssMB - rssStartMB) * 1024) / peak.conns, 1) : null,
      eventLoopP99MaxMs: eventLoopMax === null ? null : round(eventLoopMax),
    },
    generator: {
      workers: o.workers, cpuAvgPct: round(avg(w.map((p) => p.genCpuPct)), 1), cpuMaxPct: round(Math.max(0, ...series.map((p) => p.genCpuPct)), 1),
      rssMaxMB: round(Math.max(0, ...series.map((p) => p.genRssMB)), 1),
      loopP99MedianMs: round(median(w.map((p) => p.genLoopP99Ms)) ?? 0), loopP99MaxMs: round(Math.max(0, ...w.map((p) => p.genLoopP99Ms))),
    },
    cpuMsPerKMsg: deliveredPerSec > 0 && target.pids().length ? round((cpuAvg / 100) * 1000 / deliveredPerSec * 1000, 1) : null,
    verify,
    ...(ramp ? { ramp } : {}),
    series,
  };
  return result;
}

async function startTarget(o: Options, which: "main" | "ws-relay" | "colyseus-relay", secret: string, profDir: string): Promise<Target> {
  let t: Target;
  if (which !== "main") { t = await startRelay(which); }
  else {
    const chat = { secret, idleMs: o.idleMs, logLevel: o.logLevel, cpuProfDir: o.cpuProf ? profDir : undefined };
    switch (o.target) {
      case "embedded": t = await startChat(chat); break;
      case "redis": await flushRedis(o.redisUrl); t = await startChat({ ...chat, redisUrl: o.redisUrl }); break;
      case "postgres": await recreateDatabase(o.databaseUrl); t = await startChat({ ...chat, databaseUrl: o.databaseUrl }); break;
      case "pm2": await flushRedis(o.redisUrl); t = await startPm2({ ...chat, redisUrl: o.redisUrl }, o.instances); break;
      case "urls": t = external(o.urls, o.pids); break;
    }
  }
  (t as Target & { secret?: string }).secret = secret;
  started.targets.add(t);
  return t;
}

/** A fresh, empty database per run, as flushRedis gives the Redis target. */
async function recreateDatabase(url: string) {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) { throw new Error(`--database-url must name a plain database, got "${name}"`); }
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const pool = new pg.Pool({ connectionString: admin.toString(), max: 1 });
  try {
    await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await pool.query(`CREATE DATABASE ${name}`);
  } finally { await pool.end(); }
}

async function flushRedis(url: string) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try { await redis.connect(); await redis.flushdb(); } finally { redis.disconnect(); }
}

const median = (xs: number[]) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) { return null; }
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

export interface Invocation {
  scenario: string;
  command: string;
  date: string;
  machine: ReturnType<typeof machineInfo>;
  options: Options;
  repeats: TargetResult[][];
  summary: Record<string, Record<string, number | null>>;
  ratios: Record<string, number | null>;
  chart: string;
  resultFile: string;
}

/** Medians over the repeats, per target, of the numbers the report shows. */
function summarise(repeats: TargetResult[][]) {
  const byTarget = new Map<string, TargetResult[]>();
  for (const rep of repeats) { for (const r of rep) { byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]); } }
  const summary: Invocation["summary"] = {};
  for (const [name, rs] of byTarget) {
    const m = (f: (r: TargetResult) => number | null | undefined) => {
      const v = median(rs.map(f).filter((x): x is number => typeof x === "number"));
      return v === null ? null : round(v);
    };
    summary[name] = {
      runs: rs.length,
      deliveredPerSec: m((r) => r.throughput.deliveredPerSec),
      deliveryP50: m((r) => r.latencyMs.delivery.p50), deliveryP95: m((r) => r.latencyMs.delivery.p95),
      deliveryP99: m((r) => r.latencyMs.delivery.p99), deliveryMax: m((r) => r.latencyMs.delivery.max),
      ackP50: m((r) => r.latencyMs.ack.p50), ackP99: m((r) => r.latencyMs.ack.p99),
      intervalP99Median: m((r) => r.latencyMs.intervalP99Median),
      genLoopP99MedianMs: m((r) => r.generator.loopP99MedianMs), genLoopP99MaxMs: m((r) => r.generator.loopP99MaxMs), genRssMaxMB: m((r) => r.generator.rssMaxMB),
      windowP50: m((r) => r.latencyMs.deliveryWindow.p50), windowP99: m((r) => r.latencyMs.deliveryWindow.p99), windowMax: m((r) => r.latencyMs.deliveryWindow.max),
      joinP50: m((r) => r.latencyMs.join.p50), joinP99: m((r) => r.latencyMs.join.p99), joinMax: m((r) => r.latencyMs.join.max),
      joinFailures: m((r) => r.totals.joinFailures), errors: m((r) => Object.values(r.errors).reduce((a, b) => a + b, 0)),
      serverCpuAvgPct: m((r) => r.server.cpuAvgPct), serverRssMaxMB: m((r) => r.server.rssMaxMB),
      memPerClientKB: m((r) => r.server.memPerClientKB), eventLoopP99MaxMs: m((r) => r.server.eventLoopP99MaxMs),
      genCpuAvgPct: m((r) => r.generator.cpuAvgPct), cpuMsPerKMsg: m((r) => r.cpuMsPerKMsg), peakConns: m((r) => r.server.peakConns),
      lost: m((r) => r.verify?.lost ?? null), acked: m((r) => r.verify?.acked ?? null),
      rampMaxConversations: m((r) => r.ramp?.maxConversationsOk ?? null), rampMaxDeliveredPerSec: m((r) => r.ramp?.maxDeliveredPerSecOk ?? null),
    };
  }
  return summary;
}

function ratios(summary: Invocation["summary"], main: string) {
  const out: Record<string, number | null> = {};
  const s = summary[main];
  if (!s) { return out; }
  const div = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? round(a / b, 2) : null);
  for (const base of ["ws-relay", "colyseus-relay"]) {
    const b = summary[base];
    if (!b) { continue; }
    out[`throughputVs_${base}`] = div(s.deliveredPerSec, b.deliveredPerSec);
    out[`p99Vs_${base}`] = div(s.deliveryP99, b.deliveryP99);
    out[`windowP99Vs_${base}`] = div(s.windowP99, b.windowP99);
    out[`intervalP99MedianVs_${base}`] = div(s.intervalP99Median, b.intervalP99Median);
    out[`cpuPerMsgVs_${base}`] = div(s.cpuMsPerKMsg, b.cpuMsPerKMsg);
    out[`joinP99Vs_${base}`] = div(s.joinP99, b.joinP99);
    if (s.rampMaxConversations != null) { out[`rampMaxConversationsVs_${base}`] = div(s.rampMaxConversations, b.rampMaxConversations); }
    if (s.rampMaxDeliveredPerSec != null) { out[`rampMaxThroughputVs_${base}`] = div(s.rampMaxDeliveredPerSec, b.rampMaxDeliveredPerSec); }
  }
  return out;
}

function printSummary(inv: Invocation) {
  console.log(`\n== ${inv.scenario}: medians over ${inv.repeats.length} run(s) ==`);
  const rows = Object.entries(inv.summary);
  const cols = ["deliveredPerSec", "deliveryP50", "deliveryP99", "deliveryMax", "windowP99", "intervalP99Median", "ackP99", "joinP99", "errors", "serverCpuAvgPct", "serverRssMaxMB", "memPerClientKB", "genCpuAvgPct", "genLoopP99MaxMs", "cpuMsPerKMsg", "lost", "rampMaxConversations"];
  console.log(["target".padEnd(16), ...cols.map((c) => c.padStart(Math.max(8, c.length)))].join(" "));
  for (const [name, s] of rows) {
    console.log([name.padEnd(16), ...cols.map((c) => String(s[c] ?? "-").padStart(Math.max(8, c.length)))].join(" "));
  }
  console.log(`ratios: ${JSON.stringify(inv.ratios)}`);
  console.log(`result: ${path.relative(ROOT, inv.resultFile)}\nchart:  ${path.relative(ROOT, inv.chart)}`);
}

export async function main(argv: string[]): Promise<Invocation> {
  const o = parseArgs(argv);
  // the harness always stops by itself: a limit well above the planned run time
  const planned = o.repeat * (o.durationS + (o.baselines ? 2 * o.baselineDurationS : 0)
    + (o.scenario === "ramp" ? (o.baselines ? 3 : 1) * o.maxSteps * o.stepSeconds : 0) + 600);
  setTimeout(() => { console.error("loadtest: time limit reached, stopping"); void cleanup().finally(() => process.exit(2)); }, planned * 1000).unref();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const base = o.out ? o.out.replace(/\.json$/, "") : path.join(RESULTS_DIR, `${o.scenario}-${o.target}-${stamp}`);
  const profDir = `${base}-prof`;
  const secret = randomBytes(32).toString("hex");
  const repeats: TargetResult[][] = [];
  // the workers forked later inherit this affinity; the servers started later are re-pinned
  if (o.generatorCpus) { await pin([process.pid], o.generatorCpus); }
  const order: ("main" | "ws-relay" | "colyseus-relay")[] = o.baselines ? ["main", "ws-relay", "colyseus-relay"] : ["main"];
  log(o, `loadtest ${o.scenario}: target ${o.target}, ${o.workers} workers, ${o.scenario === "ramp" ? `ramp ${o.start}+${o.step}/${o.stepSeconds}s` : `${o.conversations} conversations for ${o.durationS}s`}, message every ${o.intervalMs} ms per participant${o.baselines ? `, baselines ${o.scenario === "ramp" ? "ramped the same way" : `${o.baselineDurationS}s each`}` : ""}`);
  for (let rep = 0; rep < o.repeat; rep++) {
    const results: TargetResult[] = [];
    for (const which of order) {
      const target = await startTarget(o, which, secret, profDir);
      let pinned = new Map<number, string>();
      try {
        if (o.serverCpus) {
          const redis = which === "main" && (o.target === "redis" || o.target === "pm2") ? await redisPid(o.redisUrl) : null;
          pinned = await pin([...target.pids(), ...(redis ? [redis] : [])], o.serverCpus);
        }
        log(o, `-- run ${rep + 1}/${o.repeat}: ${target.name} at ${target.urls.join(",")} (pids ${target.pids().join(",") || "unknown"})`);
        const duration = which === "main" ? o.durationS : o.baselineDurationS;
        results.push(await runTarget(o, target, duration, `${stamp.slice(11).replace(/-/g, "")}${rep}${which[0]}`.replace(/[^A-Za-z0-9]/g, ""), profDir));
      } finally {
        await unpin(pinned);
        await target.stop();
        started.targets.delete(target);
      }
    }
    repeats.push(results);
  }
  const summary = summarise(repeats);
  const mainName = repeats[0][0].target;
  const inv: Invocation = {
    scenario: o.scenario,
    command: `npm run loadtest -- ${argv.join(" ")}`,
    date: new Date().toISOString(),
    machine: machineInfo(),
    options: o,
    repeats,
    summary,
    ratios: ratios(summary, mainName),
    chart: `${base}.svg`,
    resultFile: `${base}.json`,
  };
  fs.writeFileSync(inv.chart, renderChart(`${o.scenario} (${inv.date.slice(0, 16)}Z, ${inv.machine.nproc} cores)`, repeats[0], o.p99LimitMs));
  fs.writeFileSync(inv.resultFile, JSON.stringify(inv, null, 1));
  if (!o.quiet) { printSummary(inv); }
  return inv;
}

async function cleanup() {
  for (const c of started.children) { try { c.kill("SIGKILL"); } catch { /* gone */ } }
  await Promise.all([...started.targets].map((t) => t.stop().catch(() => {})));
}

if (require.main === module) {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => { console.error(`loadtest: ${sig}, stopping what it started`); void cleanup().finally(() => process.exit(130)); });
  }
  main(process.argv.slice(2)).then(
    async () => { await cleanup(); process.exit(0); },
    async (e) => { console.error(e instanceof Error ? e.stack : e); await cleanup(); process.exit(1); },
  );
}
