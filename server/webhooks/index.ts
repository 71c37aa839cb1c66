import { createHmac, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import client from "prom-client";
import type { Config } from "../config";
import { logger } from "../logger";
import { registry } from "../metrics";
import type { OutboxEntry, RoomStore } from "../store/types";
import { CHANNEL_EVENT, type GivenUpDelivery } from "../channels/events";

/**
 * Webhooks for applications (a CRM following along): every event of a room is
 * appended to the room's outbox in the store, and a dispatcher POSTs the outbox,
 * oldest first, to every WEBHOOK_URLS endpoint, signed with HMAC-SHA256 and retried
 * with jittered exponential backoff.
 *
 * - At least once, with a stable delivery id (`X-CC-Delivery`, the event id).
 * - In order per room: an entry leaves the outbox only when every endpoint took it
 *   (or it was given up), and only then is the next one sent. Rooms are independent.
 * - Durable: on Redis the outbox outlives the process that wrote it. One dispatcher
 *   drains a room's outbox at a time, holding the room's outbox lease
 *   (`leaseOutbox`): normally the node of the room's actor, which writes the events;
 *   every node also looks for outboxes nobody drains (a dead node's) every
 *   SWEEP_INTERVAL_MS and takes them over once their lease lapses.
 *
 * See docs/webhooks.md.
 */
export type WebhookEventType = "conversation.started" | "message.stored" | "conversation.ended";

export interface WebhookEvent {
  /** stable across retries: the receiver's deduplication key */
  id: string;
  type: WebhookEventType;
  roomId: string;
  conversationId: string;
  /** ms since epoch of what happened */
  at: number;
  /** conversation.*: the conversation record; message.stored: the stored message record */
  data: unknown;
}

/** What a room actor hands to `emit(roomId, event)`: id and at have defaults. */
export type WebhookEventInput = Omit<WebhookEvent, "id" | "roomId" | "at"> & { id?: string; roomId?: string; at?: number };

export interface Webhooks {
  /** false: no endpoints, so rooms write no events into their outboxes */
  readonly enabled: boolean;
  /**
   * A room's record and its events were just written together into the store
   * (server/webhooks/events.ts): deliver them now rather than at the next scan.
   */
  written(roomId: string): void;
  /**
   * Queues an event of a room for every endpoint. Never throws and never waits: the
   * event goes into the room's outbox right after, in the order of the calls.
   */
  emit(roomId: string, event: WebhookEventInput): void;
  emit(event: WebhookEvent): void;
  /**
   * Shutdown: writes what was emitted into the outbox, gives deliveries in flight
   * until `timeoutMs`, then stops this node's dispatcher and frees its leases (what
   * is left stays in the outbox for the next dispatcher). Emits after it still reach
   * the outbox.
   */
  drain(timeoutMs?: number): Promise<void>;
}

export const noWebhooks: Webhooks = { enabled: false, written() {}, emit() {}, async drain() {} };

export function signature(secret: string, timestamp: string, body: string) {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** The delivery id: `<roomId>:<seq>` for messages, `<conversationId>:started|ended`. */
export function eventId(roomId: string, event: Pick<WebhookEvent, "type" | "conversationId" | "data">) {
  if (event.type === "message.stored") { return `${roomId}:${(event.data as { seq: number }).seq}`; }
  return `${event.conversationId}:${event.type.slice("conversation.".length)}`;
}

/** Backoff before attempt `attempt + 1`: base·2^(attempt-1), capped at 60 s, the upper half jittered. */
export function backoffMs(baseMs: number, attempt: number) {
  const ceiling = Math.min(60_000, baseMs * 2 ** Math.min(attempt - 1, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** How long a dispatcher's outbox lease lasts: an attempt always ends well within it. */
export function outboxLeaseMs(config: Pick<Config, "webhookTimeoutMs">) {
  return 2 * config.webhookTimeoutMs + 1_000;
}

/**
 * `onGivenUp`: a channel delivery (server/channels/events.ts) that no attempt got
 * through; the wiring reports it to the room as a failed delivery.
 */
export function createWebhooks(config: Config, store: RoomStore, onGivenUp: (delivery: GivenUpDelivery) => void = () => {}): Webhooks {
  if (config.webhookUrls.length === 0 && Object.keys(config.connectorUrls ?? {}).length === 0) { return noWebhooks; }
  return new OutboxWebhooks(config, store, onGivenUp);
}

/** An outbox entry as the dispatcher reads it: webhook events, and channel deliveries (to their connector). */
interface OutboxEvent {
  id: string;
  type: string;
  channel?: { sessionId: string; type: string };
  data?: { seq?: number };
}

const webhookMetrics = {
  deliveries: new client.Counter({
    name: "cc_webhook_deliveries_total", help: "Webhook events per endpoint: delivered (2xx) or given up",
    labelNames: ["outcome"], registers: [registry],
  }),
  failedAttempts: new client.Counter({
    name: "cc_webhook_failed_attempts_total", help: "Webhook attempts that failed (network error, timeout, non-2xx)", registers: [registry],
  }),
  outboxErrors: new client.Counter({
    name: "cc_webhook_outbox_errors_total", help: "Failed writes of webhook events into the outbox (retried)", registers: [registry],
  }),
};

/** Outbox entries read per round trip. */
const BATCH = 20;
/** Rooms looked at per scan for outboxes nobody drains. */
const SCAN_ROOMS = 100;

type Outcome = "delivered" | "given_up" | "stopped";

class OutboxWebhooks implements Webhooks {
  /** webhook events are written only for WEBHOOK_URLS; channel deliveries whenever a connector has an endpoint */
  get enabled() { return this.config.webhookUrls.length > 0; }
  /** this node's dispatcher, as the owner of outbox leases */
  private readonly owner = `wh-${randomUUID()}`;
  private readonly leaseMs: number;
  /** emitted here, not yet in the store's outbox: per room, in emit order */
  private unwritten = new Map<string, string[]>();
  /** rooms whose unwritten events are being written now */
  private writers = new Set<string>();
  /** rooms whose outbox this node is draining now */
  private draining = new Set<string>();
  /** rooms to look at again once their current drain finishes */
  private again = new Set<string>();
  private closed = false;
  private readonly stopping = new AbortController();
  private scanTimer: NodeJS.Timeout;
  private scanning = false;

  constructor(private readonly config: Config, private readonly store: RoomStore,
    private readonly onGivenUp: (delivery: GivenUpDelivery) => void) {
    this.leaseMs = outboxLeaseMs(config);
    this.scanTimer = setInterval(() => void this.scan(), config.sweepIntervalMs);
    this.scanTimer.unref();
    // outboxes left behind by a node that died (or by this node's previous run)
    setImmediate(() => void this.scan());
  }

  emit(roomIdOrEvent: string | WebhookEvent, input?: WebhookEventInput) {
    let body: string;
    let roomId: string;
    try {
      const given = typeof roomIdOrEvent === "string" ? input! : roomIdOrEvent;
      roomId = typeof roomIdOrEvent === "string" ? roomIdOrEvent : roomIdOrEvent.roomId;
      const event: WebhookEvent = {
        id: given.id ?? eventId(roomId, given),
        type: given.type,
        roomId,
        conversationId: given.conversationId,
        at: given.at ?? Date.now(),
        data: given.data,
      };
      body = JSON.stringify(event);
    } catch (err: any) {
      logger.error({ err: err?.message }, "webhook event could not be serialised; dropped");
      return;
    }
    let list = this.unwritten.get(roomId);
    if (!list) { this.unwritten.set(roomId, list = []); }
    list.push(body);
    if (!this.writers.has(roomId)) {
      this.writers.add(roomId);
      void this.write(roomId);
    }
  }

  async drain(timeoutMs = 2_500) {
    const deadline = Date.now() + timeoutMs;
    clearInterval(this.scanTimer);
    while ((this.writers.size > 0 || this.draining.size > 0) && Date.now() < deadline) { await sleep(20); }
    this.closed = true;
    this.stopping.abort();
    // stopped dispatchers free their leases on the way out
    const freed = Date.now() + 1_000;
    while (this.draining.size > 0 && Date.now() < freed) { await sleep(10); }
  }

  // --- into the outbox ------------------------------------------------------------

  /** Writes a room's unwritten events into its outbox, in order, retrying store failures. */
  private async write(roomId: string) {
    let failures = 0;
    for (;;) {
      const list = this.unwritten.get(roomId);
      if (!list || list.length === 0) {
        // no await between this check and the cleanup: emit either sees the writer or starts one
        this.unwritten.delete(roomId);
        this.writers.delete(roomId);
        return;
      }
      const batch = list.slice(0, 100);
      try {
        await this.store.appendOutbox(roomId, batch);
        list.splice(0, batch.length);
        failures = 0;
        this.dispatch(roomId);
      } catch (err: any) {
        failures++;
        webhookMetrics.outboxErrors.inc();
        if (this.closed && failures >= 3) {
          logger.error({ roomId, events: list.length, err: err?.message }, "webhook events could not be written to the outbox at shutdown; lost");
          list.length = 0;
          continue;
        }
        logger.warn({ roomId, events: list.length, err: err?.message, failures }, "webhook outbox write failed; retrying");
        await sleep(Math.min(5_000, 50 * 2 ** failures));
      }
    }
  }

  written(roomId: string) {
    this.dispatch(roomId);
  }

  // --- out of the outbox ----------------------------------------------------------

  /** Makes sure a room's outbox is looked at: now, or right after the current drain. */
  private dispatch(roomId: string) {
    if (this.closed) { return; }
    if (this.draining.has(roomId)) { this.again.add(roomId); return; }
    this.draining.add(roomId);
    void this.drainRoom(roomId);
  }

  private async drainRoom(roomId: string) {
    for (;;) {
      this.again.delete(roomId);
      try {
        await this.drainOutbox(roomId);
      } catch (err: any) {
        // the store failed: the entries stay, the next scan (or event) tries again
        logger.warn({ roomId, err: err?.message }, "webhook outbox unavailable; retried later");
      }
      if (this.closed || !this.again.has(roomId)) {
        this.again.delete(roomId);
        this.draining.delete(roomId);
        return;
      }
    }
  }

  /** Delivers the outbox oldest first while this node holds its lease. */
  private async drainOutbox(roomId: string) {
    if (!(await this.renew(roomId))) { return; }
    let held = true;
    try {
      for (;;) {
        const entries = await this.store.readOutbox(roomId, BATCH);
        if (entries.length === 0) {
          await this.store.removeOutbox(roomId, []);
          held = false;
          await this.store.releaseOutbox(roomId, this.owner);
          // an append that came in before the release found the lease taken: look once more
          if ((await this.store.readOutbox(roomId, 1)).length === 0 || !(await this.renew(roomId))) { return; }
          held = true;
          continue;
        }
        for (const entry of entries) {
          if (!(await this.deliver(roomId, entry))) { return; }
          await this.store.removeOutbox(roomId, [entry.id]);
        }
      }
    } finally {
      if (held) { await this.store.releaseOutbox(roomId, this.owner).catch(() => undefined); }
    }
  }

  /** One entry to every endpoint; false when this node must stop (lease lost, shutdown). */
  private async deliver(roomId: string, entry: OutboxEntry): Promise<boolean> {
    let event: OutboxEvent;
    try {
      event = JSON.parse(entry.payload);
    } catch {
      logger.error({ roomId, entry: entry.id }, "unreadable webhook outbox entry; dropped");
      return true;
    }
    if (event.type === CHANNEL_EVENT && event.channel) {
      // one target: the connector of the session's channel type, with the connectors' secret
      const url = this.config.connectorUrls[event.channel.type];
      const report = (code: "gave_up" | "no_endpoint", reason: string) =>
        this.onGivenUp({ roomId, sessionId: event.channel!.sessionId, seq: Number(event.data?.seq ?? 0), code, reason });
      if (!url) { report("no_endpoint", `no connector endpoint for channel ${event.channel.type}`); return true; }
      const outcome = await this.deliverTo(url, roomId, event, entry.payload, this.config.connectorSecret);
      if (outcome === "given_up") { report("gave_up", `not accepted by the connector after ${this.config.webhookMaxAttempts} attempts`); }
      return outcome !== "stopped";
    }
    const outcomes = await Promise.all(this.config.webhookUrls.map((url) => this.deliverTo(url, roomId, event, entry.payload, this.config.webhookSecret)));
    return !outcomes.includes("stopped");
  }

  private async deliverTo(url: string, roomId: string, event: Pick<OutboxEvent, "id" | "type">, body: string, secret: string): Promise<Outcome> {
    const max = this.config.webhookMaxAttempts;
    for (let attempt = 1; ; attempt++) {
      // no attempt starts unless it ends within this node's lease (see outboxLeaseMs)
      if (!(await this.renew(roomId))) { return "stopped"; }
      const timestamp = String(Date.now());
      let failure: Record<string, unknown>;
      try {
        const res = await fetch(url, {
          method: "POST",
          body,
          redirect: "manual",
          signal: AbortSignal.any([AbortSignal.timeout(this.config.webhookTimeoutMs), this.stopping.signal]),
          headers: {
            "content-type": "application/json",
            "x-cc-event": event.type,
            "x-cc-delivery": event.id,
            "x-cc-timestamp": timestamp,
            "x-cc-signature": signature(secret, timestamp, body),
          },
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          webhookMetrics.deliveries.inc({ outcome: "delivered" });
          return "delivered";
        }
        failure = { status: res.status };
      } catch (err: any) {
        if (this.closed) { return "stopped"; }
        failure = { err: err?.cause?.code ?? err?.name ?? err?.message };
      }
      webhookMetrics.failedAttempts.inc();
      if (attempt >= max) {
        webhookMetrics.deliveries.inc({ outcome: "given_up" });
        logger.error({ url, roomId, delivery: event.id, attempts: attempt, ...failure }, "webhook given up");
        return "given_up";
      }
      logger.warn({ url, roomId, delivery: event.id, attempt, ...failure }, "webhook attempt failed");
      if (!(await this.pause(backoffMs(this.config.webhookBackoffMs, attempt), roomId))) { return "stopped"; }
    }
  }

  /**
   * Takes or renews the room's outbox lease. True only when this node holds it for
   * long enough to start an attempt that ends (timeout) before the lease does.
   */
  private async renew(roomId: string): Promise<boolean> {
    if (this.closed) { return false; }
    const asked = Date.now();
    try {
      if (!(await this.store.leaseOutbox(roomId, this.owner, this.leaseMs))) { return false; }
    } catch (err: any) {
      logger.warn({ roomId, err: err?.message }, "webhook outbox lease unavailable");
      return false;
    }
    return Date.now() + this.config.webhookTimeoutMs + 500 <= asked + this.leaseMs;
  }

  /** Backoff, keeping the lease; false when it was lost or the node stops. */
  private async pause(ms: number, roomId: string): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) { return !this.closed; }
      await sleep(Math.min(left, this.leaseMs / 3), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.closed) { return false; }
      if (end - Date.now() > 0 && !(await this.renew(roomId))) { return false; }
    }
  }

  /** Outboxes nobody drains (a dead node's, or one this node failed on): the lease decides who takes each. */
  private async scan() {
    if (this.closed || this.scanning) { return; }
    this.scanning = true;
    try {
      for (const roomId of await this.store.pendingOutboxes(SCAN_ROOMS)) { this.dispatch(roomId); }
    } catch (err: any) {
      logger.warn({ err: err?.message }, "webhook outboxes could not be listed");
    } finally {
      this.scanning = false;
    }
  }
}
