import { pack, unpack } from "msgpackr";
import WebSocket from "ws";
import type { ServerProcess } from "./server";

// Colyseus 0.18 wire protocol (@colyseus/shared-types Protocol)
const JOIN_ROOM = 10;
const ROOM_REQUEST = 21;
const ROOM_RESPONSE = 22;

/** A schema string: fixstr or str8 header, then the bytes. */
function str(s: string): Buffer {
  const b = Buffer.from(s);
  return b.length < 0x20 ? Buffer.concat([Buffer.from([0xa0 | b.length]), b]) : Buffer.concat([Buffer.from([0xd9, b.length]), b]);
}

/**
 * A seat on a `ws` package connection, for what the SDK (on Node's own WebSocket)
 * cannot do: stop reading the socket, or write many frames in one TCP write.
 */
export class RawSeat {
  ws!: WebSocket;
  closed = 0;
  private nextId = 0;
  private waiting = new Map<number, (answer: string) => void>();

  static async open(server: ServerProcess, token: string, options: object = {}): Promise<RawSeat> {
    const res = await fetch(`${server.url}/matchmake/joinOrCreate/contact_center`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(options),
    });
    const seat: any = await res.json();
    if (res.status !== 200) { throw new Error(`seat refused: ${JSON.stringify(seat)}`); }
    const raw = new RawSeat();
    raw.ws = new WebSocket(`ws://127.0.0.1:${server.port}/${seat.processId}/${seat.roomId}?sessionId=${seat.sessionId}&_authToken=${token}`);
    raw.ws.on("error", () => {});
    raw.ws.on("close", (code) => { raw.closed = code; for (const w of raw.waiting.values()) { w(`closed:${code}`); } raw.waiting.clear(); });
    const joined = new Promise<void>((resolve, reject) => {
      raw.ws.once("message", (d: Buffer) => { if (d[0] === JOIN_ROOM) { raw.ws.send(Buffer.from([JOIN_ROOM])); resolve(); } else { reject(new Error(`first frame ${d[0]}`)); } });
      raw.ws.once("close", (code) => reject(new Error(`closed ${code}`)));
    });
    raw.ws.on("message", (d: Buffer) => {
      if (d[0] !== ROOM_RESPONSE) { return; }
      const id = d[1];
      const status = d[2];
      let body: any;
      try { body = d.length > 3 ? unpack(d.subarray(3)) : undefined; } catch { body = undefined; }
      const answer = status === 0 ? "ok" : status === 1 ? body?.code ?? "rejected" : `error:${body?.name ?? ""}`;
      raw.waiting.get(id)?.(answer);
      raw.waiting.delete(id);
    });
    await joined;
    return raw;
  }

  /** A request; answers "ok", the rejection code, "error:<name>" or "closed:<code>". */
  request(type: string, payload: unknown): Promise<string> {
    const id = (this.nextId++ % 127) + 1; // a positive fixint
    const answer = new Promise<string>((resolve) => this.waiting.set(id, resolve));
    this.ws.send(Buffer.concat([Buffer.from([ROOM_REQUEST, id]), str(type), pack(payload)]));
    return answer;
  }

  /** Everything sent inside `fn` leaves in one TCP write, so the server reads it in one go. */
  corked(fn: () => void) {
    const socket = (this.ws as any)._socket;
    socket.cork();
    try { fn(); } finally { socket.uncork(); }
  }

  /** Stops reading: the server's writes pile up in its send buffer. */
  pause() { (this.ws as any)._socket.pause(); }
  resume() { (this.ws as any)._socket.resume(); }

  close() { this.ws.close(); }
}
