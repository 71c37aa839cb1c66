import type { Config } from "../config";
import { TokenBucket, type Clock } from "./rateLimit";

/**
 * Request budgets per user: every request type and joins belong to a class with
 * its own token bucket, keyed by user id and shared by all of that user's
 * connections on this process (a per-connection limit is multiplied by opening
 * more connections). Documented in docs/security.md (limits table).
 */
export type BudgetClass = "send" | "signal" | "query" | "desk" | "join";

export const BUDGET_CLASSES: readonly BudgetClass[] = ["send", "signal", "query", "desk", "join"];

const CLASS_OF: ReadonlyMap<string, BudgetClass> = new Map<string, BudgetClass>([
  ["send", "send"],
  ["read", "signal"],
  ["typing", "signal"],
  ["history", "query"],
  ["conversations", "query"],
  ["end", "desk"],
  ["transfer", "desk"],
  ["invite", "desk"],
  ["handover", "desk"],
  ["barge", "desk"],
  ["accept", "desk"],
  ["status", "desk"],
  ["start", "desk"],
  ["follow_up", "desk"],
  ["csat", "desk"],
  ["wrap_up_reasons", "query"],
  ["canned", "query"],
  ["canned_set", "desk"],
]);

/** The class of a request or plain message type; unknown types cost like a signal. */
export function budgetClassOf(type: string): Exclude<BudgetClass, "join"> {
  return (CLASS_OF.get(type) as Exclude<BudgetClass, "join"> | undefined) ?? "signal";
}

/**
 * Tokens a request costs. Reads of stored data cost by page: a page of
 * `pageDefault` items is one token, so `history` with limit 200 costs 4 and
 * a user cannot get more rows per second by asking for bigger pages.
 */
export function requestCost(type: string, raw: unknown, pageDefault: number, pageMax: number): number {
  if (budgetClassOf(type) !== "query") { return 1; }
  const asked = raw !== null && typeof raw === "object" ? (raw as { limit?: unknown }).limit : undefined;
  const limit = typeof asked === "number" && Number.isFinite(asked) ? Math.min(Math.max(Math.floor(asked), 1), pageMax) : pageDefault;
  return Math.max(1, Math.ceil(limit / pageDefault));
}

export interface Rate { rate: number; burst: number }
export type BudgetRates = Record<BudgetClass, Rate>;

export function budgetRates(config: Pick<Config,
  "messagesPerSecond" | "messagesBurst" | "signalsPerSecond" | "queriesPerSecond" | "deskActionsPerSecond" | "joinsPerSecond">): BudgetRates {
  return {
    send: { rate: config.messagesPerSecond, burst: config.messagesBurst },
    signal: { rate: config.signalsPerSecond, burst: config.signalsPerSecond * 2 },
    query: { rate: config.queriesPerSecond, burst: config.queriesPerSecond * 2 },
    desk: { rate: config.deskActionsPerSecond, burst: config.deskActionsPerSecond * 2 },
    join: { rate: config.joinsPerSecond, burst: config.joinsPerSecond * 2 },
  };
}

const UNITS: Record<BudgetClass, string> = {
  send: "messages", signal: "read, typing or other signals", query: "pages of history or conversations",
  desk: "desk actions", join: "joins",
};

/** The rejection text of an over-budget request. */
export function overBudgetMessage(cls: BudgetClass, rates: BudgetRates): string {
  return `more than ${rates[cls].rate} ${UNITS[cls]} per second (per user)`;
}

/** The per-user buckets of one process; users whose buckets are all full again are forgotten. */
export class UserBudgets {
  private users = new Map<string, Partial<Record<BudgetClass, TokenBucket>>>();
  private sweptAt: number;

  constructor(readonly rates: BudgetRates, private now: Clock = Date.now, private sweepEveryMs = 10_000) {
    this.sweptAt = now();
  }

  take(userId: string, cls: BudgetClass, cost = 1): boolean {
    this.sweep();
    let buckets = this.users.get(userId);
    if (!buckets) { this.users.set(userId, buckets = {}); }
    const bucket = buckets[cls] ??= new TokenBucket(this.rates[cls].rate, this.rates[cls].burst, this.now);
    return bucket.take(cost);
  }

  /** Users with a bucket in memory (for tests and metrics). */
  get size(): number { return this.users.size; }

  private sweep() {
    const now = this.now();
    if (now - this.sweptAt < this.sweepEveryMs) { return; }
    this.sweptAt = now;
    for (const [userId, buckets] of this.users) {
      if (Object.values(buckets).every((b) => b!.isFull())) { this.users.delete(userId); }
    }
  }
}

const registries = new WeakMap<object, UserBudgets>();

/**
 * The registry of a configuration: the wiring (server/wiring/app.ts) puts a node's
 * into its Services, so every room of the process charges the same buckets; code
 * handed only the configuration finds the same registry here.
 */
export function budgetsFor(config: Parameters<typeof budgetRates>[0]): UserBudgets {
  let budgets = registries.get(config);
  if (!budgets) { registries.set(config, budgets = new UserBudgets(budgetRates(config))); }
  return budgets;
}
