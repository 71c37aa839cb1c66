import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ApiError, ConnectorApi, readBody, verifyDelivery, type Delivery } from "../shared/api";
import { deliveryStatus, failureReason, inboundText, parseCallback, type Callback, type WebhookValue } from "./payloads";

/**
 * The WhatsApp connector (docs/channels.md), a process of its own that uses only the
 * connector API. One HTTP server:
 * - `GET /webhook`: the Cloud API's verification handshake (hub.verify_token);
 * - `POST /webhook`: the Cloud API's webhooks, `X-Hub-Signature-256` checked over the
 *   raw body with the app secret; messages go to the connector API (idempotent on the
 *   wamid), statuses become delivery statuses;
 * - `POST /deliver`: the server's signed deliveries, sent with
 *   `POST /{version}/{phone-number-id}/messages`; the room, session and seq travel in
 *   `biz_opaque_callback_data` and come back with the statuses, so the connector keeps
 *   no state.
 */
export interface WhatsAppConnectorOptions {
  apiUrl: string;
  token?: string;
  authSecret?: string;
  connectorSecret: string;
  httpPort: number;
  httpHost?: string;
  /** the Meta app's secret: signs the webhooks (X-Hub-Signature-256) */
  appSecret: string;
  /** the token the webhook subscription was set up with */
  verifyToken: string;
  /** Graph API base, e.g. https://graph.facebook.com (a local fake in tests) */
  graphUrl: string;
  graphVersion?: string;
  phoneNumberId: string;
  accessToken: string;
  teamId?: string;
}

export interface WhatsAppConnector { port: number; close(): Promise<void> }

export function hubSignature(appSecret: string, raw: string | Buffer) {
  return `sha256=${createHmac("sha256", appSecret).update(raw).digest("hex")}`;
}

function signedByMeta(appSecret: string, header: string | string[] | undefined, raw: string): boolean {
  const expected = hubSignature(appSecret, raw);
  const given = String(header ?? "");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export async function startWhatsAppConnector(options: WhatsAppConnectorOptions): Promise<WhatsAppConnector> {
  const api = new ConnectorApi({ apiUrl: options.apiUrl, type: "whatsapp", token: options.token, authSecret: options.authSecret });
  const messagesUrl = `${options.graphUrl}/${options.graphVersion ?? "v21.0"}/${options.phoneNumberId}/messages`;

  /** One webhook change; throws when the server could not take it (Meta retries the webhook). */
  const handleChange = async (value: WebhookValue) => {
    for (const message of value.messages ?? []) {
      const text = inboundText(message);
      if (!text?.trim()) { continue; }
      const name = value.contacts?.find((c) => c.wa_id === message.from)?.profile?.name;
      try {
        await api.inbound({ address: message.from, messageId: message.id, text, ...(name ? { name } : {}), ...(options.teamId ? { teamId: options.teamId } : {}) });
      } catch (err) {
        if (!(err instanceof ApiError && err.permanent)) { throw err; } // a refusal (blank, too long) stays refused
      }
    }
    for (const update of value.statuses ?? []) {
      const callback = parseCallback(update.biz_opaque_callback_data);
      const status = deliveryStatus(update.status);
      if (!callback || !status) { continue; } // not one of ours, or a status we do not map
      await report(callback, status, status === "failed" ? failureReason(update) : undefined);
    }
  };

  const report = async (c: Callback, status: "sent" | "delivered" | "read" | "failed", reason?: string) => {
    try {
      await api.status({ roomId: c.r, sessionId: c.s, seq: c.q, status, ...(reason ? { reason } : {}) });
    } catch (err) {
      if (!(err instanceof ApiError && err.permanent)) { throw err; }
    }
  };

  const deliver = async (delivery: Delivery) => {
    const callback: Callback = { r: delivery.roomId, s: delivery.channel.sessionId, q: delivery.data.seq };
    let res: Response;
    try {
      res = await fetch(messagesUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${options.accessToken}` },
        body: JSON.stringify({
          messaging_product: "whatsapp", recipient_type: "individual", to: delivery.channel.address,
          type: "text", text: { preview_url: false, body: delivery.data.text },
          biz_opaque_callback_data: JSON.stringify(callback),
        }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err: any) {
      throw new Error(`Cloud API unreachable: ${err?.cause?.code ?? err?.message}`);
    }
    const body = await res.json().catch(() => ({})) as any;
    if (res.ok) { return; } // "sent", "delivered", "read" come back as status webhooks
    const error = body?.error ?? {};
    if (res.status >= 400 && res.status < 500 && res.status !== 429) {
      // refused for good (bad number, outside the 24 h window, …): shown failed at once, no retries
      await report(callback, "failed", [error.code, error.message ?? `HTTP ${res.status}`].filter(Boolean).join(": ").slice(0, 200));
      return;
    }
    throw new Error(`Cloud API answered ${res.status}`);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://connector");
    try {
      if (req.method === "GET" && url.pathname === "/webhook") {
        const ok = url.searchParams.get("hub.mode") === "subscribe" && url.searchParams.get("hub.verify_token") === options.verifyToken;
        res.writeHead(ok ? 200 : 403, { "content-type": "text/plain" }).end(ok ? url.searchParams.get("hub.challenge") ?? "" : "");
        return;
      }
      if (req.method !== "POST" || (url.pathname !== "/webhook" && url.pathname !== "/deliver")) { res.writeHead(404).end(); return; }
      const raw = await readBody(req, 1024 * 1024);
      if (raw === null) { res.writeHead(413).end(); return; }
      if (url.pathname === "/deliver") {
        if (!verifyDelivery(options.connectorSecret, req.headers, raw)) { res.writeHead(401).end(); return; }
        const delivery = JSON.parse(raw) as Delivery;
        if (delivery.type === "channel.message") { await deliver(delivery); }
        res.writeHead(204).end();
        return;
      }
      if (!signedByMeta(options.appSecret, req.headers["x-hub-signature-256"], raw)) { res.writeHead(401).end(); return; }
      const payload = JSON.parse(raw);
      if (payload?.object !== "whatsapp_business_account") { res.writeHead(200).end(); return; }
      for (const entry of payload.entry ?? []) {
        for (const change of entry.changes ?? []) {
          if (change.field === "messages" && change.value) { await handleChange(change.value); }
        }
      }
      res.writeHead(200).end();
    } catch (err: any) {
      // the sender retries: Meta its webhook, the server its delivery
      if (!res.headersSent) { res.writeHead(url.pathname === "/deliver" ? 502 : 500, { "content-type": "text/plain" }).end(String(err?.message ?? err).slice(0, 200)); }
    }
  });
  await new Promise<void>((resolve) => server.listen(options.httpPort, options.httpHost ?? "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
