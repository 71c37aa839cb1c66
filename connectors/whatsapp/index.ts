import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ApiError, ConnectorApi, readBody, verifyDelivery, type Delivery } from "../shared/api";
import {
  deliveryStatus, failureReason, inboundMedia, inboundText, outboundMediaType, parseCallback, type Callback, type WebhookValue,
} from "./payloads";

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
  const graph = `${options.graphUrl}/${options.graphVersion ?? "v21.0"}`;
  const messagesUrl = `${graph}/${options.phoneNumberId}/messages`;
  const bearer = { authorization: `Bearer ${options.accessToken}` };

  /** An inbound file: its URL from GET /{media-id}, its bytes from that URL (same token), uploaded to the server. */
  const fetchMedia = async (from: string, media: { id?: string; mime_type?: string; filename?: string }) => {
    const meta = await fetch(`${graph}/${media.id}`, { headers: bearer, signal: AbortSignal.timeout(10_000) });
    if (!meta.ok) { throw new Error(`media ${media.id}: ${meta.status}`); }
    const { url, mime_type: mimeType } = await meta.json() as { url: string; mime_type?: string };
    const file = await fetch(url, { headers: bearer, signal: AbortSignal.timeout(30_000) });
    if (!file.ok) { throw new Error(`media ${media.id} download: ${file.status}`); }
    const type = (mimeType ?? media.mime_type ?? "application/octet-stream").split(";", 1)[0]!;
    return api.upload(from, media.filename ?? `whatsapp-${media.id}`, type, Buffer.from(await file.arrayBuffer()));
  };

  /** One webhook change; throws when the server could not take it (Meta retries the webhook). */
  const handleChange = async (value: WebhookValue) => {
    for (const message of value.messages ?? []) {
      const text = inboundText(message) ?? "";
      const media = inboundMedia(message);
      if (!text.trim() && !media) { continue; }
      const name = value.contacts?.find((c) => c.wa_id === message.from)?.profile?.name;
      try {
        // a file the server refuses (type, size) still leaves its caption, or a note of it
        const attachment = media ? await fetchMedia(message.from, media).catch((err) => {
          if (err instanceof ApiError && err.permanent) { return null; }
          throw err;
        }) : null;
        await api.inbound({
          address: message.from, messageId: message.id, text: text.trim() || (attachment ? "" : `[${message.type} not accepted]`),
          ...(attachment ? { attachments: [attachment.id] } : {}), ...(name ? { name } : {}), ...(options.teamId ? { teamId: options.teamId } : {}),
        });
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

  /**
   * One message of the server as Cloud API messages: the text (up to three quick
   * replies as reply buttons, anything richer as its plain-text fallback), then each
   * file by its link. A retry sends them all again (the customer may see a part twice).
   */
  const deliver = async (delivery: Delivery) => {
    const callback: Callback = { r: delivery.roomId, s: delivery.channel.sessionId, q: delivery.data.seq };
    const { data } = delivery;
    const parts: Record<string, unknown>[] = [];
    const replies = data.rich?.quickReplies;
    if (replies?.length && replies.length <= 3 && !data.rich?.cards?.length) {
      parts.push({ type: "interactive", interactive: {
        type: "button", body: { text: data.text || "Please choose" },
        action: { buttons: replies.map((r) => ({ type: "reply", reply: { id: r.id, title: r.title } })) },
      } });
    } else {
      const text = data.rich ? data.fallbackText ?? data.text : data.text;
      if (text.trim()) { parts.push({ type: "text", text: { preview_url: false, body: text } }); }
    }
    for (const file of data.attachments ?? []) {
      const kind = outboundMediaType(file.type);
      parts.push({ type: kind, [kind]: { link: file.url, ...(kind === "document" ? { filename: file.name } : {}) } });
    }
    for (const part of parts) {
      if (!(await sendPart(callback, delivery.channel.address, part))) { return; }
    }
  };

  /** False when the Cloud API refused the part for good (reported failed, nothing more is sent). */
  const sendPart = async (callback: Callback, to: string, part: Record<string, unknown>): Promise<boolean> => {
    let res: Response;
    try {
      res = await fetch(messagesUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer },
        body: JSON.stringify({
          messaging_product: "whatsapp", recipient_type: "individual", to, ...part,
          biz_opaque_callback_data: JSON.stringify(callback),
        }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err: any) {
      throw new Error(`Cloud API unreachable: ${err?.cause?.code ?? err?.message}`);
    }
    const body = await res.json().catch(() => ({})) as any;
    if (res.ok) { return true; } // "sent", "delivered", "read" come back as status webhooks
    const error = body?.error ?? {};
    if (res.status >= 400 && res.status < 500 && res.status !== 429) {
      // refused for good (bad number, outside the 24 h window, …): shown failed at once, no retries
      await report(callback, "failed", [error.code, error.message ?? `HTTP ${res.status}`].filter(Boolean).join(": ").slice(0, 200));
      return false;
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
