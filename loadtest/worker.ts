/**
 * A load-generator worker: one process driving many clients (customers and the
 * agents serving them) against one target, reporting counters and latency
 * histograms to the main process every second. Forked by loadtest/index.ts.
 * Every loop is bounded: arrivals by the target, sends by the conversation's
 * life, retries by a count, waits by a deadline.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { signToken } from "../server/auth";
import { errorCode, join, now, RETRYABLE, type Conn, type Delivered } from "./drivers";
import { Hist } from "./hist";
import {
  zeroCounters, type Counters, type MainToWorker, type StatsDelta, type VerifyResult, type WorkerConfig, type WorkerToMain,
} from "./types";

// the SDK logs every reconnection attempt; count warnings instead of printing thousands
const warnings: string[] = [];
console.info = () => {};
console.warn = (...args: unknown[]) => { if (warnings.length < 5) { warnings.push(args.map(String).join(" ").slice(0, 200)); } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (a: number, b: number) => a + Math.random() * (b - a);

let cfg!: WorkerConfig;
let counters: Counters = zeroCounters();
let errors: Record<string, number> = {};
let hists = { delivery: new Hist(), ack: new Hist(), join: new Hist(), agentJoin: new Hist() };
let target = 0;
let stopping = false;
let convSeq = 0;
const conversations = new Set<Conversation>();
/** customerId -> message id -> acknowledged seq (kept only with --verify: it grows with every message) */
const acked = new Map<string, Map<string, number>>();
const agents: { id: string; token: string; rooms: number }[] = [];
let padding = "";

function send(msg: WorkerToMain) { process.send?.(msg); }
function countError(code: string) { errors[code] = (errors[code] ?? 0) + 1; }

async function tokenFor(sub: string, role: "customer" | "agent") {
  return cfg.target === "chat" ? signToken(cfg.secret, { sub, role, name: sub }, "6h") : undefined;
}

function pickUrl(i: number) { return cfg.urls[i % cfg.urls.length]; }

async function agentFor(): Promise<{ id: string; token: string; rooms: number }> {
  const free = agents.find((a) => a.rooms < cfg.perAgent);
  if (free) { free.rooms++; return free; }
  const id = `a${cfg.tag}w${cfg.index}x${agents.length}`;
  const agent = { id, token: (await tokenFor(id, "agent")) ?? "", rooms: 1 };
  agents.push(agent);
  return agent;
}

async function waitOpen(conn: Conn, ms: number) {
  const deadline = Date.now() + ms;
  while (!conn.isOpen() && !conn.dead && Date.now() < deadline) { await sleep(50); }
  return conn.isOpen();
}

type Phase = "joining" | "talking" | "idling" | "ending" | "done";

class Conversation {
  readonly customerId: string;
  customer?: Conn;
  agent?: Conn;
  agentRef?: { rooms: number };
  phase: Phase = "joining";
  private timers = new Set<NodeJS.Timeout>();
  private inflight = 0;
  private sentBy = new Map<Conn, number>();
  private msgSeq = 0;
  private ended?: (reason: string) => void;
  private endedReason: string | null = null;
  /** a message of this conversation was acknowledged: it is active on the server */
  private talked = false;
  /** connections with a read receipt scheduled (per conversation, so it goes with it) */
  private readPending = new Set<Conn>();
  /** the id of the message each connection is sending now */
  private sending = new Map<Conn, string>();
  /**
   * messages whose sender dropped while sending them: the client library sends them
   * again after its rejoin, with the text (and so the send time) of the first attempt;
   * their delivery is not timed (counted as `catchup`), as a retry's wait is not
   */
  private resent = new Set<string>();

  constructor() {
    this.customerId = `c${cfg.tag}w${cfg.index}n${convSeq++}`;
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  async start() {
    counters.arrivals++;
    const urlIndex = convSeq;
    try {
      const token = await tokenFor(this.customerId, "customer");
      const t0 = now();
      this.customer = await join({ target: cfg.target, url: pickUrl(urlIndex), urls: cfg.urls, token, userId: this.customerId, role: "customer", customerId: this.customerId });
      hists.join.record(now() - t0);
      counters.joins++;
      this.wire(this.customer);
      if (cfg.agents && !stopping) {
        const agent = await agentFor();
        this.agentRef = agent;
        const t1 = now();
        this.agent = await join({ target: cfg.target, url: pickUrl(urlIndex + 1), urls: cfg.urls, token: agent.token, userId: agent.id, role: "agent", customerId: this.customerId });
        hists.agentJoin.record(now() - t1);
        counters.agentJoins++;
        this.wire(this.agent);
      }
    } catch (e) {
      counters.joinFailures++;
      const code = errorCode(e);
      countError(code.startsWith("join:") ? code : `join:${code}`);
      await this.finish();
      return;
    }
    if (stopping) { await this.finish(); return; }
    this.phase = "talking";
    for (const conn of [this.customer, this.agent]) {
      if (conn) { this.later(Math.random() * cfg.msgIntervalMs, () => this.sendLoop(conn)); }
    }
    const life = rand(cfg.convSeconds[0], cfg.convSeconds[1]) * 1000;
    if (life > 0) { this.later(life, () => void this.end()); }
  }

  private wire(conn: Conn) {
    conn.onDelivered = (message, catchupBefore) => this.delivered(conn, message, catchupBefore);
    conn.onDropped = () => {
      const id = this.sending.get(conn);
      if (id !== undefined) { this.resent.add(id); }
    };
    conn.onEnded = (reason) => {
      if (conn !== this.customer) { return; }
      this.endedReason = reason;
      this.ended?.(reason);
    };
    conn.onReconnected = () => { counters.reconnects++; };
    conn.onGone = (code) => {
      if (this.phase === "done" || this.phase === "ending" && code === 4000) { return; }
      if (code === 4000 || code === 1000) { return; }
      counters.gone++;
      countError(`gone:${code}`);
      if (this.phase === "talking" || this.phase === "idling") { void this.finish(); }
    };
  }

  private delivered(conn: Conn, m: Delivered, catchupBefore: number) {
    counters.delivered++;
    if (m.text.startsWith("lt:")) {
      const sentAt = parseFloat(m.text.slice(3, m.text.indexOf(":", 3)));
      if (catchupBefore && sentAt < catchupBefore || this.resent.has(m.id)) { counters.catchup++; } else { hists.delivery.record(now() - sentAt); }
    }
    if (cfg.readReceipts && this.phase === "talking" && !this.readPending.has(conn)) {
      this.readPending.add(conn);
      this.later(rand(300, 1500), () => {
        this.readPending.delete(conn);
        if (this.phase !== "talking" || !conn.isOpen()) { return; }
        conn.request("read", { seq: conn.lastSeq }).then(() => { counters.reads++; }, (e) => countError(`read:${errorCode(e)}`));
      });
    }
  }

  private sendLoop(conn: Conn) {
    if (this.phase !== "talking" || stopping) { return; }
    // the customer starts the conversation: an agent's send with none is refused (docs/desk.md)
    if (conn === this.agent && !this.talked) { this.later(100, () => this.sendLoop(conn)); return; }
    const n = this.sentBy.get(conn) ?? 0;
    if (cfg.sendsPerConversation > 0 && n >= cfg.sendsPerConversation) { return; }
    this.sentBy.set(conn, n + 1);
    this.inflight++;
    void this.sendOne(conn).finally(() => {
      this.inflight--;
      this.later(cfg.msgIntervalMs * rand(0.5, 1.5), () => this.sendLoop(conn));
    });
  }

  private async sendOne(conn: Conn) {
    const id = `${this.customerId}m${this.msgSeq++}`;
    // typing needs an active conversation: the first message of a conversation starts it
    const typing = this.talked && Math.random() < cfg.typingShare;
    if (typing && conn.isOpen()) {
      conn.request("typing", { typing: true }).then(() => { counters.typing++; }, (e) => countError(`typing:${errorCode(e)}`));
    }
    counters.sent++;
    for (let attempt = 0; attempt < 6; attempt++) {
      if (!conn.isOpen() && !(await waitOpen(conn, 20_000))) { countError("send_gave_up"); break; }
      if (attempt > 0) { counters.retries++; }
      const t0 = now();
      const text = `lt:${t0.toFixed(3)}:${padding}`;
      this.sending.set(conn, id);
      try {
        const { seq, since } = await conn.send(id, text, t0);
        // sent again after a rejoin (chat): timed from the attempt that was answered
        if (since > t0) { counters.retries++; }
        hists.ack.record(now() - since);
        counters.acked++;
        this.talked = true;
        if (cfg.verify) {
          let room = acked.get(this.customerId);
          if (!room) { room = new Map(); acked.set(this.customerId, room); }
          room.set(id, seq);
        }
        break;
      } catch (e) {
        const code = errorCode(e);
        countError(`send:${code}`);
        if (!RETRYABLE.has(code)) { break; }
        await sleep(code === "rate_limited" ? 1_000 : 100);
      }
    }
    this.sending.delete(conn);
    if (typing && conn.isOpen() && this.phase === "talking") {
      conn.request("typing", { typing: false }).then(() => { counters.typing++; }, (e) => countError(`typing:${errorCode(e)}`));
    }
  }

  private async drain(ms: number) {
    const deadline = Date.now() + ms;
    while (this.inflight > 0 && Date.now() < deadline) { await sleep(20); }
  }

  private waitEnded(ms: number) {
    if (this.endedReason !== null) { return Promise.resolve(this.endedReason); }
    return new Promise<string | null>((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      this.ended = (reason) => { clearTimeout(t); resolve(reason); };
    });
  }

  /** The conversation's life is over: by the agent (`end`) or left idle until the server ends it. */
  async end() {
    if (this.phase !== "talking") { return; }
    const byIdle = cfg.target === "chat" && Math.random() < cfg.idleShare || !this.agent;
    this.phase = byIdle ? "idling" : "ending";
    for (const t of this.timers) { clearTimeout(t); }
    this.timers.clear();
    await this.drain(15_000);
    if (byIdle) {
      if (cfg.target !== "chat") { await this.finish(); return; }
      const reason = await this.waitEnded(cfg.idleWaitMs);
      if (reason === "idle") { counters.endsByIdle++; } else if (!stopping) { countError(reason === null ? "idle_end_missing" : `ended:${reason}`); }
    } else {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!(await waitOpen(this.agent!, 15_000))) { break; }
        try {
          await this.agent!.request("end", { reason: "ended_by_agent" });
          counters.endsByAgent++;
          break;
        } catch (e) {
          const code = errorCode(e);
          countError(`end:${code}`);
          if (!RETRYABLE.has(code)) { break; }
        }
      }
      if (cfg.target === "chat") { await this.waitEnded(5_000); }
    }
    await this.finish();
  }

  async finish() {
    if (this.phase === "done") { return; }
    this.phase = "done";
    for (const t of this.timers) { clearTimeout(t); }
    this.timers.clear();
    conversations.delete(this);
    if (this.agentRef) { this.agentRef.rooms--; }
    await Promise.all([this.customer?.leave(), this.agent?.leave()].map((p) => p?.catch(() => {})));
  }

  /** Run over: stop sending, keep the connections until the end (for verification). */
  async stop() {
    for (const t of this.timers) { clearTimeout(t); }
    this.timers.clear();
    await this.drain(15_000);
  }

  openConns(): Conn[] {
    return [this.customer, this.agent].filter((c): c is Conn => !!c && c.isOpen());
  }
}

/**
 * The generator's own event-loop delay: when it stalls, its clients read and send
 * late and the latencies it records grow without the server being slow. Reported
 * per interval so the report can tell the two apart.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function gauges() {
  let conns = 0;
  let talking = 0;
  for (const c of conversations) {
    conns += c.openConns().length;
    if (c.phase === "talking") { talking++; }
  }
  const loopP99Ms = loopDelay.percentile(99) / 1e6;
  loopDelay.reset();
  return { conversations: talking, conns, target, loopP99Ms };
}

function emitStats() {
  const stats: StatsDelta = {
    index: cfg.index,
    at: Date.now(),
    counters,
    errors,
    hists: { delivery: hists.delivery.toJSON(), ack: hists.ack.toJSON(), join: hists.join.toJSON(), agentJoin: hists.agentJoin.toJSON() },
    gauges: gauges(),
  };
  send({ type: "stats", stats });
  counters = zeroCounters();
  errors = {};
  hists = { delivery: new Hist(), ack: new Hist(), join: new Hist(), agentJoin: new Hist() };
}

let arrivalTokens = 0;
let lastArrivalTick = performance.now();
function arrivals() {
  const t = performance.now();
  arrivalTokens = Math.min(Math.max(1, cfg.arrivalPerSec), arrivalTokens + (cfg.arrivalPerSec * (t - lastArrivalTick)) / 1000);
  lastArrivalTick = t;
  while (!stopping && conversations.size < target && arrivalTokens >= 1) {
    arrivalTokens -= 1;
    const conversation = new Conversation();
    conversations.add(conversation);
    void conversation.start();
  }
}

let dropCarry = 0;
function drops() {
  if (stopping || cfg.dropPerMin <= 0) { return; }
  const talking = [...conversations].filter((c) => c.phase === "talking");
  const open = talking.flatMap((c) => c.openConns());
  dropCarry += (cfg.dropPerMin / 60) * open.length;
  for (let tries = 0; dropCarry >= 1 && tries < 1000 && open.length > 0; tries++) {
    const i = Math.floor(Math.random() * open.length);
    const conn = open[i];
    open.splice(i, 1);
    if (conn.drop()) { counters.drops++; dropCarry -= 1; }
  }
  if (open.length === 0) { dropCarry = 0; }
}

/** Pages `conversations` and `history` of every room this worker wrote to and checks every acknowledged message. */
async function verify(): Promise<VerifyResult> {
  const started = Date.now();
  const result: VerifyResult = { rooms: 0, acked: 0, found: 0, lost: 0, seqMismatch: 0, failedRooms: 0, ms: 0, examples: [] };
  const verifierId = `v${cfg.tag}w${cfg.index}`;
  const token = (await tokenFor(verifierId, "agent"))!;
  const rooms = [...acked.entries()];
  let next = 0;
  const deadline = Date.now() + 120_000;
  const one = async (customerId: string, ids: Map<string, number>) => {
    let conn: Conn | undefined;
    for (let attempt = 0; attempt < 3 && !conn; attempt++) {
      try {
        conn = await join({ target: "chat", url: pickUrl(attempt), urls: cfg.urls, token, userId: verifierId, role: "agent", customerId });
      } catch (e) {
        if (attempt === 2) { throw e; }
        await sleep(500);
      }
    }
    try {
      const stored = new Map<string, number>();
      const conversationIds = new Set<string>();
      let before: number | undefined;
      for (let page = 0; page < 50; page++) {
        const { conversations: list } = await conn!.request("conversations", { ...(before !== undefined ? { before } : {}), limit: 200 });
        for (const c of list) { conversationIds.add(c.id); }
        if (list.length < 200) { break; }
        before = list[list.length - 1].startedAt;
      }
      const latest = await conn!.request("history", { limit: 1 });
      if (latest.conversationId) { conversationIds.add(latest.conversationId); }
      for (const conversationId of conversationIds) {
        let after = 0;
        for (let page = 0; page < 1000; page++) {
          const { messages } = await conn!.request("history", { conversationId, after, limit: 200 });
          for (const m of messages) { stored.set(m.id, m.seq); }
          if (messages.length < 200) { break; }
          after = messages[messages.length - 1].seq;
        }
      }
      for (const [id, seq] of ids) {
        result.acked++;
        const s = stored.get(id);
        if (s === undefined) {
          result.lost++;
          if (result.examples.length < 10) { result.examples.push(`lost ${id} (seq ${seq}) in cc-${customerId}`); }
        } else if (s !== seq) {
          result.seqMismatch++;
          if (result.examples.length < 10) { result.examples.push(`${id}: acked seq ${seq}, stored ${s}`); }
        } else { result.found++; }
      }
    } finally {
      await conn?.leave();
    }
  };
  const runner = async () => {
    while (next < rooms.length && Date.now() < deadline) {
      const [customerId, ids] = rooms[next++];
      result.rooms++;
      try { await one(customerId, ids); } catch (e) {
        result.failedRooms++;
        result.acked += ids.size;
        result.lost += ids.size;
        if (result.examples.length < 10) { result.examples.push(`cc-${customerId}: verification failed: ${errorCode(e)}`); }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, runner));
  for (; next < rooms.length; next++) { result.failedRooms++; result.acked += rooms[next][1].size; }
  result.ms = Date.now() - started;
  return result;
}

async function stop() {
  if (stopping) { return; }
  stopping = true;
  clearInterval(arrivalTimer);
  clearInterval(dropTimer);
  await Promise.all([...conversations].map((c) => c.stop()));
  clearInterval(statsTimer);
  emitStats();
  send({ type: "drained" });
  const result = cfg.verify && cfg.target === "chat" ? await verify() : null;
  if (warnings.length) { send({ type: "log", text: `worker ${cfg.index} warnings: ${warnings.join(" | ")}` }); }
  const all = [...conversations];
  for (let i = 0; i < all.length; i += 200) {
    await Promise.all(all.slice(i, i + 200).map((c) => c.finish()));
  }
  send({ type: "done", verify: result });
  setTimeout(() => process.exit(0), 200);
}

let arrivalTimer: NodeJS.Timeout;
let dropTimer: NodeJS.Timeout;
let statsTimer: NodeJS.Timeout;

process.on("message", (msg: MainToWorker) => {
  switch (msg.type) {
    case "start":
      cfg = msg.config;
      padding = "x".repeat(Math.max(0, cfg.textBytes - 20));
      arrivalTimer = setInterval(arrivals, 50);
      dropTimer = setInterval(drops, 1_000);
      statsTimer = setInterval(emitStats, cfg.statsEveryMs);
      break;
    case "target":
      target = msg.conversations;
      break;
    case "stop":
      void stop();
      break;
  }
});
// the main process went away: never outlive it
process.on("disconnect", () => process.exit(0));
