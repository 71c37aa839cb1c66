import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { hubSignature } from "../../connectors/whatsapp";

/**
 * A local stand-in for the WhatsApp Business Cloud API, written from its documented
 * shapes: `POST /{version}/{phone-number-id}/messages` (bearer token, a text message)
 * answered `{ messaging_product, contacts: [{ input, wa_id }], messages: [{ id }] }`,
 * and the webhooks it sends (messages and statuses), signed with the app secret in
 * `X-Hub-Signature-256`.
 */
export interface SentMessage {
  wamid: string; to: string; type: string; text: string; callback: string; body: any;
  /** a media message: the bytes the fake fetched from its link (as the real API does) */
  fetched?: { status: number; type: string; bytes: Buffer };
}

export interface FakeWhatsApp {
  graphUrl: string;
  phoneNumberId: string;
  sent: SentMessage[];
  /** every send attempt, answered or refused */
  attempts: any[];
  /** the HTTP status to answer a send with (200: accepted) */
  answer: (body: any) => number;
  /** a file the "customer" sent: its media id for a webhook */
  addMedia(type: string, bytes: Buffer): string;
  /** POSTs a webhook to the connector, signed (or with `signature` instead) */
  webhook(connectorUrl: string, value: object, signature?: string): Promise<number>;
  close(): Promise<void>;
}

export const inboundValue = (phoneNumberId: string, from: string, id: string, text: string, name = "WA User") => ({
  messaging_product: "whatsapp",
  metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
  contacts: [{ profile: { name }, wa_id: from }],
  messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: text } }],
});

export const statusValue = (phoneNumberId: string, sent: SentMessage, status: string, errors?: object[]) => ({
  messaging_product: "whatsapp",
  metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
  statuses: [{
    id: sent.wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: sent.to,
    biz_opaque_callback_data: sent.callback, ...(errors ? { errors } : {}),
  }],
});

export async function startFakeWhatsApp(accessToken: string, appSecret: string): Promise<FakeWhatsApp> {
  const phoneNumberId = "106540352242922";
  const media = new Map<string, { type: string; bytes: Buffer }>();
  const fake: FakeWhatsApp = {
    graphUrl: "", phoneNumberId, sent: [], attempts: [], answer: () => 200,
    addMedia(type, bytes) {
      const id = String(Math.floor(Math.random() * 1e15));
      media.set(id, { type, bytes });
      return id;
    },
    async webhook(connectorUrl, value, signature) {
      const raw = JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "102290129340398", changes: [{ value, field: "messages" }] }] });
      const res = await fetch(connectorUrl, {
        method: "POST", body: raw,
        headers: { "content-type": "application/json", "x-hub-signature-256": signature ?? hubSignature(appSecret, raw) },
      });
      await res.body?.cancel();
      return res.status;
    },
    close: async () => {},
  };
  const valid = (body: any) => {
    if (body.messaging_product !== "whatsapp" || !body.to) { return false; }
    switch (body.type) {
      case "text": return typeof body.text?.body === "string" && body.text.body.length <= 4096;
      case "image": case "video": case "audio": case "document": return typeof body[body.type]?.link === "string";
      case "interactive": return body.interactive?.type === "button" && typeof body.interactive.body?.text === "string"
        && Array.isArray(body.interactive.action?.buttons) && body.interactive.action.buttons.length <= 3
        && body.interactive.action.buttons.every((b: any) => b.type === "reply" && b.reply?.id && String(b.reply.title).length <= 20);
      default: return false;
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => { chunks.push(c); });
    req.on("end", async () => {
      const json = (status: number, body: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${accessToken}`) { json(401, { error: { message: "Invalid OAuth access token", type: "OAuthException", code: 190 } }); return; }
      const path = req.url ?? "";
      const mediaMeta = /^\/v21\.0\/(\d+)$/.exec(path);
      if (req.method === "GET" && mediaMeta && media.has(mediaMeta[1]!)) {
        const m = media.get(mediaMeta[1]!)!;
        json(200, { messaging_product: "whatsapp", url: `${fake.graphUrl}/media-download/${mediaMeta[1]}`, mime_type: m.type, file_size: m.bytes.length, id: mediaMeta[1] });
        return;
      }
      const download = /^\/media-download\/(\d+)$/.exec(path);
      if (req.method === "GET" && download && media.has(download[1]!)) {
        const m = media.get(download[1]!)!;
        res.writeHead(200, { "content-type": m.type }).end(m.bytes);
        return;
      }
      if (req.method !== "POST" || path !== `/v21.0/${phoneNumberId}/messages`) { json(404, { error: { message: "Unknown path", code: 100 } }); return; }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      fake.attempts.push(body);
      if (!valid(body)) { json(400, { error: { message: "(#100) Invalid parameter", type: "OAuthException", code: 100 } }); return; }
      const status = fake.answer(body);
      if (status === 400) { json(400, { error: { message: "(#131026) Message undeliverable", type: "OAuthException", code: 131026 } }); return; }
      if (status !== 200) { json(status, { error: { message: "Service temporarily unavailable", code: 2 } }); return; }
      let fetched: SentMessage["fetched"];
      const link = body[body.type]?.link;
      if (link) {
        // the real API fetches a media link when it sends the message
        const file = await fetch(link);
        fetched = { status: file.status, type: file.headers.get("content-type") ?? "", bytes: Buffer.from(await file.arrayBuffer()) };
      }
      const wamid = `wamid.${Buffer.from(randomUUID()).toString("base64")}`;
      fake.sent.push({ wamid, to: body.to, type: body.type, text: body.text?.body ?? "", callback: body.biz_opaque_callback_data, body, fetched });
      json(200, { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: wamid }] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.graphUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return fake;
}
