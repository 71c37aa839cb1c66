import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";

/**
 * What every connector process shares: a client of the server's connector API
 * (docs/channels.md) and the endpoint that receives the server's signed
 * deliveries. Connectors talk to the server over HTTP only; nothing of the server is
 * imported.
 */

export interface ConnectorApiOptions {
  /** the chat server's base URL, e.g. http://127.0.0.1:2567 */
  apiUrl: string;
  /** the channel type this connector serves */
  type: string;
  /** a fixed connector token, or the server's AUTH_SECRET to sign short-lived ones */
  token?: string;
  authSecret?: string;
  /** the token's sub when signing (default `<type>-connector`) */
  sub?: string;
}

/** A refusal of the API: `permanent` when retrying the same request cannot help (4xx but 408/429). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
  get permanent() { return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429; }
}

export interface InboundAnswer { customerId: string; roomId: string; conversationId: string; sessionId: string; seq: number; duplicate: boolean }

export class ConnectorApi {
  private cached: { token: string; until: number } | null = null;

  constructor(private readonly options: ConnectorApiOptions) {
    if (!options.token && !options.authSecret) { throw new Error("a connector needs CONNECTOR_TOKEN or AUTH_SECRET"); }
  }

  private async token(): Promise<string> {
    if (this.options.token) { return this.options.token; }
    if (this.cached && this.cached.until > Date.now()) { return this.cached.token; }
    const token = await new SignJWT({ role: "connector", name: `${this.options.type} connector`, teams: [], channels: [this.options.type] })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(this.options.sub ?? `${this.options.type}-connector`)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(this.options.authSecret!));
    this.cached = { token, until: Date.now() + 50 * 60_000 };
    return token;
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(`${this.options.apiUrl}/api${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await this.token()}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const answer = await res.json().catch(() => ({})) as any;
    if (!res.ok) { throw new ApiError(res.status, answer.code ?? "unknown", answer.message ?? `HTTP ${res.status}`); }
    return answer as T;
  }

  /** A customer's message; idempotent on `messageId` (the provider's id). */
  inbound(message: { address: string; messageId: string; text: string; name?: string; context?: string; teamId?: string; attachments?: string[] }) {
    return this.post<InboundAnswer>(`/channels/${this.options.type}/messages`, message);
  }

  /** A file the customer sent on the channel, uploaded for the customer of `address`: its attachment reference. */
  async upload(address: string, name: string, type: string, data: Buffer) {
    const query = `address=${encodeURIComponent(address)}&name=${encodeURIComponent(name)}`;
    const res = await fetch(`${this.options.apiUrl}/api/channels/${this.options.type}/attachments?${query}`, {
      method: "POST", headers: { "content-type": type, authorization: `Bearer ${await this.token()}` },
      body: new Uint8Array(data), signal: AbortSignal.timeout(30_000),
    });
    const answer = await res.json().catch(() => ({})) as any;
    if (!res.ok) { throw new ApiError(res.status, answer.code ?? "unknown", answer.message ?? `HTTP ${res.status}`); }
    return answer as { id: string; name: string; type: string; size: number };
  }

  status(report: { roomId: string; sessionId: string; seq: number; status: "sent" | "delivered" | "read" | "failed"; reason?: string }) {
    return this.post<{ applied: boolean }>(`/channels/${this.options.type}/statuses`, report);
  }
}

/** One delivery from the server's outbox (docs/channels.md "Outbound"). */
export interface Delivery {
  id: string;
  type: "channel.message";
  roomId: string;
  conversationId: string;
  at: number;
  channel: { sessionId: string; type: string; address: string; context: string };
  data: {
    seq: number; id: string; senderId: string; senderRole: string; senderName: string; kind: string; text: string; at: number;
    /** files, each with a URL valid for ATTACHMENT_DELIVERY_URL_TTL_SECONDS */
    attachments?: { id: string; name: string; type: string; size: number; url: string }[];
    /** quick replies and cards, and the plain text to send where they cannot be shown */
    rich?: { quickReplies?: { id: string; title: string }[]; cards?: { title: string; subtitle?: string; imageUrl?: string; buttons?: { id: string; title: string; url?: string }[] }[] };
    fallbackText?: string;
  };
}

/** The server's signature over `<timestamp>.<raw body>`, checked in constant time, with a replay window. */
export function verifyDelivery(secret: string, headers: http.IncomingHttpHeaders, raw: string, windowMs = 5 * 60_000): boolean {
  const timestamp = String(headers["x-cc-timestamp"] ?? "");
  if (!(Math.abs(Date.now() - Number(timestamp)) < windowMs)) { return false; }
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`;
  const given = String(headers["x-cc-signature"] ?? "");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/**
 * Reads a request body up to `limit` bytes (null when over it).
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let raw = "";
    let size = 0;
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      size += Buffer.byteLength(chunk);
      if (size > limit) { resolve(null); req.destroy(); return; }
      raw += chunk;
    });
    req.on("end", () => resolve(raw));
    req.on("error", reject);
  });
}

/**
 * The endpoint the server delivers to (CONNECTOR_URLS): `handle` sends the message
 * out; a 2xx answer tells the server it was taken, anything else makes the outbox
 * retry it (and, after its attempts, show it failed to the agent).
 */
export async function startDeliveryEndpoint(port: number, secret: string, handle: (delivery: Delivery) => Promise<void>, host = "127.0.0.1") {
  const server = http.createServer(async (req, res) => {
    if (req.method !== "POST") { res.writeHead(405).end(); return; }
    const raw = await readBody(req, 256 * 1024).catch(() => null);
    if (raw === null) { res.writeHead(413).end(); return; }
    if (!verifyDelivery(secret, req.headers, raw)) { res.writeHead(401).end(); return; }
    let delivery: Delivery;
    try { delivery = JSON.parse(raw); } catch { res.writeHead(400).end(); return; }
    // an event type this connector does not know is taken and dropped: retrying would not help
    if (delivery.type !== "channel.message") { res.writeHead(204).end(); return; }
    try {
      await handle(delivery);
      res.writeHead(204).end();
    } catch (err: any) {
      res.writeHead(502, { "content-type": "text/plain" }).end(String(err?.message ?? err).slice(0, 200));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
