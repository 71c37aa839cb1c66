/**
 * Baseline: a bare `ws` relay. One WebSocket per participant, joined to a
 * conversation by the URL (`/?conv=<id>&user=<id>`); JSON frames
 * `{ t: "req", rid, type, payload }` are answered `{ t: "res", rid, ok, data }`
 * and `send` / `typing` / `read` / `end` are relayed to the other sockets of the
 * conversation. Run in its own process: `PORT=... tsx loadtest/relay/wsRelay.ts`.
 */
import http from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.PORT ?? 2601);
const conversations = new Map<string, { seq: number; sockets: Set<WebSocket> }>();

const server = http.createServer((_req, res) => { res.writeHead(200).end("ok"); });
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 });

wss.on("connection", (ws, req) => {
  const url = new URL(req.url ?? "/", "http://x");
  const convId = url.searchParams.get("conv") ?? "";
  const user = url.searchParams.get("user") ?? "";
  let conv = conversations.get(convId);
  if (!conv) { conv = { seq: 0, sockets: new Set() }; conversations.set(convId, conv); }
  const c = conv;
  c.sockets.add(ws);
  ws.send(JSON.stringify({ t: "joined", conv: convId }));

  const relay = (frame: unknown) => {
    const data = JSON.stringify(frame);
    for (const other of c.sockets) { if (other !== ws && other.readyState === 1) { other.send(data); } }
  };

  ws.on("message", (raw) => {
    let m: any;
    try { m = JSON.parse(raw.toString()); } catch { return; }
    if (m?.t !== "req") { return; }
    let data: unknown = {};
    switch (m.type) {
      case "send": {
        const seq = ++c.seq;
        relay({ t: "msg", seq, id: m.payload?.id, text: m.payload?.text, senderId: user });
        data = { seq };
        break;
      }
      case "typing": relay({ t: "typing", senderId: user, typing: !!m.payload?.typing }); break;
      case "read": relay({ t: "read", senderId: user, seq: m.payload?.seq }); break;
      case "end": relay({ t: "conversation_ended", reason: "ended_by_agent" }); break;
      default:
        ws.send(JSON.stringify({ t: "res", rid: m.rid, ok: false, data: { code: "unknown_request", message: "unknown" } }));
        return;
    }
    ws.send(JSON.stringify({ t: "res", rid: m.rid, ok: true, data }));
  });
  ws.on("close", () => {
    c.sockets.delete(ws);
    if (c.sockets.size === 0) { conversations.delete(convId); }
  });
});

server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ msg: "listening", port })));
const stop = () => { wss.close(); server.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
