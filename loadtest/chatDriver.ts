/**
 * The chat target's driver: one participant is one `ChatConnection` of the project's
 * client library (client/), the code the widget, the agent console and the bots run.
 * Delivery events, the rejoin and catch-up after a drop, the outbox of `send` and the
 * ended event are the library's; this file only adapts them to the harness' `Conn`
 * and keeps the measurements' meaning (docs/benchmarks.md "How it measures").
 */
import { ChatConnection, type Answer, type Payload, type RequestType } from "../client";
import { now } from "./clock";
import type { Conn, JoinSpec, SendResult } from "./drivers";

export class ChatConn implements Conn {
  reconnectedAt = 0;
  dead = false;
  onDelivered?: Conn["onDelivered"];
  onEnded?: Conn["onEnded"];
  onDropped?: Conn["onDropped"];
  onReconnected?: Conn["onReconnected"];
  onGone?: Conn["onGone"];
  /** the room's newest seq when it joined: those messages were there before, not deliveries */
  private baseline = -1;
  /** when the library last came back from a drop and started sending its outbox again */
  private backAt = 0;

  private constructor(private readonly chat: ChatConnection<"contact_center">, readonly userId: string) {
    chat.once("state", (state) => { this.baseline = Number(state?.lastSeq ?? 0); });
    chat.on("message", (m) => {
      // the join's window (seq <= baseline) and one's own messages are not deliveries
      if (m.seq <= this.baseline || m.senderId === this.userId) { return; }
      this.onDelivered?.({ seq: m.seq, id: m.id, senderId: m.senderId, text: m.text }, this.reconnectedAt);
    });
    chat.on("conversation_ended", (p) => this.onEnded?.(String(p?.reason ?? "")));
    chat.on("lost", () => this.onDropped?.());
    // the new socket is in; the catch-up (missed messages, then the held live ones) follows
    chat.on("rejoined", () => { this.reconnectedAt = now(); this.onReconnected?.(); });
    chat.on("back", () => { this.backAt = now(); });
    chat.on("closed", ({ code }) => { this.dead = true; this.onGone?.(code); });
  }

  static async join(spec: JoinSpec): Promise<Conn> {
    // the first join goes to spec.url; rejoins go round the others
    const at = Math.max(0, spec.urls.indexOf(spec.url));
    const chat = await ChatConnection.join({
      urls: [...spec.urls.slice(at), ...spec.urls.slice(0, at)],
      token: spec.token!,
      room: "contact_center",
      options: spec.role === "customer" ? { channel: { type: "web" } } : { customerId: spec.customerId },
      requestTimeoutMs: 10_000,
    });
    return new ChatConn(chat, spec.userId);
  }

  get roomId() { return this.chat.roomId; }
  get lastSeq() { return this.chat.lastSeq; }

  isOpen() { return !this.dead && this.chat.connected; }

  request<T extends RequestType>(type: T, payload: Payload<T>): Promise<Answer<T>> {
    return this.chat.request(type, payload);
  }

  /**
   * The library's `send` (outbox: kept until stored, sent again with the same id after
   * a rejoin). The answered attempt began at `t0`, or, when the socket dropped under
   * it, when the library was back and sent it again.
   */
  async send(id: string, text: string, t0: number): Promise<SendResult> {
    const { seq } = await this.chat.send(text, { id });
    return { seq, since: this.backAt > t0 ? this.backAt : t0 };
  }

  /** A network drop: the socket closes as a lost connection would (4010); the library rejoins. */
  drop() {
    if (!this.isOpen()) { return false; }
    this.chat.room.connection.close(4010, "loadtest drop");
    return true;
  }

  async leave() {
    if (this.dead) { return; }
    this.dead = true;
    await Promise.race([this.chat.leave().catch(() => 0), new Promise((r) => setTimeout(r, 3_000))]);
  }
}
