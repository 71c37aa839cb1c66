import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import WebSocket from "ws";
import { signToken } from "../server/auth";
import { SLOW_READER_CLOSE_CODE } from "../server/policy/connectionGuard";
import { rssMb } from "./helpers/proc";
import { RawSeat } from "./helpers/rawSeat";
import { clientFor, sleep, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess, type Who } from "./helpers/server";

/** The rejection code of a request, "ok", or the error's message. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try { await promise; return "ok"; } catch (e: any) { return e.reason?.code ?? e.message; }
}

const tally = (codes: string[]) => codes.reduce<Record<string, number>>((t, c) => ({ ...t, [c]: (t[c] ?? 0) + 1 }), {});

describe("room policy (docs/security.md): per-user budgets, in-flight cap, slow readers", function () {
  this.timeout(60_000);
  const servers: ServerProcess[] = [];
  let open: Room<any>[] = [];
  afterEach(async () => { await Promise.all(open.map((r) => (r.connection.isOpen ? r.leave().catch(() => {}) : undefined))); open = []; });
  after(async () => { await Promise.all(servers.map((s) => s.stop())); });

  const start = async (env: Record<string, string> = {}) => { const s = await startServerProcess(env); servers.push(s); return s; };
  const join = async (server: ServerProcess, who: Who, options: object = {}) => {
    const room = await (await clientFor(server.url, who)).joinOrCreate("contact_center", options);
    open.push(room);
    return room;
  };

  describe("budgets per user, shared by its connections (default budgets)", () => {
    let server: ServerProcess;
    before(async () => { server = await start({ JOINS_PER_SECOND: "50" }); });

    it("20 connections of one user store at most the user's send burst plus its rate, not 20 times it", async () => {
      const who: Who = { sub: uniqueId("c"), role: "customer" };
      const rooms: Room<any>[] = [];
      for (let i = 0; i < 20; i++) { rooms.push(await join(server, who)); }
      const started = Date.now();
      const codes = await Promise.all(rooms.flatMap((room, r) => Array.from({ length: 20 }, (_, i) =>
        outcome(room.request("send", { id: `m${r}-${i}`, text: "z".repeat(4000) })))));
      const seconds = (Date.now() - started) / 1000;
      const counts = tally(codes);
      // MESSAGES_BURST 20 + MESSAGES_PER_SECOND 10 per second elapsed, with a margin of 5
      assert.ok((counts.ok ?? 0) <= 20 + 10 * seconds + 5, `stored ${counts.ok} in ${seconds.toFixed(1)} s: ${JSON.stringify(counts)}`);
      assert.ok((counts.rate_limited ?? 0) >= 300, JSON.stringify(counts));
      const other = await join(server, { sub: uniqueId("c"), role: "customer" });
      assert.equal(await outcome(other.request("send", { id: "o1", text: "another user is not limited" })), "ok");
      assert.ok(rooms.every((r) => r.connection.isOpen), "every connection stays open");
    });

    it("every class has its budget: history and conversations by page, read/typing, desk actions, plain unknown types", async () => {
      const who: Who = { sub: uniqueId("c"), role: "customer" };
      const rooms: Room<any>[] = [];
      for (let i = 0; i < 6; i++) { rooms.push(await join(server, who)); }
      await rooms[0].request("send", { id: "first", text: "a conversation to read in" });
      // spread over the connections, under the in-flight cap of each
      const fire = async (n: number, make: (room: Room<any>, i: number) => Promise<unknown>) =>
        tally(await Promise.all(Array.from({ length: n }, (_, i) => outcome(make(rooms[i % rooms.length], i)))));

      const history = await fire(12, (room) => room.request("history", { limit: 200 }));
      assert.ok((history.ok ?? 0) <= 3 && (history.rate_limited ?? 0) >= 9, `history, 4 pages each, burst 8 pages: ${JSON.stringify(history)}`);
      const conversations = await fire(12, (room) => room.request("conversations", { limit: 200 }));
      assert.ok((conversations.ok ?? 0) <= 2 && (conversations.rate_limited ?? 0) >= 10, `conversations share the pages: ${JSON.stringify(conversations)}`);
      const typing = await fire(48, (room, i) => room.request(i % 2 ? "typing" : "read", i % 2 ? { typing: true } : { seq: 1 }));
      assert.ok((typing.ok ?? 0) <= 40 + 5 && (typing.rate_limited ?? 0) >= 1, `read and typing, burst 40: ${JSON.stringify(typing)}`);
      const ends = await fire(40, (room) => room.request("end", {}));
      assert.ok((ends.forbidden ?? 0) <= 10 + 2 && (ends.rate_limited ?? 0) >= 28, `desk actions, burst 10: ${JSON.stringify(ends)}`);

      await sleep(2_100); // the signal bucket refills
      const errors: any[] = [];
      rooms[1].onMessage("error", (e) => errors.push(e));
      for (let i = 0; i < 100; i++) { rooms[1].send(`nope${i}` as any, {}); }
      await sleep(500);
      assert.ok(errors.length >= 30 && errors.length <= 45, `plain unknown types answered within the signal burst only: ${errors.length}`);
      assert.ok(errors.every((e) => e.code === "unknown_request"));
      assert.ok(rooms.every((r) => r.connection.isOpen), "every connection stays open");
    });
  });

  describe("in-flight cap and slow readers (budgets raised out of the way)", () => {
    let server: ServerProcess;
    before(async () => {
      server = await start({
        MESSAGES_PER_SECOND: "100000", MESSAGES_BURST: "100000", QUERIES_PER_SECOND: "100000", SIGNALS_PER_SECOND: "100000", JOINS_PER_SECOND: "100",
      });
    });

    it("MAX_IN_FLIGHT_REQUESTS: a connection's 9th unanswered request is refused at once with too_many_requests", async () => {
      const raw = await RawSeat.open(server, await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" }));
      const answers: Promise<string>[] = [];
      raw.corked(() => { for (let i = 0; i < 20; i++) { answers.push(raw.request("send", { id: `q${i}`, text: `queued ${i}` })); } });
      const counts = tally(await Promise.all(answers));
      assert.deepEqual(counts, { ok: 8, too_many_requests: 12 });
      assert.equal(raw.closed, 0, "the connection stays open");
      assert.equal(await raw.request("send", { id: "after", text: "answered again" }), "ok");
      raw.close();
    });

    it("MAX_BUFFERED_BYTES: a client that never reads is disconnected (4008) once its buffer passes the bound; the server's memory stays bounded", async () => {
      const who: Who = { sub: uniqueId("c"), role: "customer" };
      const writer = await join(server, who);
      // 200 messages of 4,000 characters: a history page of ~0.8 MB
      for (let i = 0; i < 200; i += 8) {
        await Promise.all(Array.from({ length: 8 }, (_, k) => writer.request("send", { id: `big${i + k}`, text: `${i + k} ${"w".repeat(3990)}` })));
      }
      const honest = await join(server, { sub: uniqueId("c"), role: "customer" });
      const baseline = rssMb(server.child.pid!);
      const reader = await RawSeat.open(server, await signToken(TEST_SECRET, who));
      reader.pause(); // reads nothing from now on
      let peak = baseline;
      for (let i = 0; i < 150; i++) {
        reader.request("history", { limit: 200 }).catch(() => {});
        await sleep(20);
        peak = Math.max(peak, rssMb(server.child.pid!));
      }
      await until(() => /slow reader disconnected/.test(server.output()), 15_000, "the slow reader's disconnection");
      const line = server.output().split("\n").find((l) => /slow reader disconnected/.test(l))!;
      assert.match(line, new RegExp(`"userId":"${who.sub}"`));
      for (let i = 0; i < 20; i++) { peak = Math.max(peak, rssMb(server.child.pid!)); await sleep(100); }
      assert.ok(peak - baseline < 150, `server RSS grew ${Math.round(peak - baseline)} MB for 150 unread pages of ~0.8 MB (< 150 MB)`);
      reader.resume();
      await until(() => reader.closed !== 0, 10_000, "the close seen by the client");
      const closeCode = reader.closed;
      assert.ok([SLOW_READER_CLOSE_CODE, 1006].includes(closeCode), `closed with ${closeCode}`);
      // the same user's other connection and another user are served
      assert.equal(await outcome(writer.request("send", { id: "still", text: "still here" })), "ok");
      assert.equal(await outcome(honest.request("send", { id: "h", text: "unaffected" })), "ok");
      console.log(`      slow reader: RSS baseline ${Math.round(baseline)} MB, peak ${Math.round(peak)} MB, close code ${closeCode}`);
    });
  });

  it("a plain room.send whose msgpack cannot be decoded: what really happens (docs/protocol.md)", async () => {
    const server = servers[0] ?? await start();
    const token = await signToken(TEST_SECRET, { sub: uniqueId("raw"), role: "customer" });
    const res = await fetch(`${server.url}/matchmake/joinOrCreate/contact_center`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: "{}",
    });
    const seat: any = await res.json();
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/${seat.processId}/${seat.roomId}?sessionId=${seat.sessionId}&_authToken=${token}`);
    let closed = 0;
    const frames: Buffer[] = [];
    ws.on("close", (code) => { closed = code; });
    ws.on("message", (d: Buffer) => frames.push(d));
    await until(() => frames.length > 0, 5_000, "the join handshake");
    ws.send(Buffer.from([10])); // JOIN_ROOM: joined
    await sleep(200);
    // ROOM_DATA (13), type "send": bytes msgpackr decodes to *something* (0xc1, a reserved
    // byte, becomes an object) are validated and answered with an `error` message
    ws.send(Buffer.from([13, 0xa4, ...Buffer.from("send"), 0xc1]));
    await until(() => frames.some((f) => f[0] === 13 && f.includes(Buffer.from("invalid_payload"))), 5_000, "the error message");
    assert.equal(closed, 0, "answered, not closed");
    // bytes it cannot decode (a string header claiming 255 bytes, and none) close it
    ws.send(Buffer.from([13, 0xa4, ...Buffer.from("send"), 0xd9, 0xff]));
    await until(() => closed !== 0, 5_000, "the close");
    assert.equal(closed, 4002, "Colyseus closes the connection (WITH_ERROR)");
  });
});
