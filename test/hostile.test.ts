import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Client, CloseCode, type Room } from "@colyseus/sdk";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { signToken } from "../server/auth";
import { clientFor, sleep, startServerProcess, TEST_SECRET, uniqueId, type ServerProcess } from "./helpers/server";

/** The reason code of a rejected request, or "closed"/"error:<name>" for other failures. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (e: any) {
    return e.reason?.code ?? `error:${e.name}:${e.message}`;
  }
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const key = new TextEncoder().encode(TEST_SECRET);

/** An HS256 token with any header and claims, signed by hand (jose refuses to make the odd ones). */
function hs256(header: object, claims: object, secret: string | Buffer = TEST_SECRET) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

// Colyseus 0.18 wire protocol (@colyseus/shared-types Protocol), for hand-made frames
const JOIN_ROOM = 10;
const ROOM_DATA = 13;
const ROOM_REQUEST = 21;
const ROOM_RESPONSE = 22;

/** A msgpack / schema string: fixstr, str8 or str16 header, then the bytes as given. */
function str(bytes: Buffer | string): Buffer {
  const b = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  if (b.length < 0x20) { return Buffer.concat([Buffer.from([0xa0 | b.length]), b]); }
  if (b.length < 0x100) { return Buffer.concat([Buffer.from([0xd9, b.length]), b]); }
  const h = Buffer.from([0xda, 0, 0]);
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** msgpack of a flat map of string keys to strings (raw bytes allowed). */
function map(entries: [string, Buffer | string][]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, v]) => [str(k), str(v)])]);
}

/** msgpack of `depth` nested one-key maps: {a:{a:{...null}}}, built without recursion. */
function deepMsgpack(depth: number): Buffer {
  const unit = Buffer.from([0x81, 0xa1, 0x61]);
  return Buffer.concat([Buffer.alloc(unit.length * depth, unit), Buffer.from([0xc0])]);
}

/**
 * A connection of its own, made with the `ws` package on a seat reserved through the
 * matchmaking HTTP route (as the SDK does), for frames no SDK would send.
 */
class RawSeat {
  private ws!: WebSocket;
  private nextId = 1;
  private waiting = new Map<number, (frame: Buffer) => void>();
  closed: number | null = null;

  static async open(server: ServerProcess, token: string, options: object, path?: (seat: any) => string): Promise<RawSeat> {
    const res = await fetch(`${server.url}/matchmake/joinOrCreate/contact_center`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(options),
    });
    const seat: any = await res.json();
    assert.equal(res.status, 200, JSON.stringify(seat));
    const raw = new RawSeat();
    const url = `ws://127.0.0.1:${server.port}${path ? path(seat) : `/${seat.processId}/${seat.roomId}?sessionId=${seat.sessionId}&_authToken=${token}`}`;
    raw.ws = new WebSocket(url);
    raw.ws.on("close", (code) => { raw.closed = code; for (const w of raw.waiting.values()) { w(Buffer.alloc(0)); } });
    raw.ws.on("error", () => {});
    const first = new Promise<Buffer>((resolve) => raw.ws.once("message", (d) => resolve(d as Buffer)));
    raw.ws.on("message", (data: Buffer) => {
      if (data[0] === ROOM_RESPONSE) { raw.waiting.get(data[1])?.(data); }
    });
    const got = await Promise.race([first, new Promise<Buffer>((r) => raw.ws.once("close", () => r(Buffer.alloc(0))))]);
    if (got[0] === JOIN_ROOM) { raw.ws.send(Buffer.from([JOIN_ROOM])); }
    return raw;
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  send(frame: Buffer | string) {
    if (this.isOpen) { this.ws.send(frame); }
  }

  /** A request frame with a hand-made payload; answers "ok:<seq>", the rejection code, "error" or "closed:<code>". */
  async request(type: string, payload: Buffer): Promise<string> {
    const id = this.nextId++ % 120 + 1; // a positive fixint
    const answer = new Promise<Buffer>((resolve) => {
      this.waiting.set(id, resolve);
      setTimeout(() => resolve(Buffer.alloc(0)), 3_000);
    });
    this.send(Buffer.concat([Buffer.from([ROOM_REQUEST, id]), str(type), payload]));
    const frame = await answer;
    this.waiting.delete(id);
    if (frame.length === 0) { return this.closed !== null ? `closed:${this.closed}` : "no answer"; }
    const status = frame[2];
    const body = frame.subarray(3);
    if (status === 0) {
      const at = body.indexOf("seq");
      if (at < 0) { return "ok"; }
      const t = body[at + 3];
      return `ok:${t < 0x80 ? t : t === 0xcc ? body[at + 4] : body.readUInt16BE(at + 4)}`;
    }
    const code = body.toString("latin1").match(/[a-z]+(_[a-z]+)+/)?.[0];
    return status === 1 ? code ?? "rejected" : "error";
  }

  close() { this.ws.close(); }
}

/**
 * A corpus of hostile inputs sent by real SDK clients, by hand-made frames on
 * connections of the `ws` package, and over HTTP. After all of them the room still
 * serves its honest customer and agent, and its transcript is exactly the messages
 * that were acknowledged, with their seqs and texts.
 */
describe("hostile inputs: the room survives and loses nothing", function () {
  this.timeout(90_000);
  let server: ServerProcess;
  let customerId: string;
  let honestCustomer: Room<any>;
  let honestAgent: Room<any>;
  /** every acknowledged message: id -> seq, and the text it must be stored with when known */
  const acked = new Map<string, { seq: number; text?: string }>();
  const honestIds: string[] = [];

  before(async () => {
    // this test is about payloads: the budgets of reads and signals (test/roomPolicy.test.ts)
    // are raised out of its way; its floods are of sends and joins, with their limits
    server = await startServerProcess({ MESSAGES_PER_SECOND: "5", MESSAGES_BURST: "10", JOINS_PER_SECOND: "5", QUERIES_PER_SECOND: "100", SIGNALS_PER_SECOND: "100", DESK_ACTIONS_PER_SECOND: "100" });
    customerId = uniqueId("victim");
    honestCustomer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
    honestAgent = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent" })).joinOrCreate("contact_center", { customerId });
    for (const [room, text] of [[honestCustomer, "my order 1234 is late"], [honestAgent, "let me check"]] as const) {
      const id = uniqueId("h");
      acked.set(id, { seq: (await room.request("send", { id, text })).seq, text });
      honestIds.push(id);
    }
  });
  after(async () => { await server?.stop(); });

  async function attacker(role: "customer" | "agent" = "agent"): Promise<Room<any>> {
    const sub = uniqueId("mallory");
    if (role === "customer") {
      return (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web", address: sub } });
    }
    return (await clientFor(server.url, { sub, role: "agent" })).joinOrCreate("contact_center", { customerId });
  }

  async function joinWithToken(token: string, name = "contact_center", options: any = { channel: { type: "web" } }) {
    const client = new Client(server.url);
    client.auth.token = token;
    return outcome(client.joinOrCreate(name, options).then((r) => r.leave()));
  }

  const alive = async () => {
    const health = await fetch(`${server.url}/health`).then((r) => r.status, () => 0);
    return health === 200 && honestCustomer.connection.isOpen && honestAgent.connection.isOpen ? "alive" : `down (health ${health})`;
  };

  it("answers 100+ hostile inputs with clear refusals, and the honest clients keep every message", async () => {
    const results: { name: string; got: string; want: RegExp }[] = [];
    const expect = async (name: string, want: RegExp, run: () => Promise<string>) => {
      results.push({ name, got: await run().catch((e) => `threw ${e?.message}`), want });
    };

    // --- payloads of requests, from a customer connection in the victim's room -------
    const evil = await attacker("customer");
    /** a send; an acknowledged one is recorded with the text it must be stored with */
    const send = async (payload: any, stored?: string) => {
      try {
        const { seq } = await evil.request("send", payload);
        acked.set(payload.id, { seq, text: stored });
        return "ok";
      } catch (e: any) {
        return e.reason?.code ?? `error:${e.name}:${e.message}`;
      }
    };
    const payloads: [string, unknown, RegExp][] = [
      ["send: null payload", null, /invalid_payload/],
      ["send: string payload", "hello", /invalid_payload/],
      ["send: number payload", 42, /invalid_payload/],
      ["send: array payload", [1, 2, 3], /invalid_payload/],
      ["send: boolean payload", true, /invalid_payload/],
      ["send: no payload", undefined, /invalid_payload/],
      ["send: text is a number", { id: "a1", text: 12345 }, /invalid_payload/],
      ["send: text is an object", { id: "a1", text: { toString: "x" } }, /invalid_payload/],
      ["send: text is an array", { id: "a1", text: ["x"] }, /invalid_payload/],
      ["send: text is null", { id: "a1", text: null }, /invalid_payload/],
      ["send: id is a number", { id: 7, text: "x" }, /invalid_payload/],
      ["send: id is an array", { id: ["a"], text: "x" }, /invalid_payload/],
      ["send: missing id", { text: "x" }, /invalid_payload/],
      ["send: unknown kind", { id: "a2", text: "x", kind: "system" }, /invalid_payload/],
      ["send: kind event (the server's own)", { id: "a2", text: "x", kind: "event" }, /invalid_payload/],
      ["send: customer note", { id: "a3", text: "x", kind: "note" }, /forbidden/],
      ["send: empty text", { id: "a4", text: "" }, /invalid_payload/],
      ["send: whitespace text", { id: "a4", text: " \n\t " }, /invalid_payload/],
      ["send: only control characters", { id: "a5", text: "\u0000\u0001\u0002\u007f\u0085" }, /invalid_payload/],
      ["send: 60,000 characters", { id: "a6", text: "x".repeat(60_000) }, /payload_too_large/],
      ["send: 4,001 characters", { id: "a6", text: "x".repeat(4_001) }, /text_too_long/],
      ["send: 4,001 emoji (8,002 UTF-16 units, limit 4,000 code points)", { id: "a7", text: "😀".repeat(4_001) }, /text_too_long/],
      ["send: 20 kB of extra keys", { id: "a8", text: "x", junk: "y".repeat(20_000) }, /payload_too_large/],
      ["send: 2,000 extra keys", { id: "a8", text: "x", ...Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i])) }, /payload_too_large/],
      ["send: id with ../", { id: "../../etc/passwd", text: "x" }, /invalid_payload/],
      ["send: id with a slash", { id: "a/b", text: "x" }, /invalid_payload/],
      ["send: id with a backslash", { id: "a\\b", text: "x" }, /invalid_payload/],
      ["send: id with a space", { id: "a b", text: "x" }, /invalid_payload/],
      ["send: id with unicode", { id: "ïd", text: "x" }, /invalid_payload/],
      ["send: id with a full-width solidus", { id: "a／b", text: "x" }, /invalid_payload/],
      ["send: id with NUL", { id: "id\u0000", text: "x" }, /invalid_payload/],
      ["send: id with a Redis key separator", { id: "a:b{c}", text: "x" }, /invalid_payload/],
      ["send: empty id", { id: "", text: "x" }, /invalid_payload/],
      ["send: 65-character id", { id: "a".repeat(65), text: "x" }, /invalid_payload/],
      ["read: negative seq", { seq: -1 }, /invalid_payload/],
      ["read: seq as string", { seq: "1" }, /invalid_payload/],
      ["read: seq as float", { seq: 1.5 }, /invalid_payload/],
      ["read: huge seq", { seq: 1e300 }, /invalid_payload/],
      ["read: seq NaN", { seq: NaN }, /invalid_payload/],
      ["read: seq Infinity", { seq: Infinity }, /invalid_payload/],
      ["read: no payload", undefined, /invalid_payload/],
    ];
    for (const [name, payload, want] of payloads) {
      if (name.startsWith("read")) { await expect(name, want, () => outcome(evil.request("read", payload as any))); }
      else { await expect(name, want, () => send(payload)); }
      await sleep(210); // under the rate limit: this part is about payloads, not floods
    }
    await expect("send: prototype pollution __proto__ (its key dropped)", /ok/, () => send(JSON.parse('{"id":"p1","text":"x","__proto__":{"polluted":true}}'), "x"));
    await expect("send: prototype pollution constructor.prototype", /ok/, () => send({ id: "p2", text: "x", constructor: { prototype: { polluted: true } } }, "x"));
    await sleep(450);
    await expect("send: prototype key", /ok/, () => send({ id: "p4", text: "y", prototype: { polluted: true } }, "y"));
    await expect("send: nested __proto__ in the text field", /invalid_payload/, () => send(JSON.parse('{"id":"p5","text":{"__proto__":{"length":1}}}')));
    await sleep(450);
    await expect("send: lone surrogates are stripped, the rest stored", /ok/, () => send({ id: "p3", text: "\uD800bad\uDFFF text" }));
    await expect("send: a deep object (depth 500) in an extra key is dropped", /ok/, () => send({ id: "p6", text: "deep", deep: nest(500) }, "deep"));
    await sleep(450);
    await expect("send: decomposed text is stored NFC", /ok/, () => send({ id: "p7", text: "cafe\u0301" }, "café"));
    // issue #11: bidi overrides are stripped (they reorder the text as displayed); zero-width characters stay
    await expect("send: bidi overrides are stripped, zero-width characters kept", /ok/, () => send({ id: "p8", text: "\u202Egnp.exe\u200B" }, "gnp.exe\u200B"));
    await sleep(450);
    await expect("history: limit 0", /invalid_payload/, () => outcome(evil.request("history", { limit: 0 })));
    await expect("history: limit 1e9", /invalid_payload/, () => outcome(evil.request("history", { limit: 1e9 })));
    await expect("history: limit negative", /invalid_payload/, () => outcome(evil.request("history", { limit: -5 })));
    await expect("history: before as a string", /invalid_payload/, () => outcome(evil.request("history", { before: "9" })));
    await expect("history: conversationId with ../", /invalid_payload/, () => outcome(evil.request("history", { conversationId: "../../x" })));
    await expect("history: conversationId as an object", /invalid_payload/, () => outcome(evil.request("history", { conversationId: { $gt: "" } })));
    await expect("history: someone else's conversation id", /unknown_conversation/, () => outcome(evil.request("history", { conversationId: "conv-nope" })));
    await expect("conversations: limit as string", /invalid_payload/, () => outcome(evil.request("conversations", { limit: "10" })));
    await expect("conversations: before as an object", /invalid_payload/, () => outcome(evil.request("conversations", { before: {} })));
    await expect("typing: not a boolean", /invalid_payload/, () => outcome(evil.request("typing", { typing: "yes" })));
    await expect("typing: null payload", /invalid_payload/, () => outcome(evil.request("typing", null)));
    await sleep(400);
    await expect("end: by a customer", /forbidden/, () => outcome(evil.request("end", {})));
    await expect("end: a 10 kB reason", /invalid_payload|forbidden/, () => outcome(evil.request("end", { reason: "r".repeat(10_000) })));
    await expect("transfer: by a customer", /forbidden/, () => outcome(evil.request("transfer", { toTeamId: "x" })));
    await expect("invite: by a customer", /forbidden/, () => outcome(evil.request("invite", { userId: "x" })));
    await expect("handover: by a customer", /forbidden/, () => outcome(evil.request("handover", {})));
    await expect("barge: by a customer", /forbidden/, () => outcome(evil.request("barge", {})));
    await expect("accept: in a customer room", /error:no_handler/, () => outcome(evil.request("accept", { requestId: "x" })));
    await expect("unknown request type", /error:no_handler/, () => outcome(evil.request("drop_tables", {})));
    await expect("unknown request type __proto__", /error:no_handler/, () => outcome(evil.request("__proto__", {})));
    await expect("unknown request type constructor", /error:no_handler/, () => outcome(evil.request("constructor", {})));
    await expect("numeric request type", /error:no_handler/, () => outcome(evil.request(9999 as any, {})));
    await sleep(1_000);

    // --- floods -----------------------------------------------------------------------
    const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => send({ id: `f${i}`, text: `flood ${i}` }, `flood ${i}`)));
    // refused by the budget (rate_limited) or, when the frames arrive in one read, by the
    // in-flight cap first (too_many_requests, MAX_IN_FLIGHT_REQUESTS 8): both documented
    const refused = flood.filter((c) => c === "rate_limited" || c === "too_many_requests").length;
    const floodStored = flood.filter((c) => c === "ok").length;
    await expect("flood: 40 sends at once (limit 5/s, burst 10, 8 in flight)", /refused/, async () => (refused >= 25 && floodStored <= 10 ? "refused" : flood.join(",")));
    await expect("flood: the sends within the burst are stored", /ok/, async () => (flood.filter((c) => c === "ok").length >= 5 ? "ok" : flood.join(",")));
    await expect("flood: the connection stays open", /open/, async () => (evil.connection.isOpen ? "open" : "closed"));
    const joins = await Promise.all(Array.from({ length: 25 }, async () =>
      outcome((await clientFor(server.url, { sub: "joiner", role: "customer" })).joinOrCreate("contact_center", {}).then((r) => r.leave()))));
    await expect("flood: 25 joins of one user at once", /rate_limited/, async () => (joins.some((j) => /rate_limited/.test(j)) ? "rate_limited" : joins.join(",")));
    await expect("flood: joins within the burst are served", /ok/, async () => (joins.filter((j) => j === "ok").length >= 5 ? "ok" : joins.join(",")));
    await sleep(1_000);

    // --- plain sends (no request id) -----------------------------------------------------
    const errors: any[] = [];
    evil.onMessage("error", (e) => errors.push(e));
    evil.send("send", { id: "plain", text: 5 } as any);
    evil.send("no-such-type", {});
    await sleep(300);
    await expect("plain send with a bad payload: an error message, no disconnect", /invalid_payload/, async () => errors.map((e) => e.code).join(","));
    await expect("plain send of an unknown type: unknown_request", /unknown_request/, async () => errors.map((e) => e.code).join(","));
    await expect("the connection is still open after plain sends", /open/, async () => (evil.connection.isOpen ? "open" : "closed"));

    // --- hand-made frames on connections of the ws package ---------------------------------
    const rawToken = await signToken(TEST_SECRET, { sub: uniqueId("raw"), role: "agent" });
    const raw = await RawSeat.open(server, rawToken, { customerId });
    await expect("raw: a valid send frame is answered with a seq", /^ok:\d+$/, async () => {
      const got = await raw.request("send", map([["id", "raw1"], ["text", "raw hello"]]));
      if (got.startsWith("ok:")) { acked.set("raw1", { seq: Number(got.slice(3)), text: "raw hello" }); }
      return got;
    });
    await expect("raw: invalid UTF-8 inside a msgpack string is stored without lone surrogates", /^ok:\d+$/, async () => {
      const got = await raw.request("send", map([["id", "raw2"], ["text", Buffer.from([0x68, 0x69, 0xed, 0xa0, 0x80, 0xff, 0xc0, 0x21])]]));
      if (got.startsWith("ok:")) { acked.set("raw2", { seq: Number(got.slice(3)) }); }
      return got;
    });
    await expect("raw: a request nested 20,000 deep (stack overflow bait)", /^(error|payload_too_large|invalid_payload)$/, () => raw.request("send", deepMsgpack(20_000)));
    await expect("raw: a request nested 1,000 deep", /^invalid_payload$/, () => raw.request("send", deepMsgpack(1_000)));
    await expect("raw: a msgpack string claiming 4 GB", /^(error|invalid_payload)$/, () => raw.request("send", Buffer.from([0x82, 0xa2, 0x69, 0x64, 0xa1, 0x78, 0xa4, 0x74, 0x65, 0x78, 0x74, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41])));
    await expect("raw: a map claiming 2^32 entries", /^(error|invalid_payload)$/, () => raw.request("send", Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61])));
    await expect("raw: msgpack ext type -1 (timestamp) as text", /^(error|invalid_payload)$/, () => raw.request("send", Buffer.concat([Buffer.from([0x82]), str("id"), str("t1"), str("text"), Buffer.from([0xd6, 0xff, 0, 0, 0, 1])])));
    await expect("raw: a reserved msgpack byte (0xc1)", /^(error|invalid_payload)$/, () => raw.request("send", Buffer.from([0xc1])));
    await expect("raw: a type name of 300 bytes", /^(error|no answer)$/, () => raw.request("x".repeat(300), map([])));
    await expect("raw: a request without a payload", /^invalid_payload$/, () => raw.request("send", Buffer.alloc(0)));
    const garbage: [string, Buffer | string | Buffer[]][] = [
      ["raw: garbage bytes", Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0xc0, 0xc1])],
      ["raw: a data frame cut off mid-string", Buffer.from([ROOM_DATA, 0xd9, 0xff])],
      ["raw: a request frame cut off after its id", Buffer.from([ROOM_REQUEST, 0x05])],
      ["raw: a request frame with a varint id of 9 bytes", Buffer.from([ROOM_REQUEST, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
      ["raw: invalid UTF-8 bytes", Buffer.from([0xc3, 0xbf, 0xed, 0xa0, 0x80])],
      ["raw: a data frame for a handler with a deep payload", Buffer.concat([Buffer.from([ROOM_DATA]), str("send"), deepMsgpack(20_000)])],
      ["raw: every protocol code alone, one frame each", Array.from({ length: 256 }, (_, i) => i).filter((c) => (c & 0x1f) !== 12).map((c) => Buffer.from([c]))],
      ["raw: an empty frame", Buffer.alloc(0)],
      ["raw: a text frame of JSON", JSON.stringify({ type: "send", id: "j", text: "json" })],
    ];
    let target = raw;
    for (const [name, frame] of garbage) {
      if (!target.isOpen) { await sleep(300); target = await RawSeat.open(server, rawToken, { customerId }); }
      await expect(name, /^alive/, async () => {
        for (const f of Array.isArray(frame) ? frame : [frame]) { target.send(f); }
        await sleep(100);
        return `${await alive()} (${target.isOpen ? "open" : `closed ${target.closed}`})`;
      });
    }
    target.close();
    const flooder = await RawSeat.open(server, rawToken, { customerId });
    await expect("raw: 5,000 frames at once", /^alive/, async () => {
      for (let i = 0; i < 5_000; i++) { flooder.send(Buffer.concat([Buffer.from([ROOM_REQUEST, i % 100 + 1]), str("typing"), Buffer.from([0x81, 0xa6, ...Buffer.from("typing"), 0xc3])])); }
      await sleep(500);
      return alive();
    });
    const big = await RawSeat.open(server, rawToken, { customerId });
    await expect("raw: a frame over MAX_PAYLOAD_BYTES closes that connection (1009)", /^closed 1009 alive/, async () => {
      big.send(Buffer.concat([Buffer.from([ROOM_DATA]), str("send"), Buffer.alloc(70_000, 0x61)]));
      await sleep(300);
      return `closed ${big.closed} ${await alive()}`;
    });
    const seatToken = await signToken(TEST_SECRET, { sub: uniqueId("raw"), role: "agent" });
    for (const [name, path] of [
      ["raw: a bogus session id", (s: any) => `/${s.processId}/${s.roomId}?sessionId=nope`],
      ["raw: no session id", (s: any) => `/${s.processId}/${s.roomId}`],
      ["raw: a room id with ../", (s: any) => `/${s.processId}/../../${s.roomId}?sessionId=${s.sessionId}`],
      ["raw: another room's id", (s: any) => `/${s.processId}/cc-nobody?sessionId=${s.sessionId}`],
    ] as const) {
      await expect(name, /^refused alive/, async () => {
        const seat = await RawSeat.open(server, seatToken, { customerId }, path);
        await sleep(1_200); // the ping utility of the transport closes within a second
        const refused = !seat.isOpen;
        seat.close();
        return `${refused ? "refused" : "accepted"} ${await alive()}`;
      });
      await sleep(250);
    }
    raw.close();
    flooder.close();

    // --- tokens ------------------------------------------------------------------------
    const now = Math.floor(Date.now() / 1000);
    const forge = (claims: object, secret = key, alg = "HS256") => new SignJWT(claims as any).setProtectedHeader({ alg }).sign(secret);
    await expect("token: none", /auth_missing/, () => joinWithToken(""));
    await expect("token: garbage", /auth_invalid/, () => joinWithToken("not.a.jwt"));
    await expect("token: 8 kB of garbage", /auth_invalid/, () => joinWithToken("x".repeat(8_000)));
    await expect("token: forged secret", /auth_invalid/, async () => joinWithToken(await signToken("another-secret-another-secret-12345", { sub: "m", role: "customer" })));
    await expect("token: empty secret", /auth_invalid/, async () => joinWithToken(hs256({ alg: "HS256" }, { sub: "m", role: "customer", exp: now + 600 }, "")));
    await expect("token: expired", /auth_expired/, async () => joinWithToken(await forge({ sub: "m", role: "customer", exp: now - 3600 })));
    await expect("token: not yet valid", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "customer", nbf: now + 3600, exp: now + 7200 })));
    await expect("token: alg none", /auth_invalid/, async () => joinWithToken(`${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "m", role: "agent", exp: now + 600 })}.`));
    await expect("token: alg None, signature kept", /auth_invalid/, async () => {
      const good = await forge({ sub: "m", role: "agent", exp: now + 600 });
      return joinWithToken([b64({ alg: "None" }), ...good.split(".").slice(1)].join("."));
    });
    await expect("token: HS512", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "customer", exp: now + 600 }, key, "HS512")));
    await expect("token: HS384", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "customer", exp: now + 600 }, key, "HS384")));
    await expect("token: RS256 header, HMAC body", /auth_invalid/, async () => {
      const good = await forge({ sub: "m", role: "customer", exp: now + 600 });
      return joinWithToken([b64({ alg: "RS256", typ: "JWT" }), ...good.split(".").slice(1)].join("."));
    });
    await expect("token: an unknown critical header", /auth_invalid/, async () => joinWithToken(hs256({ alg: "HS256", crit: ["x-evil"], "x-evil": 1 }, { sub: "m", role: "customer", exp: now + 600 })));
    await expect("token: a jku header pointing elsewhere, wrong secret", /auth_invalid/, async () => joinWithToken(hs256({ alg: "HS256", jku: "http://evil.example/keys" }, { sub: "m", role: "customer", exp: now + 600 }, "evil")));
    await expect("token: exp as a string", /auth_invalid/, async () => joinWithToken(hs256({ alg: "HS256" }, { sub: "m", role: "customer", exp: "never" })));
    await expect("token: role admin", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "admin", exp: now + 600 })));
    await expect("token: role as an array", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: ["agent"], exp: now + 600 })));
    await expect("token: sub with ../", /auth_invalid/, async () => joinWithToken(await forge({ sub: "../m", role: "customer", exp: now + 600 })));
    await expect("token: sub with unicode", /auth_invalid/, async () => joinWithToken(await forge({ sub: "mällory", role: "customer", exp: now + 600 })));
    await expect("token: no sub", /auth_invalid/, async () => joinWithToken(await forge({ role: "customer", exp: now + 600 })));
    await expect("token: teams not an array", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "agent", teams: "sales", exp: now + 600 })));
    await expect("token: a team with a slash", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "agent", teams: ["a/b"], exp: now + 600 })));
    await expect("token: tampered payload", /auth_invalid/, async () => {
      const good = await forge({ sub: "m", role: "customer", exp: now + 600 });
      const [h, , s] = good.split(".");
      return joinWithToken([h, b64({ sub: customerId, role: "customer", exp: now + 600 }), s].join("."));
    });
    await expect("token: an app joining a customer room", /forbidden/, async () => joinWithToken(await signToken(TEST_SECRET, { sub: "crm", role: "app" }), "contact_center", { customerId }));

    // --- join options ------------------------------------------------------------------
    const agentToken = await signToken(TEST_SECRET, { sub: uniqueId("a"), role: "agent", teams: ["sales"] });
    const customerToken = await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" });
    await expect("join: customerId with ../", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: "../x" }));
    await expect("join: customerId a/b", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: "a/b" }));
    await expect("join: customerId with unicode", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: "kunde-ä" }));
    await expect("join: customerId as an object", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: { $ne: 1 } }));
    await sleep(1_000);
    await expect("join: customerId as a number", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: 42 }));
    await expect("join: customerId of 10 kB", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: "a".repeat(10_000) }));
    await expect("join: channel type with symbols", /invalid_options/, () => joinWithToken(customerToken, "contact_center", { channel: { type: "WEB!!" } }));
    await expect("join: channel as a string", /invalid_options/, () => joinWithToken(customerToken, "contact_center", { channel: "web" }));
    await expect("join: options as an array", /invalid_options/, () => joinWithToken(customerToken, "contact_center", [1, 2]));
    await sleep(1_000);
    await expect("join: team with a slash", /invalid_options/, () => joinWithToken(agentToken, "team", { teamId: "sales/../admin" }));
    await expect("join: team with unicode", /invalid_options/, () => joinWithToken(agentToken, "team", { teamId: "salés" }));
    await expect("join: private roomId with path", /invalid_options/, () => joinWithToken(customerToken, "private", { roomId: "pr-../../x" }));
    await expect("join: private customers with a path", /invalid_options/, () => joinWithToken(agentToken, "private", { customers: ["../x"] }));
    await expect("join: private with 1,000 customers", /invalid_options/, () => joinWithToken(agentToken, "private", { customers: Array.from({ length: 1_000 }, (_, i) => `c${i}`) }));
    await sleep(1_000);
    await expect("join: mode spy", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId, mode: "spy" }));
    await expect("join: an unknown room name", /error:/, () => joinWithToken(agentToken, "admin", {}));
    await expect("join: a customer into someone else's room by customerId and roomKey", /ok/, async () => {
      // the options are ignored: a customer always lands in its own room
      const client = new Client(server.url);
      client.auth.token = customerToken;
      const room = await client.joinOrCreate("contact_center", { customerId, roomKey: `cc-${customerId}` });
      const own = room.roomId !== `cc-${customerId}`;
      await room.leave();
      return own ? "ok" : "landed in the victim's room";
    });
    await expect("join: a forged resolved join (__join) and a __proto__ option", /ok/, async () => {
      const client = new Client(server.url);
      client.auth.token = customerToken;
      const forged = JSON.parse(`{"__join":{"roomId":"cc-${customerId}","kind":"contact_center","create":null,"channel":null,"monitor":true},"__proto__":{"roomKey":"cc-${customerId}"}}`);
      const room = await client.joinOrCreate("contact_center", forged);
      const own = room.roomId !== `cc-${customerId}`;
      await room.leave();
      return own ? "ok" : "landed in the victim's room";
    });

    // --- the HTTP API ----------------------------------------------------------------------
    const appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
    const api = async (method: string, path: string, body?: string | Buffer, token = appToken) => {
      const res = await fetch(`${server.url}/api${path}`, {
        method, body: typeof body === "string" || body === undefined ? body : new Uint8Array(body), headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      });
      const json: any = await res.json().catch(() => ({}));
      return `${res.status} ${json.code}`;
    };
    const room = `/rooms/cc-${customerId}`;
    await expect("http: a body that is an array", /^400 invalid_payload$/, () => api("POST", `${room}/messages`, "[1,2]"));
    await expect("http: a body with __proto__", /^400 invalid_payload$/, () => api("POST", `${room}/messages`, '{"__proto__":{"id":"x","text":"y"}}'));
    await expect("http: invalid UTF-8 in the body", /^(400 invalid_payload|200 undefined)$/, async () => {
      const got = await api("POST", `${room}/messages`, Buffer.concat([Buffer.from('{"id":"h1","text":"'), Buffer.from([0xed, 0xa0, 0x80, 0x41]), Buffer.from('"}')]));
      if (got.startsWith("200")) {
        const page = await honestAgent.request("history", { after: 0, limit: 200 });
        acked.set("h1", { seq: page.messages.find((m: any) => m.id === "h1")?.seq ?? -1 });
      }
      return got;
    });
    await expect("http: a body nested 5,000 deep", /^400 invalid_payload$/, () => api("POST", `${room}/messages`, `${"[".repeat(5_000)}${"]".repeat(5_000)}`));
    await expect("http: a body of 1 MB", /^413 payload_too_large$/, () => api("POST", `${room}/messages`, JSON.stringify({ id: "big", text: "x".repeat(1_000_000) })));
    await expect("http: a room id with an encoded ../", /^400 invalid_payload$/, () => api("GET", "/rooms/cc-%2E%2E%2F%2E%2E%2Fx/conversations"));
    await expect("http: a conversation id with unicode", /^400 invalid_payload$/, () => api("GET", `${room}/conversations/conv-%C3%A4/messages`));
    await expect("http: limit as an array", /^400 invalid_payload$/, () => api("GET", `${room}/conversations?limit=1&limit=2`));
    await expect("http: before as a word", /^400 invalid_payload$/, () => api("GET", `${room}/conversations?before=yesterday`));
    await expect("http: an agent's token", /^403 forbidden$/, async () => api("GET", `${room}/conversations`, undefined, agentToken));
    await expect("http: an alg none token with role app", /^401 auth_invalid$/, () => api("GET", `${room}/conversations`, undefined, `${b64({ alg: "none" })}.${b64({ sub: "crm", role: "app", exp: now + 600 })}.`));

    // --- verdict ---------------------------------------------------------------------------
    if (process.env.HOSTILE_VERBOSE) { console.table(results.map((r) => ({ name: r.name, got: r.got.slice(0, 90) }))); }
    const wrong = results.filter((r) => !r.want.test(r.got));
    assert.deepEqual(wrong.map((r) => `${r.name}: got ${r.got}`), []);
    assert.ok(results.length >= 100, `${results.length} hostile inputs`);

    // the honest clients: still connected, still served
    assert.equal(honestCustomer.connection.isOpen, true);
    assert.equal(honestAgent.connection.isOpen, true);
    const id = uniqueId("h");
    acked.set(id, { seq: (await honestCustomer.request("send", { id, text: "still here?" })).seq, text: "still here?" });
    honestIds.push(id);

    // the transcript is exactly the acknowledged messages: each with its seq and text, no gaps, nothing else
    const page = await honestAgent.request("history", { after: 0, limit: 200 });
    assert.equal(page.messages.length < 200, true, "one page holds the whole transcript");
    const stored = new Map<string, any>(page.messages.map((m: any) => [m.id, m]));
    assert.deepEqual(
      page.messages.map((m: any) => [m.id, m.seq]).sort((a: any, b: any) => a[1] - b[1]),
      [...acked].map(([i, m]) => [i, m.seq]).sort((a: any, b: any) => a[1] - b[1]),
      "stored = acknowledged",
    );
    const seqs = page.messages.map((m: any) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "seqs without gaps, oldest first");
    for (const [mid, m] of acked) {
      if (m.text !== undefined) { assert.equal(stored.get(mid).text, m.text, `text of ${mid}`); }
      assert.doesNotMatch(stored.get(mid).text, /[\uD800-\uDFFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/, `no lone surrogates or controls in ${mid}`);
    }
    for (const mid of honestIds) { assert.ok(stored.has(mid), `honest message ${mid}`); }
    // the SDK's encoder already turns lone surrogates into U+FFFD; none reaches storage
    assert.match(stored.get("p3").text, /bad.* text/);
    assert.match(stored.get("raw2").text, /^hi.*!$/);
    assert.deepEqual(Object.keys(stored.get("p1")).sort(), Object.keys(stored.get("p7")).sort(), "no extra keys stored");
    assert.equal(({} as any).polluted, undefined);
  });
});

describe("tokens never reach the logs", function () {
  this.timeout(30_000);

  for (const [what, env] of [
    ["at LOG_LEVEL=trace", { LOG_LEVEL: "trace" }],
    ["with Colyseus' debug logs on (DEBUG=colyseus:*)", { LOG_LEVEL: "trace", DEBUG: "colyseus:*" }],
  ] as const) {
  it(`after joins, refusals, reconnections, raw connections and API calls ${what}, no token is in the output`, async () => {
    const server = await startServerProcess(env);
    const tokens: string[] = [];
    try {
      const customerId = uniqueId("c");
      const customerClient = await clientFor(server.url, { sub: customerId, role: "customer" });
      tokens.push(customerClient.auth.token!);
      const customer = await customerClient.joinOrCreate("contact_center", {});
      await customer.request("send", { id: "m1", text: "hello" });
      const agentClient = await clientFor(server.url, { sub: uniqueId("a"), role: "agent" });
      tokens.push(agentClient.auth.token!);
      const agent = await agentClient.joinOrCreate("contact_center", { customerId });
      // a refused join (the token is valid, the room is not), an expired and a forged token
      await assert.rejects(agentClient.joinOrCreate("contact_center", { customerId: uniqueId("ghost") }), /room_not_found/);
      const expired = await signToken(TEST_SECRET, { sub: uniqueId("x"), role: "customer" }, Math.floor(Date.now() / 1000) - 120);
      const forged = await signToken("not-the-secret-not-the-secret-123456", { sub: uniqueId("x"), role: "customer" });
      tokens.push(expired, forged);
      for (const token of [expired, forged]) {
        const client = new Client(server.url);
        client.auth.token = token;
        await assert.rejects(client.joinOrCreate("contact_center", {}), /auth_/);
      }
      // a dropped connection that reconnects, and a raw connection with the token in its URL and a bad session
      customer.reconnection.minUptime = 0;
      const reconnected = new Promise<void>((resolve) => customer.onReconnect(() => resolve()));
      customer.connection.close(CloseCode.MAY_TRY_RECONNECT, "network drop");
      await reconnected;
      const raw = await RawSeat.open(server, customerClient.auth.token!, {}, (s: any) => `/${s.processId}/${s.roomId}?sessionId=bad&_authToken=${customerClient.auth.token}`);
      await sleep(300);
      raw.close();
      // the HTTP API, accepted and refused
      const appToken = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
      tokens.push(appToken);
      for (const token of [appToken, customerClient.auth.token!, expired]) {
        await fetch(`${server.url}/api/rooms/cc-${customerId}/messages`, {
          method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: "{bad json",
        });
        await fetch(`${server.url}/api/rooms/cc-${customerId}/conversations?limit=1`, { headers: { authorization: `Bearer ${token}` } });
      }
      await agent.leave();
      await customer.leave();
      await sleep(300);
    } finally {
      await server.stop();
    }
    const out = server.output();
    assert.ok(out.includes(`"msg":"room actor started"`));
    if ("DEBUG" in env) { assert.match(out, /colyseus:(matchmaking|connection|message)/, "Colyseus' debug output is on"); }
    for (const token of tokens) {
      const signature = token.split(".")[2];
      assert.ok(!out.includes(token), "a whole token in the logs");
      assert.ok(!out.includes(signature), "a token's signature in the logs");
    }
  });
  }
});

function nest(depth: number): unknown {
  let o: any = {};
  for (let i = 0; i < depth; i++) { o = { a: o }; }
  return o;
}
