import { createHmac } from "node:crypto";
import type { Config } from "./config";
import { logger } from "./logger";

/**
 * Webhooks for applications (a CRM following along): HTTP POST of each event to
 * every WEBHOOK_URLS endpoint, signed with HMAC-SHA256, retried with exponential
 * backoff. Delivery is at least once with a stable delivery id (`X-CC-Delivery`,
 * the event id) and in order per room and endpoint: an event of a room is not sent
 * before the previous one was delivered or given up. See docs/webhooks.md.
 */
export type WebhookEventType = "conversation.started" | "message.stored" | "conversation.ended";

export interface WebhookEvent {
  /** stable across retries: the receiver's deduplication key */
  id: string;
  type: WebhookEventType;
  roomId: string;
  conversationId: string;
  at: number;
  data: unknown;
}

export interface Webhooks {
  emit(event: WebhookEvent): void;
  /** resolves when everything queued now was delivered or given up (shutdown, tests) */
  drain(): Promise<void>;
}

export const noWebhooks: Webhooks = { emit() {}, async drain() {} };

export function signature(secret: string, timestamp: string, body: string) {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function createWebhooks(config: Config): Webhooks {
  if (config.webhookUrls.length === 0) { return noWebhooks; }
  return new HttpWebhooks(config);
}

class HttpWebhooks implements Webhooks {
  /** the tail of each (endpoint, room) chain: the next event waits for it */
  private chains = new Map<string, Promise<void>>();

  constructor(private config: Config) {}

  emit(event: WebhookEvent) {
    for (const url of this.config.webhookUrls) {
      const key = `${url}\u0000${event.roomId}`;
      const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.deliver(url, event));
      this.chains.set(key, next);
      // forget finished chains, so the map holds only rooms with events in flight
      void next.then(() => { if (this.chains.get(key) === next) { this.chains.delete(key); } });
    }
  }

  async drain() {
    while (this.chains.size > 0) { await Promise.all([...this.chains.values()]); }
  }

  private async deliver(url: string, event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= this.config.webhookMaxAttempts; attempt++) {
      const timestamp = String(Date.now());
      try {
        const res = await fetch(url, {
          method: "POST",
          body,
          signal: AbortSignal.timeout(this.config.webhookTimeoutMs),
          headers: {
            "content-type": "application/json",
            "x-cc-event": event.type,
            "x-cc-delivery": event.id,
            "x-cc-timestamp": timestamp,
            "x-cc-signature": signature(this.config.webhookSecret, timestamp, body),
          },
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) { return; }
        logger.warn({ url, delivery: event.id, status: res.status, attempt }, "webhook refused");
      } catch (err: any) {
        logger.warn({ url, delivery: event.id, err: err?.message, attempt }, "webhook failed");
      }
      if (attempt < this.config.webhookMaxAttempts) {
        const backoff = Math.min(60_000, this.config.webhookBackoffMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * (backoff / 2)));
      }
    }
    logger.error({ url, delivery: event.id, roomId: event.roomId }, "webhook given up");
  }
}
