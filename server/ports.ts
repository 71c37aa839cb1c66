import net from "node:net";

/**
 * Free local ports, for the processes that the tests and the load harness start
 * (servers, relays, PM2 instances) on this machine.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

export async function portsFree(base: number, count: number): Promise<boolean> {
  return (await Promise.all(Array.from({ length: count }, (_, i) => canBind(base + i)))).every(Boolean);
}

/**
 * `count` consecutive free ports below the kernel's ephemeral range (32768+), where
 * outgoing connections cannot take one of them between the check and its use.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    if (await portsFree(base, count)) { return base; }
  }
  throw new Error(`no ${count} consecutive free ports`);
}
