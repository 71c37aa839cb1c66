import net from "node:net";
import { freePort } from "./server";

export interface TcpProxy {
  port: number;
  /**
   * A network partition: bytes in both directions are dropped and new connections
   * are accepted but never reach the target (no reset: the peers see silence, as
   * when a switch or a security group drops packets).
   */
  cut(): void;
  /** The partition ends: the connections that lived through it are reset (their streams lost bytes), new ones pass. */
  heal(): void;
  close(): Promise<void>;
}

/** A TCP proxy on a free port in front of `target`, for partition tests. */
export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const port = await freePort();
  let cut = false;
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket; cutThrough: boolean }>();

  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream?: net.Socket; cutThrough: boolean } = { client, cutThrough: cut };
    pairs.add(pair);
    client.on("error", () => {});
    client.on("close", () => { pairs.delete(pair); pair.upstream?.destroy(); });
    if (cut) { client.on("data", () => {}); return; } // blackholed from the start
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("data", (d) => { if (!pair.cutThrough) { upstream.write(d); } });
    upstream.on("data", (d) => { if (!pair.cutThrough) { client.write(d); } });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  return {
    port,
    cut() {
      cut = true;
      for (const pair of pairs) { pair.cutThrough = true; }
    },
    heal() {
      cut = false;
      for (const pair of [...pairs]) {
        if (pair.cutThrough) { pair.client.destroy(); pair.upstream?.destroy(); pairs.delete(pair); }
      }
    },
    async close() {
      for (const pair of pairs) { pair.client.destroy(); pair.upstream?.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
