import http from "node:http";
import type { AddressInfo } from "node:net";
import { signature } from "../../server/webhooks";

/**
 * A real HTTP endpoint for outbox deliveries (a connector's endpoint in the channel
 * tests): checks every signature, records every attempt, and answers what `answer`
 * says (2xx accepts).
 */
export interface Receiver {
  url: string;
  /** every attempt, accepted or not, in arrival order */
  attempts: { id: string; status: number; body: any }[];
  /** accepted deliveries */
  accepted: any[];
  answer: (body: any) => number;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const receiver: Receiver = { url: "", attempts: [], accepted: [], answer: () => 204, close: async () => {} };
  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => { raw += chunk; });
    req.on("end", () => {
      const timestamp = String(req.headers["x-cc-timestamp"]);
      if (req.headers["x-cc-signature"] !== signature(secret, timestamp, raw)) { res.writeHead(401).end(); return; }
      const body = JSON.parse(raw);
      const status = receiver.answer(body);
      receiver.attempts.push({ id: body.id, status, body });
      if (status >= 200 && status < 300) { receiver.accepted.push(body); }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliver`;
  receiver.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return receiver;
}
