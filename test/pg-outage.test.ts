import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { startOwnPostgres, type OwnPostgres } from "./helpers/pgServer";
import { clientFor, sleep, startServerProcess, uniqueId, until, type ServerProcess } from "./helpers/server";

/*
 * PostgreSQL killed (-9) and restarted under traffic: while it is down a send is
 * answered `unavailable` within a bound (never hangs), the clients retry with the same
 * id, and afterwards every acknowledged message is stored exactly once, seqs without gaps.
 */
describe("PostgreSQL store: the database killed and restarted under traffic", function () {
  this.timeout(120_000);
  let postgres: OwnPostgres;
  let node: ServerProcess;

  before(async () => {
    postgres = await startOwnPostgres();
    node = await startServerProcess({ DATABASE_URL: postgres.url, MESSAGES_PER_SECOND: "200", MESSAGES_BURST: "200", DATABASE_POOL_SIZE: "6" });
  });
  after(async () => {
    await node?.kill();
    await postgres?.stop();
  });

  it("answers `unavailable` (bounded) while down, and stores every acknowledged message once, without gaps", async () => {
    const PER_CUSTOMER = 50;
    const customers = await Promise.all([0, 1, 2].map(async () => {
      const sub = uniqueId("pgo");
      const room: Room<any> = await (await clientFor(node.url, { sub, role: "customer" })).joinOrCreate("contact_center", {});
      return { sub, room, acked: new Map<string, number>() };
    }));
    const codes = new Map<string, number>();
    let slowest = 0;
    let killed = false;

    const traffic = customers.map(async (c) => {
      for (let i = 0; i < PER_CUSTOMER; i++) {
        const id = `m${i}`;
        for (let attempt = 0; ; attempt++) {
          const started = Date.now();
          try {
            c.acked.set(id, (await c.room.request("send", { id, text: `message ${i}` }, { timeout: 30_000 })).seq);
            break;
          } catch (e: any) {
            slowest = Math.max(slowest, Date.now() - started);
            const code = e.reason?.code ?? e.message;
            codes.set(code, (codes.get(code) ?? 0) + 1);
            assert.ok(attempt < 200, `message ${i} of ${c.sub} never acknowledged`);
            await sleep(250);
          }
        }
        await sleep(100 + Math.random() * 100);
      }
    });

    await until(() => customers.every((c) => c.acked.size >= 8), 20_000, "traffic before the outage");
    await postgres.kill();
    killed = true;
    await sleep(3_000);
    await postgres.start();
    await Promise.all(traffic);

    assert.ok(killed);
    assert.ok((codes.get("unavailable") ?? 0) > 0, `clear errors while down: ${JSON.stringify([...codes])}`);
    assert.deepEqual([...codes.keys()].filter((c) => c !== "unavailable"), [], `no other error than unavailable: ${JSON.stringify([...codes])}`);
    assert.ok(slowest < 20_000, `a refused send took ${slowest} ms`);
    for (const c of customers) {
      const seqs = [...c.acked.values()];
      assert.deepEqual(seqs, Array.from({ length: PER_CUSTOMER }, (_, i) => i + 1), `${c.sub}: one seq per message, in order, no gaps`);
      const page = await c.room.request("history", { after: 0, limit: 200 });
      assert.deepEqual(page.messages.map((m: any) => [m.id, m.seq]), [...c.acked.entries()], `${c.sub}: stored exactly once`);
      await c.room.leave();
    }
  });
});
