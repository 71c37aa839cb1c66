import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { ChatConnection } from "../client";
import { down, downNow, hostOf, killNode, partition, heal, up, type State } from "../cluster/hosts/topology";
import { namespacesUnavailable } from "../cluster/hosts/net";
import { signToken } from "../server/auth";
import { sleep, TEST_SECRET, uniqueId, until } from "./helpers/server";

/** Who got which message: every message must arrive exactly once at each side. */
class Party {
  got = new Map<string, number>();
  constructor(public conn: ChatConnection<"contact_center">) {
    conn.on("message", (m) => { this.got.set(m.id, (this.got.get(m.id) ?? 0) + 1); });
  }
}

/**
 * The topology of `npm run cluster:hosts` (three hosts as network namespaces, Redis
 * and PostgreSQL on a fourth, HAProxy in front checking /ready): clients that know
 * only the balancer's address survive the loss of the node that hosts their room.
 */
describe("multi-host topology: HAProxy in front of three namespaced hosts", function () {
  this.timeout(180_000);
  let s: State | undefined;
  let redis: Redis | undefined;
  const open: ChatConnection<"contact_center">[] = [];

  before(async function () {
    const why = namespacesUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    // an interrupted run (Ctrl-C, mocha's exit), even in the middle of `up`, tears down
    // what was made so far: `up` records each step in the dir's state file
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-hosts-test-"));
    process.once("exit", () => downNow(dir));
    for (const signal of ["SIGINT", "SIGTERM"] as const) { process.once(signal, () => { downNow(dir); process.exit(130); }); }
    s = await up({ dir, authSecret: TEST_SECRET, env: { NODE_ENV: "test", LOG_LEVEL: "info" } });
    redis = new Redis(`redis://${hostOf(s, "db").ip}:6379`);
  });

  after(async () => {
    await Promise.all(open.map((c) => c.leave().catch(() => {})));
    redis?.disconnect();
    if (s) { await down(s.dir); }
  });

  async function roomHost(roomId: string): Promise<string> {
    const row = await redis!.hget("roomcaches", roomId);
    return JSON.parse(row!).publicAddress.split("/").pop();
  }

  async function pair() {
    const customerId = uniqueId("h");
    const join = async (who: object, options: any) => {
      const conn = await ChatConnection.join({ urls: [s!.url], token: await signToken(TEST_SECRET, who as any), room: "contact_center", options });
      open.push(conn);
      return new Party(conn);
    };
    const customer = await join({ sub: customerId, role: "customer" }, { channel: { type: "web" } });
    // the customer's first message starts the conversation; staff may only write into an active one
    await customer.conn.send("hello", { id: "hello" });
    const agent = await join({ sub: uniqueId("a"), role: "agent" }, { customerId });
    return { customer, agent };
  }

  async function exchange(customer: Party, agent: Party, tag: string, n = 3) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const c = `${tag}-c${i}`; const a = `${tag}-a${i}`;
      ids.push(c, a);
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${tag} ${i}: no acknowledgement within 30 s`)), 30_000); });
      await Promise.race([Promise.all([customer.conn.send(`customer ${tag} ${i}`, { id: c }), agent.conn.send(`agent ${tag} ${i}`, { id: a })]), stuck])
        .finally(() => clearTimeout(timer));
    }
    return ids;
  }

  it("a customer and an agent through the balancer: their room's node is killed, both recover through the balancer, no message lost or doubled", async () => {
    const { customer, agent } = await pair();
    const ids = await exchange(customer, agent, "before");
    const victim = await roomHost(customer.conn.roomId);

    const killedAt = Date.now();
    killNode(s!, victim);
    // sent at once: the library keeps them until a node acknowledges them
    const during = await exchange(customer, agent, "during", 2);
    const firstAckMs = Date.now() - killedAt;
    const after = await exchange(customer, agent, "after", 2);
    const all = [...ids, ...during, ...after];
    await until(() => all.every((id) => customer.got.has(id) && agent.got.has(id)), 20_000, "every message at both sides");
    for (const p of [customer, agent]) {
      for (const id of all) { assert.equal(p.got.get(id), 1, `message ${id} delivered once`); }
    }
    const now = await roomHost(customer.conn.roomId);
    assert.notEqual(now, victim, "the room moved to a live host");
    console.log(`      node ${victim} killed: first acknowledged send after ${firstAckMs} ms; room now on ${now}`);
  });

  it("a partition of the room's host for 10 s: the clients move through the balancer, nothing lost; the host comes back", async () => {
    const { customer, agent } = await pair();
    const ids = await exchange(customer, agent, "p-before");
    const victim = await roomHost(customer.conn.roomId);

    partition(s!, victim);
    const t0 = Date.now();
    let during: string[] = [];
    try {
      during = await exchange(customer, agent, "p-during", 1);
      console.log(`      host ${victim} cut off: first acknowledged send after ${Date.now() - t0} ms`);
      await sleep(Math.max(0, 10_000 - (Date.now() - t0)));
    } finally {
      heal(s!, victim);
    }
    const after = await exchange(customer, agent, "p-after", 2);
    const all = [...ids, ...during, ...after];
    await until(() => all.every((id) => customer.got.has(id) && agent.got.has(id)), 30_000, "every message at both sides");
    for (const p of [customer, agent]) {
      for (const id of all) { assert.equal(p.got.get(id), 1, `message ${id} delivered once`); }
    }
    await until(async () => (await fetch(`http://${hostOf(s!, victim).ip}:2567/ready`).then((r) => r.status, () => 0)) === 200, 20_000, `${victim} ready again`);
  });
});
