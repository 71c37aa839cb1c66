/**
 * Baseline: a bare Colyseus 0.18 relay room. No auth, no storage, no replicated
 * state: `send`, `typing`, `read` and `end` are requests answered at once and
 * broadcast as plain messages to the other clients of the room (one room per
 * conversation, `joinOrCreate("relay", { conv })`). Run in its own process:
 * `PORT=... tsx loadtest/relay/colyseusRelay.ts`.
 */
import { LocalPresence, Room, Server, type Client } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";

class RelayRoom extends Room {
  private seq = 0;

  onCreate() {
    this.autoDispose = true;
    this.onMessage("send", (client: Client, payload: any) => {
      const seq = ++this.seq;
      this.broadcast("msg", { seq, id: payload?.id, text: payload?.text, senderId: client.sessionId }, { except: client });
      return { seq };
    });
    this.onMessage("typing", (client: Client, payload: any) => {
      this.broadcast("typing", { senderId: client.sessionId, typing: !!payload?.typing }, { except: client });
      return {};
    });
    this.onMessage("read", (client: Client, payload: any) => {
      this.broadcast("read", { senderId: client.sessionId, seq: payload?.seq }, { except: client });
      return {};
    });
    this.onMessage("end", () => {
      this.broadcast("conversation_ended", { reason: "ended_by_agent" });
      return {};
    });
  }
}

async function main() {
  const port = Number(process.env.PORT ?? 2600);
  const server = new Server({
    greet: false,
    presence: new LocalPresence(),
    transport: new WebSocketTransport({ maxPayload: 64 * 1024 }),
  });
  server.define("relay", RelayRoom).filterBy(["conv"]);
  await server.listen(port);
  console.log(JSON.stringify({ msg: "listening", port }));
  const stop = () => { void server.gracefullyShutdown(false).finally(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
