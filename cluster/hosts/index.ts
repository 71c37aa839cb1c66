import os from "node:os";
import path from "node:path";
import { down, heal, killNode, loadState, partition, status, up } from "./topology";

/**
 * `npm run cluster:hosts -- <command>` (docs/cluster.md "Multi-host topology"):
 *   up                  three hosts, a database host and HAProxy; prints the balancer URL
 *   status              namespaces, links, processes and each node's /health
 *   down                removes everything `up` made
 *   kill <host>         kill -9 of that host's node (n1, n2, n3)
 *   partition <host>    pulls the host's cable (its veth down); `heal <host>` plugs it back
 * CC_HOSTS_DIR (default <tmp>/cc-hosts) holds the state; CC_HOSTS_PORT the balancer's port.
 */
async function main() {
  const [command, arg] = process.argv.slice(2);
  const dir = process.env.CC_HOSTS_DIR || path.join(os.tmpdir(), "cc-hosts");
  switch (command) {
    case "up": {
      const s = await up({ dir, port: process.env.CC_HOSTS_PORT ? Number(process.env.CC_HOSTS_PORT) : undefined, authSecret: process.env.AUTH_SECRET });
      console.log(JSON.stringify({ url: s.url, dir: s.dir, authSecret: process.env.AUTH_SECRET ? "(from AUTH_SECRET)" : s.authSecret, hosts: s.net.hosts.map((h) => `${h.name} ${h.ip}`) }, null, 2));
      return;
    }
    case "down": await down(dir); console.log("down"); return;
    case "status": console.log(JSON.stringify(await status(dir), null, 2)); return;
    case "kill": killNode(loadState(dir), need(arg)); return;
    case "partition": partition(loadState(dir), need(arg)); return;
    case "heal": heal(loadState(dir), need(arg)); return;
    default:
      console.error("usage: npm run cluster:hosts -- up|down|status|kill <host>|partition <host>|heal <host>");
      process.exitCode = 2;
  }
}

function need(host: string | undefined): string {
  if (!host) { throw new Error("name a host: n1, n2 or n3"); }
  return host;
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
