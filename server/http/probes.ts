import { matchMaker } from "@colyseus/core";
import type Redis from "ioredis";
import { logger } from "../logger";
import type { RoomStore } from "../store/types";

/** One dependency's last answer: ok with its round trip, or why not. */
export type ProbeResult = { ok: true; ms: number } | { ok: false; error: string; ms?: number };

export interface HealthReport {
  status: "ok" | "unavailable";
  /** "embedded" without REDIS_URL */
  redis: ProbeResult | "embedded";
  store: ProbeResult;
  matchmaker: string;
  /** true once SIGTERM started the drain (server/wiring/app.ts) */
  draining: boolean;
}

export interface ProbeOptions {
  /** longest wait for one ping (HEALTH_PROBE_TIMEOUT_MS) */
  timeoutMs: number;
  /** a report younger than this is answered as is (HEALTH_CACHE_MS) */
  cacheMs: number;
  /** the background probe that keeps `down()` current for the join gate (HEALTH_INTERVAL_MS) */
  intervalMs: number;
}

/**
 * Pings Redis and the store with a timeout each, in parallel, so `/health` and
 * `/ready` answer within one timeout however dead a dependency is, and say which one
 * is down. Cheap under load-balancer polling: concurrent callers share one probe
 * round, a round is reused for `cacheMs`, and a ping still unanswered from an
 * earlier round is not sent again (a frozen server would otherwise collect a queue
 * of pings): it counts as down until it answers.
 *
 * A background round every `intervalMs` keeps the last report fresh for the
 * matchmaking gate (server/http/matchmakeErrors.ts): joins are refused with
 * `unavailable` at once while a dependency is down.
 */
export class DependencyProbes {
  private last: HealthReport | undefined;
  private lastAt = 0;
  private round: Promise<HealthReport> | undefined;
  private pending = new Map<string, { since: number }>();
  private timer: NodeJS.Timeout | undefined;
  draining = false;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly store: RoomStore,
    private readonly options: ProbeOptions,
  ) {}

  start() {
    this.timer = setInterval(() => { void this.report(true); }, this.options.intervalMs);
    this.timer.unref();
  }

  stop() { clearInterval(this.timer); }

  /** The last report's verdict without waiting (no report yet: not down). */
  down(): string | null {
    const r = this.last;
    if (!r) { return null; }
    if (r.redis !== "embedded" && !r.redis.ok) { return "redis"; }
    if (!r.store.ok) { return "store"; }
    return null;
  }

  /** A report at most `cacheMs` old; `fresh`: a new round (still shared with a round in flight). */
  report(fresh = false): Promise<HealthReport> {
    if (!fresh && this.last && Date.now() - this.lastAt < this.options.cacheMs) { return Promise.resolve(this.last); }
    this.round ??= this.probeAll().finally(() => { this.round = undefined; });
    return this.round;
  }

  private async probeAll(): Promise<HealthReport> {
    const [redis, store] = await Promise.all([
      this.redis ? this.ping("redis", () => this.redis!.ping()) : Promise.resolve("embedded" as const),
      this.ping("store", () => this.store.ping()),
    ]);
    const ok = (redis === "embedded" || redis.ok) && store.ok && matchMaker.state === matchMaker.MatchMakerState.READY;
    const report: HealthReport = { status: ok ? "ok" : "unavailable", redis, store, matchmaker: matchStateName(), draining: this.draining };
    // logged when the verdict changes (a node that starts with a dependency down says so too)
    if ((this.down() === null) !== (downOf(report) === null)) {
      logger.warn({ redis, store }, downOf(report) ? "a dependency is down" : "dependencies are back");
    }
    this.last = report;
    this.lastAt = Date.now();
    return report;
  }

  private async ping(name: string, call: () => Promise<unknown>): Promise<ProbeResult> {
    const waiting = this.pending.get(name);
    if (waiting) { return { ok: false, error: `no answer for ${Date.now() - waiting.since} ms`, ms: Date.now() - waiting.since }; }
    const since = Date.now();
    const entry = { since };
    this.pending.set(name, entry);
    let timer: NodeJS.Timeout | undefined;
    const answered = call().then(
      () => ({ ok: true as const, ms: Date.now() - since }),
      (e) => ({ ok: false as const, error: firstLine(e), ms: Date.now() - since }),
    ).finally(() => { if (this.pending.get(name) === entry) { this.pending.delete(name); } });
    const timedOut = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${this.options.timeoutMs} ms` }), this.options.timeoutMs);
    });
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const downOf = (r: HealthReport) => (r.redis !== "embedded" && !r.redis.ok ? "redis" : !r.store.ok ? "store" : null);

function matchStateName(): string {
  const names: Record<number, string> = { [matchMaker.MatchMakerState.INITIALIZING]: "initializing", [matchMaker.MatchMakerState.READY]: "ready", [matchMaker.MatchMakerState.SHUTTING_DOWN]: "shutting_down" };
  return names[matchMaker.state] ?? String(matchMaker.state);
}

/** The first line of a driver's error, for the operator's eyes on /health only. */
function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n", 1)[0]!.slice(0, 200);
}
