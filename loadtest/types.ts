import type { TargetKind } from "./drivers";
import type { SparseHist } from "./hist";

/** What the main process tells a worker to do (IPC). */
export interface WorkerConfig {
  index: number;
  /** short id of this run, part of every user and message id */
  tag: string;
  target: TargetKind;
  urls: string[];
  /** AUTH_SECRET of the chat target (tokens are signed with server/auth.ts signToken) */
  secret: string;
  /** customers arriving per second, in this worker */
  arrivalPerSec: number;
  /** customer rooms one agent serves at once */
  perAgent: number;
  /** mean time between two messages of one participant */
  msgIntervalMs: number;
  /** approximate size of a message text */
  textBytes: number;
  /** share of messages wrapped in typing true / false */
  typingShare: number;
  readReceipts: boolean;
  /** a conversation talks for this long (uniform in the range), then ends */
  convSeconds: [number, number];
  /** share of conversations that end by idle timeout instead of by the agent */
  idleShare: number;
  /** how long to wait for the server's idle end (CONVERSATION_IDLE_MS + margin) */
  idleWaitMs: number;
  /** share of open connections dropped (close 4010; the client library rejoins) per minute */
  dropPerMin: number;
  /** an agent joins every conversation */
  agents: boolean;
  /** join storm: each customer sends this many messages, then stays (0 = unbounded) */
  sendsPerConversation: number;
  /** at the end, page `history` and check every acknowledged message is stored */
  verify: boolean;
  statsEveryMs: number;
}

export type MainToWorker =
  | { type: "start"; config: WorkerConfig }
  | { type: "target"; conversations: number }
  | { type: "stop" };

export interface Counters {
  arrivals: number;
  joins: number;
  joinFailures: number;
  agentJoins: number;
  sent: number;
  acked: number;
  retries: number;
  delivered: number;
  /** delivered to a client that had dropped, in the resync after its reconnection: not timed */
  catchup: number;
  typing: number;
  reads: number;
  endsByAgent: number;
  endsByIdle: number;
  drops: number;
  reconnects: number;
  gone: number;
}

export const zeroCounters = (): Counters => ({
  arrivals: 0, joins: 0, joinFailures: 0, agentJoins: 0, sent: 0, acked: 0, retries: 0, delivered: 0, catchup: 0,
  typing: 0, reads: 0, endsByAgent: 0, endsByIdle: 0, drops: 0, reconnects: 0, gone: 0,
});

export interface HistJSON { counts: SparseHist; count: number; sum: number; max: number }

export interface StatsDelta {
  index: number;
  at: number;
  counters: Counters;
  errors: Record<string, number>;
  hists: { delivery: HistJSON; ack: HistJSON; join: HistJSON; agentJoin: HistJSON };
  gauges: { conversations: number; conns: number; target: number; loopP99Ms: number };
}

export interface VerifyResult {
  rooms: number;
  acked: number;
  found: number;
  lost: number;
  seqMismatch: number;
  failedRooms: number;
  ms: number;
  examples: string[];
}

export type WorkerToMain =
  | { type: "stats"; stats: StatsDelta }
  | { type: "drained" }
  | { type: "done"; verify: VerifyResult | null }
  | { type: "log"; text: string };
