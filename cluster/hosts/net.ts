import { execFileSync } from "node:child_process";

/**
 * The network of the topology: one Linux network namespace per host, each joined to
 * a bridge in the root namespace by a veth pair, on a private /24 that never leaves
 * the machine (no route out, no NAT). Needs root (CAP_NET_ADMIN) and iproute2.
 */

export interface HostNet {
  /** host name in the topology: n1, n2, n3, db */
  name: string;
  /** the namespace, as `ip netns` names it */
  netns: string;
  /** the root namespace's end of the veth pair (on the bridge) */
  veth: string;
  ip: string;
}

export interface Net {
  bridge: string;
  /** the bridge's address: the root namespace (the balancer, the tests) on that network */
  gateway: string;
  hosts: HostNet[];
}

export const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** True when this process may create namespaces (root with iproute2); else why not. */
export function namespacesUnavailable(): string | null {
  if (process.getuid?.() !== 0) { return "network namespaces need root (CAP_NET_ADMIN)"; }
  try { ip("-V"); } catch { return "iproute2 (`ip`) is not installed"; }
  const probe = `cc-probe-${process.pid}`;
  try { ip("netns", "add", probe); ip("netns", "del", probe); } catch (e) { return `cannot create a network namespace: ${(e as Error).message.split("\n")[0]}`; }
  return null;
}

/** Names for a topology with this id (interface names stay under Linux's 15 characters). */
export function planNet(id: string, subnet: number, names: string[]): Net {
  const base = `10.231.${subnet}`;
  return {
    bridge: `cchb${id}`,
    gateway: `${base}.1`,
    hosts: names.map((name, i) => ({ name, netns: `cch-${id}-${name}`, veth: `cch${id}${name}`, ip: `${base}.${10 + i}` })),
  };
}

export function createNet(net: Net) {
  ip("link", "add", net.bridge, "type", "bridge");
  ip("addr", "add", `${net.gateway}/24`, "dev", net.bridge);
  ip("link", "set", net.bridge, "up");
  for (const h of net.hosts) {
    ip("netns", "add", h.netns);
    ip("link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns);
    ip("link", "set", h.veth, "master", net.bridge);
    ip("link", "set", h.veth, "up");
    ip("-n", h.netns, "link", "set", "lo", "up");
    ip("-n", h.netns, "addr", "add", `${h.ip}/24`, "dev", "eth0");
    ip("-n", h.netns, "link", "set", "eth0", "up");
    ip("-n", h.netns, "route", "add", "default", "via", net.gateway);
  }
}

/** Removes what exists of the network; never throws (teardown after a half-made `up`). */
export function destroyNet(net: Net) {
  for (const h of net.hosts) {
    try { ip("link", "del", h.veth); } catch { /* gone with its namespace, or never made */ }
    try { ip("netns", "del", h.netns); } catch { /* not there */ }
  }
  try { ip("link", "del", net.bridge); } catch { /* not there */ }
}

/** A partition: the host's cable pulled (its veth down); `heal` plugs it back. */
export function setLink(host: HostNet, up: boolean) {
  ip("link", "set", host.veth, up ? "up" : "down");
}

/** Which of the topology's namespaces and links exist now. */
export function netStatus(net: Net): Record<string, { netns: boolean; link: string }> {
  const namespaces = ip("netns", "list");
  const out: Record<string, { netns: boolean; link: string }> = {};
  for (const h of net.hosts) {
    let link = "absent";
    try { link = /state (\w+)/.exec(ip("link", "show", h.veth))?.[1] ?? "?"; } catch { /* absent */ }
    out[h.name] = { netns: namespaces.split("\n").some((l) => l.split(" ")[0] === h.netns), link };
  }
  return out;
}
