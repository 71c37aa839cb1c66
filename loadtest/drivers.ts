/**
 * How one participant's connection talks to each kind of target: the real chat
 * server through the project's client library (chatDriver.ts: `ChatConnection`,
 * what the widget, console and bots run), the bare Colyseus relay room (raw SDK,
 * plain messages) and the bare `ws` relay (JSON frames). The relays stay on the raw
 * transports: they are the baselines. The worker drives all three through the same
 * `Conn` interface, with the same payloads.
 */
import { Client, type Room } from "@colyseus/sdk";
import WebSocket from "ws";
import { ChatError, type Answer, type Payload, type RequestType } from "../client";
import { ChatConn } from "./chatDriver";

export type TargetKind = "chat" | "colyseus-relay" | "ws-relay";

export interface Delivered { seq: number; id: string; senderId: string; text: string }

/** A stored message's answer; `since`: when the attempt that was answered began (performance clock) */
export interface SendResult { seq: number; since: number }

export interface Conn {
  readonly userId: string;
  /** the server's room id (for verification) */
  readonly roomId: string;
  /** highest seq seen (delivered, one's own included) */
  readonly lastSeq: number;
  /** when the last reconnection's socket was in (chat: the library's `rejoined`; performance clock), 0 if never */
  reconnectedAt: number;
  dead: boolean;
  isOpen(): boolean;
  /** a request of the protocol (client/protocol.ts), typed as the library types it */
  request<T extends RequestType>(type: T, payload: Payload<T>): Promise<Answer<T>>;
  /** `send { id, text }`, the attempt begun at `t0` */
  send(id: string, text: string, t0: number): Promise<SendResult>;
  /** a network drop the client reconnects from (chat target only) */
  drop(): boolean;
  leave(): Promise<void>;
  /** a message of another participant; `catchupBefore`: the last reconnection (0 if never) */
  onDelivered?: (message: Delivered, catchupBefore: number) => void;
  onEnded?: (reason: string) => void;
  onDropped?: () => void;
  onReconnected?: () => void;
  onGone?: (code: number) => void;
}

export { now } from "./clock";

export interface JoinSpec {
  target: TargetKind;
  /** the first join's address */
  url: string;
  /** every address of the target (the chat client rejoins through them in turn) */
  urls: string[];
  /** JWT for the chat target */
  token?: string;
  userId: string;
  role: "customer" | "agent";
  /** the conversation: the customer's id */
  customerId: string;
}

export async function join(spec: JoinSpec): Promise<Conn> {
  switch (spec.target) {
    case "chat": return ChatConn.join(spec);
    case "colyseus-relay": return SdkConn.joinRelay(spec);
    case "ws-relay": return WsConn.join(spec);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

/** The bare Colyseus relay room over the raw SDK (no state: messages come as `msg` events). */
class SdkConn implements Conn {
  lastSeq = 0;
  reconnectedAt = 0;
  dead = false;
  onDelivered?: Conn["onDelivered"];
  onEnded?: Conn["onEnded"];
  onDropped?: Conn["onDropped"];
  onReconnected?: Conn["onReconnected"];
  onGone?: Conn["onGone"];

  private constructor(public room: Room<any>, public userId: string) {}

  get roomId() { return this.room.roomId; }

  static async joinRelay(spec: JoinSpec) {
    const client = new Client(spec.url);
    const room = await client.joinOrCreate("relay", { conv: spec.customerId });
    const conn = new SdkConn(room, spec.userId);
    room.reconnection.enabled = false;
    room.onMessage("conversation_ended", (m: any) => conn.onEnded?.(String(m?.reason ?? "")));
    room.onMessage("*", () => { /* typing, read, error events: nothing to measure */ });
    room.onLeave((code: number) => { conn.dead = true; conn.onGone?.(code); });
    room.onMessage("msg", (m: any) => {
      if (m.seq > conn.lastSeq) { conn.lastSeq = m.seq; }
      conn.onDelivered?.({ seq: m.seq, id: String(m.id ?? ""), senderId: String(m.senderId), text: String(m.text) }, 0);
    });
    return conn;
  }

  isOpen() { return !this.dead && !!this.room.connection?.isOpen; }

  request<T extends RequestType>(type: T, payload: Payload<T>): Promise<Answer<T>> {
    return this.room.request(type as never, payload as never, { timeout: REQUEST_TIMEOUT_MS }) as Promise<Answer<T>>;
  }

  async send(id: string, text: string, t0: number): Promise<SendResult> {
    const { seq } = await this.request("send", { id, text });
    return { seq, since: t0 };
  }

  drop() { return false; }

  async leave() {
    if (this.dead) { return; }
    this.dead = true;
    if (this.room.connection?.isOpen) {
      await Promise.race([this.room.leave(true).catch(() => 0), new Promise((r) => setTimeout(r, 3_000))]);
    }
  }
}

class WsConn implements Conn {
  lastSeq = 0;
  reconnectedAt = 0;
  dead = false;
  onDelivered?: Conn["onDelivered"];
  onEnded?: Conn["onEnded"];
  onDropped?: Conn["onDropped"];
  onReconnected?: Conn["onReconnected"];
  onGone?: Conn["onGone"];
  private rid = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: any) => void; timer: NodeJS.Timeout }>();

  private constructor(private ws: WebSocket, public userId: string, public roomId: string) {}

  static join(spec: JoinSpec): Promise<Conn> {
    const wsUrl = spec.url.replace(/^http/, "ws") + `/?conv=${encodeURIComponent(spec.customerId)}&user=${encodeURIComponent(spec.userId)}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      const conn = new WsConn(ws, spec.userId, spec.customerId);
      const timer = setTimeout(() => { ws.terminate(); reject(new Error("join timed out")); }, 10_000);
      ws.on("error", (e) => { clearTimeout(timer); reject(e); });
      ws.on("close", (code) => {
        conn.dead = true;
        for (const p of conn.pending.values()) { clearTimeout(p.timer); p.reject(new Error("connection closed before a response was received.")); }
        conn.pending.clear();
        conn.onGone?.(code);
      });
      ws.on("message", (raw) => {
        const m = JSON.parse(raw.toString());
        switch (m.t) {
          case "joined": clearTimeout(timer); resolve(conn); break;
          case "res": {
            const p = conn.pending.get(m.rid);
            if (!p) { return; }
            conn.pending.delete(m.rid);
            clearTimeout(p.timer);
            if (m.ok) { p.resolve(m.data); } else { const e: any = new Error(m.data?.message); e.reason = m.data; p.reject(e); }
            break;
          }
          case "msg":
            if (m.seq > conn.lastSeq) { conn.lastSeq = m.seq; }
            conn.onDelivered?.({ seq: m.seq, id: String(m.id ?? ""), senderId: m.senderId, text: m.text }, 0);
            break;
          case "conversation_ended": conn.onEnded?.(m.reason); break;
        }
      });
    });
  }

  isOpen() { return !this.dead && this.ws.readyState === WebSocket.OPEN; }

  request<T extends RequestType>(type: T, payload: Payload<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer<T>> {
    if (!this.isOpen()) { return Promise.reject(new Error(`cannot send request "${type}": connection is not open.`)); }
    const rid = ++this.rid;
    return new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(rid); reject(new Error(`request "${type}" timed out after ${timeoutMs}ms.`)); }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ t: "req", rid, type, payload }));
    });
  }

  async send(id: string, text: string, t0: number): Promise<SendResult> {
    const { seq } = await this.request("send", { id, text });
    return { seq, since: t0 };
  }

  drop() { return false; }

  async leave() {
    if (this.dead) { return; }
    this.dead = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.ws.terminate(); resolve(); }, 2_000);
      this.ws.once("close", () => { clearTimeout(timer); resolve(); });
      this.ws.close(1000);
    });
  }
}

/** A stable error code for counting: request rejections carry `reason.code`. */
export function errorCode(e: any): string {
  // the library's codes, in the names the harness has always counted
  // (`unreachable` lumps every join failure without a reason together: named by its message below, as before)
  if (e instanceof ChatError && e.code !== "unreachable") { return e.code === "disconnected" ? "conn_closed" : e.code === "closed" ? "not_open" : e.code; }
  if (e?.reason?.code) { return String(e.reason.code); }
  const msg = String(e?.message ?? e);
  if (/timed out/.test(msg)) { return "timeout"; }
  if (/connection is not open/.test(msg)) { return "not_open"; }
  if (/connection closed/.test(msg)) { return "conn_closed"; }
  const reason = /^([a-z_]+): /.exec(msg)?.[1];
  if (reason) { return `join:${reason}`; }
  if (/ECONNREFUSED/.test(msg)) { return "econnrefused"; }
  if (/ECONNRESET|socket hang up/.test(msg)) { return "econnreset"; }
  return `other:${msg.slice(0, 40)}`;
}

export const RETRYABLE = new Set(["timeout", "not_open", "conn_closed", "unavailable", "rate_limited"]);
