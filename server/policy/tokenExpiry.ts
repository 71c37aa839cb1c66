/**
 * A connection lives no longer than its token: the room warns the client
 * (`token_expiring { exp }`) ahead of the token's `exp` so it can send `refresh`,
 * and closes the connection with TOKEN_EXPIRED_CLOSE_CODE at `exp`. The rules are
 * pure functions; the tracker holds one timer per connection (session id, which
 * survives a reconnection) and leaves the acting to the room through its hooks.
 */
import type { Identity, TokenVerifier } from "../auth";
import { RequestError } from "../errors";

/** Close code of a connection whose token expired (docs/protocol.md). */
export const TOKEN_EXPIRED_CLOSE_CODE = 4003;

/** How long before exp a long-lived token's connection is warned. */
export const WARN_BEFORE_MS = 60_000;

/** setTimeout fires at once for delays beyond this; longer waits are re-planned. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When to warn, fixed when a token is tracked or refreshed: `warnBeforeMs` before
 * exp, or half-way through what is left of a short token, so its client still has
 * time to refresh.
 */
export function warnAt(expMs: number, nowMs: number, warnBeforeMs = WARN_BEFORE_MS): number {
  const remaining = Math.max(0, expMs - nowMs);
  return expMs - Math.min(warnBeforeMs, Math.floor(remaining / 2));
}

export interface ExpiryPlan { expMs: number; warnAtMs: number; warned: boolean }
export interface Step { action: "warn" | "expire"; inMs: number }

/** The next thing to do for a connection and when; a token already past exp is not warned about. */
export function nextStep(plan: ExpiryPlan, nowMs: number): Step {
  if (nowMs >= plan.expMs) { return { action: "expire", inMs: 0 }; }
  if (!plan.warned) { return { action: "warn", inMs: Math.max(0, plan.warnAtMs - nowMs) }; }
  return { action: "expire", inMs: plan.expMs - nowMs };
}

export interface Timers { setTimeout(fn: () => void, ms: number): { clear(): void } }
export interface ExpiryHooks {
  warn(sessionId: string, exp: number): void;
  expire(sessionId: string): void;
}

interface Entry extends ExpiryPlan { exp: number; expired: boolean; timer?: { clear(): void } }

export class TokenExpiryTracker {
  private entries = new Map<string, Entry>();

  constructor(
    private timers: Timers,
    private hooks: ExpiryHooks,
    private warnBeforeMs = WARN_BEFORE_MS,
    private now: () => number = Date.now,
  ) {}

  /** Starts watching a connection's token, or moves its expiry to a refreshed token's `exp` (seconds). */
  track(sessionId: string, exp: number) {
    this.entries.get(sessionId)?.timer?.clear();
    const expMs = exp * 1000;
    const entry: Entry = { exp, expMs, warnAtMs: warnAt(expMs, this.now(), this.warnBeforeMs), warned: false, expired: false };
    this.entries.set(sessionId, entry);
    this.plan(sessionId, entry);
  }

  untrack(sessionId: string) {
    this.entries.get(sessionId)?.timer?.clear();
    this.entries.delete(sessionId);
  }

  /** A connection whose token ran out: it must not be resumed by a reconnection. */
  isExpired(sessionId: string): boolean {
    return this.entries.get(sessionId)?.expired ?? false;
  }

  /** The exp a connection was warned about and has not refreshed since (to warn again after a reconnection). */
  warned(sessionId: string): number | undefined {
    const entry = this.entries.get(sessionId);
    return entry?.warned && !entry.expired ? entry.exp : undefined;
  }

  clear() {
    for (const entry of this.entries.values()) { entry.timer?.clear(); }
    this.entries.clear();
  }

  private plan(sessionId: string, entry: Entry) {
    const step = nextStep(entry, this.now());
    entry.timer = this.timers.setTimeout(() => {
      if (this.entries.get(sessionId) !== entry) { return; }
      const due = nextStep(entry, this.now());
      if (due.inMs > 0) { this.plan(sessionId, entry); return; } // a capped wait: not yet
      if (due.action === "warn") {
        entry.warned = true;
        this.hooks.warn(sessionId, entry.exp);
        this.plan(sessionId, entry);
      } else {
        entry.expired = true;
        entry.timer = undefined;
        this.hooks.expire(sessionId);
      }
    }, Math.min(step.inMs, MAX_TIMER_MS));
  }
}

/** What RoomTokens needs of a connection (a Colyseus client of the chat rooms). */
export interface TokenClient {
  sessionId: string;
  auth?: unknown;
  send(type: string, message?: unknown): void;
  leave(code?: number, data?: string): void;
}

/**
 * The tokens of one room's connections: one tracker per room actor, whose timers
 * run on the room's clock (cleared when the actor is disposed). The room calls it
 * from onJoin, onDrop, onReconnect, onLeave and the `refresh` request.
 */
export class RoomTokens {
  private tracker: TokenExpiryTracker;

  constructor(private room: { clock: Timers; clients: Iterable<TokenClient> }) {
    this.tracker = new TokenExpiryTracker(
      { setTimeout: (fn, ms) => this.room.clock.setTimeout(fn, ms) },
      {
        warn: (sessionId, exp) => this.client(sessionId)?.send("token_expiring", { exp }),
        // a dropped connection is not found: its reconnection is refused instead (reconnected)
        expire: (sessionId) => this.client(sessionId)?.leave(TOKEN_EXPIRED_CLOSE_CODE, "token expired"),
      },
    );
  }

  joined(client: TokenClient) {
    const exp = (client.auth as Identity | undefined)?.exp;
    if (exp !== undefined) { this.tracker.track(client.sessionId, exp); }
  }

  left(client: TokenClient) {
    this.tracker.untrack(client.sessionId);
  }

  /** onDrop: a connection closed for its expired token gets no reconnection seat. */
  mayReconnect(client: TokenClient): boolean {
    return !this.tracker.isExpired(client.sessionId);
  }

  /**
   * onReconnect: a token that ran out while the client was away ends the
   * reconnection at once (Colyseus then refuses it and calls onLeave); a warning
   * sent while it was away is sent again.
   */
  reconnected(client: TokenClient) {
    if (this.tracker.isExpired(client.sessionId)) { client.leave(TOKEN_EXPIRED_CLOSE_CODE, "token expired"); return; }
    const exp = this.tracker.warned(client.sessionId);
    if (exp !== undefined) { client.send("token_expiring", { exp }); }
  }

  /**
   * The `refresh` request: the new token passes the same verifier as a join and
   * names the same user and role (a connection never changes hands); the
   * connection's expiry moves to its exp. Name and teams stay as at the join.
   */
  async refresh(client: TokenClient, token: string, verifier: TokenVerifier): Promise<{ exp: number }> {
    // the verifier's refusal (auth_invalid, auth_expired) is the request's rejection as it is
    const fresh = await verifier.verify(token);
    const current = client.auth as Identity;
    if (fresh.sub !== current.sub || fresh.role !== current.role) {
      throw new RequestError("forbidden", "refresh: the token must name the connection's user and role");
    }
    if (this.tracker.isExpired(client.sessionId)) { throw new RequestError("auth_expired", "refresh: the connection's token already expired"); }
    current.exp = fresh.exp;
    this.tracker.track(client.sessionId, fresh.exp!);
    return { exp: fresh.exp! };
  }

  private client(sessionId: string): TokenClient | undefined {
    for (const client of this.room.clients) { if (client.sessionId === sessionId) { return client; } }
    return undefined;
  }
}
