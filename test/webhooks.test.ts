import assert from "node:assert/strict";
import http from "node:http";
import { signature } from "../server/webhooks";
import { clientFor, freePort, startServerProcess, uniqueId, until, type ServerProcess } from "./helpers/server";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";

const SECRET = "webhook-secret-for-tests";

interface Delivery { id: string; type: string; roomId: string; conversationId: string; data: any; valid: boolean; status: number }

/** A CRM's webhook receiver: it refuses the first `failFirst` attempts of every delivery. */
async function receiver(failFirst: number) {
  const attempts = new Map<string, number>();
  const accepted: Delivery[] = [];
  const port = await freePort();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      const event = JSON.parse(body);
      const id = String(req.headers["x-cc-delivery"]);
      const valid = req.headers["x-cc-signature"] === signature(SECRET, String(req.headers["x-cc-timestamp"]), body)
        && req.headers["x-cc-event"] === event.type && id === event.id;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const status = n <= failFirst ? 500 : 200;
      if (status === 200) { accepted.push({ ...event, valid, status }); }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}/hooks`, accepted, attempts, close: () => new Promise((r) => server.close(r)) };
}

for (const mode of ["embedded", "redis"] as const) {
  describe(`webhooks (${mode} node)`, function () {
    this.timeout(40_000);

    for (const failFirst of [0, 2]) {
      it(`every event once, in order per room, signed${failFirst ? `, through ${failFirst} refusals per delivery` : ""}`, async () => {
        const hook = await receiver(failFirst);
        if (mode === "redis") { await flushTestDb(); }
        const server: ServerProcess = await startServerProcess({
          WEBHOOK_URLS: hook.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF_MS: "50", CONVERSATION_IDLE_MS: "1500",
          ...(mode === "redis" ? { REDIS_URL: REDIS_TEST_URL } : {}),
        });
        try {
          const rooms = await Promise.all([0, 1].map(async () => {
            const customerId = uniqueId("c");
            const customer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
            const agent = await (await clientFor(server.url, { sub: uniqueId("a"), role: "agent" })).joinOrCreate("contact_center", { customerId });
            return { customer, agent, roomId: customer.roomId };
          }));
          for (const { customer, agent } of rooms) {
            await customer.request("send", { id: "m1", text: "hello" });
            await agent.request("send", { id: "m2", text: "hi there" });
            await agent.request("send", { id: "m3", text: "internal", kind: "note" });
            await customer.request("send", { id: "m1", text: "hello" }); // a retry: no second event
            await agent.request("end", { reason: "resolved" });
            await customer.request("send", { id: "m4", text: "one more thing" });
          }
          // the second conversations end by idleness
          const expected = rooms.length * 8;
          await until(() => hook.accepted.length >= expected, 20_000, `${expected} deliveries (got ${hook.accepted.length})`);
          await new Promise((r) => setTimeout(r, 500));

          const ids = hook.accepted.map((d) => d.id);
          assert.equal(new Set(ids).size, ids.length, "each delivery accepted once");
          assert.equal(ids.length, expected);
          assert.ok(hook.accepted.every((d) => d.valid), "every signature valid");
          if (failFirst) { assert.ok([...hook.attempts.values()].every((n) => n === failFirst + 1), "retried until accepted"); }
          for (const { roomId } of rooms) {
            const events = hook.accepted.filter((d) => d.roomId === roomId);
            assert.deepEqual(events.map((d) => d.type), [
              "conversation.started", "message.stored", "message.stored", "message.stored", "conversation.ended",
              "conversation.started", "message.stored", "conversation.ended",
            ]);
            const seqs = events.filter((d) => d.type === "message.stored").map((d) => d.data.seq);
            assert.deepEqual(seqs, [1, 2, 3, 4]);
            assert.equal(events[3].data.kind, "note");
            assert.equal(events[4].data.endReason, "resolved");
            assert.equal(events[7].data.endReason, "idle");
            assert.notEqual(events[0].conversationId, events[5].conversationId);
          }
          for (const { customer, agent } of rooms) { await customer.leave(); await agent.leave(); }
        } finally {
          await server.stop();
          await hook.close();
        }
      });
    }
  });
}
