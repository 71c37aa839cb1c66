/**
 * A hostile user at full speed, run as its own process (so its work does not slow the
 * test's honest client): `tsx test/helpers/flooder.ts <url> <token> <connections> <seconds>`.
 * Each connection fires every request type, plain sends of garbage and oversize
 * payloads without awaiting answers, and joins again whenever it is disconnected.
 * Even-numbered connections go flat out (Colyseus' frame limit cuts them off);
 * odd-numbered ones stay just under it, so the per-user budgets carry the load.
 * Prints one JSON line of counts at the end.
 */
import { Client, type Room } from "@colyseus/sdk";

const [url, token, connectionsArg, secondsArg] = process.argv.slice(2);
const connections = Number(connectionsArg);
const until = Date.now() + Number(secondsArg) * 1000;
const counts: Record<string, number> = {};
const count = (k: string) => { counts[k] = (counts[k] ?? 0) + 1; };
const pad = "p".repeat(17_000);
const text4000 = "x".repeat(4000);
let n = 0;

const fire = (room: Room<any>, type: string, payload: unknown) => {
  room.request(type as any, payload as any, { timeout: 10_000 } as any).then(() => count(`${type}:ok`), (e: any) => count(`${type}:${e?.reason?.code ?? String(e?.message).slice(0, 40)}`)).catch(() => {});
};

async function flood(i: number) {
  while (Date.now() < until) {
    let room: Room<any>;
    try {
      const client = new Client(url);
      client.auth.token = token;
      room = await client.joinOrCreate("contact_center", {});
      count("join:ok");
    } catch (e: any) {
      count(`join:${String(e?.message).split(":")[0]}`);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    room.onMessage("*", () => {});
    room.reconnection.enabled = false;
    room.onLeave((code) => { count(`closed:${code}`); });
    const open = () => room.connection.isOpen;
    const paced = i % 2 === 1;
    while (open() && Date.now() < until) {
      // one burst of every kind, then let the event loop breathe (answers, pings)
      for (let k = 0; k < (paced ? 1 : 4) && open(); k++) {
        const id = `f${i}-${n++}`;
        fire(room, "send", { id, text: text4000 });
        fire(room, "read", { seq: n });
        fire(room, "typing", { typing: n % 2 === 0 });
        fire(room, "history", { limit: 200 });
        fire(room, "conversations", { limit: 200 });
        fire(room, "end", {});
        fire(room, "transfer", { toTeamId: "sales" });
        fire(room, "accept", { requestId: "req-00000000-0000-0000-0000-000000000000" });
        fire(room, "nope", { x: 1 });
        fire(room, "send", { id: `${id}b`, text: "y", pad });
        try {
          room.send("garbage" as any, { junk: n });
          room.send("send" as any, { text: 5 });
          room.send(12345 as any, "x");
        } catch { /* closed under us */ }
      }
      // 13 frames per burst: 18 bursts a second is ~240 frames, under MAX_FRAMES_PER_SECOND (300)
      await new Promise((r) => (paced ? setTimeout(r, 55) : setImmediate(r)));
    }
    if (open()) { await room.leave().catch(() => {}); }
  }
}

Promise.all(Array.from({ length: connections }, (_, i) => flood(i))).then(() => {
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  process.exit(0);
});
