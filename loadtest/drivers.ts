/**
 * How one participant's connection talks to each kind of target: the real chat
 * server (SDK, replicated state), the bare Colyseus relay room (SDK, plain
 * messages) and the bare `ws` relay (JSON frames). The worker drives all three
 * through the same `Conn` interface, with the same payloads.
 */
import { Client, type Room } from "@colyseus/sdk";
import WebSocket from "ws";

export type TargetKind = "chat" | "colyseus-relay" | "ws-relay";

export interface Delivered { seq: number; senderId: string; text: string }

export interface Conn {
  readonly userId: string;
  /** the server's room id (for verification) */
  readonly roomId: string;
  /** highest seq seen (state or relay) */
  lastSeq: number;
  /** when the last reconnection completed (performance clock), 0 if never */
  reconnectedAt: number;
  dead: boolean;
  isOpen(): boolean;
  request(type: string, payload: unknown, timeoutMs?: number): Promise<any>;
  /** a network drop the client reconnects from (chat target only) */
  drop(): boolean;
  leave(): Promise<void>;
  onDelivered?: (messages: Delivered[], catchupBefore: number) => void;
  onEnded?: (reason: string) => void;
  onDropped?: () => void;
  onReconnected?: () => void;
  onGone?: (code: number) => void;
}

export const now = () => performance.timeOrigin + performance.now();

export interface JoinSpec {
  target: TargetKind;
  url: string;
  /** JWT for the chat target */
  token?: string;
  userId: string;
  role: "customer" | "agent";
  /** the conversation: the customer's id */
  customerId: string;
  /** set on the SDK room: reconnection after a drop */
  reconnect: boolean;
}

export async function join(spec: JoinSpec): Promise<Conn> {
  switch (spec.target) {
    case "chat": return SdkConn.joinChat(spec);
    case "colyseus-relay": return SdkConn.joinRelay(spec);
    case "ws-relay": return WsConn.join(spec);
  }
}

class SdkConn implements Conn {
  lastSeq = 0;
  reconnectedAt = 0;
  dead = false;
  private synced = false;
  onDelivered?: Conn["onDelivered"];
  onEnded?: Conn["onEnded"];
  onDropped?: Conn["onDropped"];
  onReconnected?: Conn["onReconnected"];
  onGone?: Conn["onGone"];

  private constructor(public room: Room<any>, public userId: string, private stateful: boolean) {}

  get roomId() { return this.room.roomId; }

  static async joinChat(spec: JoinSpec) {
    const client = new Client(spec.url);
    client.auth.token = spec.token!;
    const options = spec.role === "customer" ? { channel: { type: "web" } } : { customerId: spec.customerId };
    const room = await client.joinOrCreate("contact_center", options);
    const conn = new SdkConn(room, spec.userId, true);
    conn.wire(spec.reconnect);
    // the first state change is the join's full state (ROOM_STATE), taken as the baseline
    room.onStateChange((state: any) => conn.onState(state));
    return conn;
  }

  static async joinRelay(spec: JoinSpec) {
    const client = new Client(spec.url);
    const room = await client.joinOrCreate("relay", { conv: spec.customerId });
    const conn = new SdkConn(room, spec.userId, false);
    conn.wire(spec.reconnect);
    room.onMessage("msg", (m: any) => {
      if (m.seq > conn.lastSeq) { conn.lastSeq = m.seq; }
      conn.onDelivered?.([{ seq: m.seq, senderId: String(m.senderId), text: String(m.text) }], 0);
    });
    return conn;
  }

  private wire(reconnect: boolean) {
    const room = this.room;
    room.reconnection.enabled = reconnect;
    room.reconnection.minUptime = 0;
    room.reconnection.maxRetries = 8;
    room.reconnection.maxDelay = 2_000;
    room.onMessage("conversation_ended", (m: any) => this.onEnded?.(String(m?.reason ?? "")));
    room.onMessage("*", () => { /* typing, read, error events: nothing to measure */ });
    room.onDrop(() => this.onDropped?.());
    room.onReconnect(() => {
      this.reconnectedAt = now();
      this.onReconnected?.();
    });
    room.onLeave((code: number) => { this.dead = true; this.onGone?.(code); });
  }

  /** New messages in the replicated window: those above the highest seq seen. */
  private onState(state: any) {
    const messages = state?.conversation?.messages;
    if (!this.synced) {
      // the first state is the join's snapshot, not a delivery
      this.synced = true;
      this.lastSeq = Math.max(Number(state?.lastSeq ?? 0), this.lastSeq);
      return;
    }
    if (!messages || messages.length === 0) { return; }
    const fresh: Delivered[] = [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages.at(i);
      if (!m || m.seq <= this.lastSeq) { break; }
      if (m.senderId !== this.userId) { fresh.push({ seq: m.seq, senderId: m.senderId, text: m.text }); }
    }
    const newest = messages.at(messages.length - 1)?.seq ?? 0;
    if (newest > this.lastSeq) { this.lastSeq = newest; }
    if (fresh.length) { fresh.reverse(); this.onDelivered?.(fresh, this.reconnectedAt); }
  }

  isOpen() { return !this.dead && !!this.room.connection?.isOpen; }

  request(type: string, payload: unknown, timeoutMs = 10_000) {
    return this.room.request(type as never, payload as never, { timeout: timeoutMs });
  }

  drop() {
    if (!this.isOpen() || !this.stateful) { return false; }
    this.room.connection.close(4010, "loadtest drop");
    return true;
  }

  async leave() {
    if (this.dead) { return; }
    this.dead = true;
    this.room.reconnection.enabled = false;
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
            conn.onDelivered?.([{ seq: m.seq, senderId: m.senderId, text: m.text }], 0);
            break;
          case "conversation_ended": conn.onEnded?.(m.reason); break;
        }
      });
    });
  }

  isOpen() { return !this.dead && this.ws.readyState === WebSocket.OPEN; }

  request(type: string, payload: unknown, timeoutMs = 10_000) {
    if (!this.isOpen()) { return Promise.reject(new Error(`cannot send request "${type}": connection is not open.`)); }
    const rid = ++this.rid;
    return new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(rid); reject(new Error(`request "${type}" timed out after ${timeoutMs}ms.`)); }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ t: "req", rid, type, payload }));
    });
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
