import assert from "node:assert/strict";
import { Client, type Room } from "@colyseus/sdk";
import { SignJWT } from "jose";
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

/**
 * A corpus of hostile inputs sent by real SDK clients (and raw frames). After all
 * of them the room still serves its honest customer and agent, and every message
 * they stored is intact.
 */
describe("hostile inputs: the room survives and loses nothing", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let customerId: string;
  let honestCustomer: Room<any>;
  let honestAgent: Room<any>;
  const honest: { id: string; text: string; seq: number }[] = [];

  before(async () => {
    server = await startServerProcess({ MESSAGES_PER_SECOND: "5", MESSAGES_BURST: "10", JOINS_PER_SECOND: "5" });
    customerId = uniqueId("victim");
    honestCustomer = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
    honestAgent = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent" })).joinOrCreate("contact_center", { customerId });
    for (const [room, text] of [[honestCustomer, "my order 1234 is late"], [honestAgent, "let me check"]] as const) {
      const id = uniqueId("h");
      honest.push({ id, text, seq: (await room.request("send", { id, text })).seq });
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

  it("answers 60+ hostile inputs with clear refusals, and the honest clients keep every message", async () => {
    const results: { name: string; got: string; want: RegExp }[] = [];
    const expect = async (name: string, want: RegExp, run: () => Promise<string>) => {
      results.push({ name, got: await run(), want });
    };

    // --- payloads of requests, from a customer connection in the victim's room -------
    const evil = await attacker("customer");
    const send = (payload: unknown) => outcome(evil.request("send", payload as any));
    const payloads: [string, unknown, RegExp][] = [
      ["send: null payload", null, /invalid_payload/],
      ["send: string payload", "hello", /invalid_payload/],
      ["send: number payload", 42, /invalid_payload/],
      ["send: array payload", [1, 2, 3], /invalid_payload/],
      ["send: boolean payload", true, /invalid_payload/],
      ["send: text is a number", { id: "a1", text: 12345 }, /invalid_payload/],
      ["send: text is an object", { id: "a1", text: { toString: "x" } }, /invalid_payload/],
      ["send: id is a number", { id: 7, text: "x" }, /invalid_payload/],
      ["send: missing id", { text: "x" }, /invalid_payload/],
      ["send: unknown kind", { id: "a2", text: "x", kind: "system" }, /invalid_payload/],
      ["send: customer note", { id: "a3", text: "x", kind: "note" }, /forbidden/],
      ["send: empty text", { id: "a4", text: "" }, /invalid_payload/],
      ["send: only control characters", { id: "a5", text: "\u0000\u0001\u0002" }, /invalid_payload/],
      ["send: 60,000 characters", { id: "a6", text: "x".repeat(60_000) }, /payload_too_large|text_too_long/],
      ["send: 4,001 emoji (8,002 UTF-16 units, limit 4,000 code points)", { id: "a7", text: "😀".repeat(4_001) }, /text_too_long/],
      ["send: 20 kB of extra keys", { id: "a8", text: "x", junk: "y".repeat(20_000) }, /payload_too_large/],
      ["send: id with ../", { id: "../../etc/passwd", text: "x" }, /invalid_payload/],
      ["send: id with a slash", { id: "a/b", text: "x" }, /invalid_payload/],
      ["send: id with a space", { id: "a b", text: "x" }, /invalid_payload/],
      ["send: id with unicode", { id: "ïd", text: "x" }, /invalid_payload/],
      ["send: id with NUL", { id: "id\u0000", text: "x" }, /invalid_payload/],
      ["send: empty id", { id: "", text: "x" }, /invalid_payload/],
      ["send: 65-character id", { id: "a".repeat(65), text: "x" }, /invalid_payload/],
      ["send: deep object", { id: "a9", text: "x", deep: nest(2_000) }, /payload_too_large|invalid_payload|error:/],
      ["read: negative seq", { seq: -1 }, /invalid_payload/],
      ["read: seq as string", { seq: "1" }, /invalid_payload/],
      ["read: seq as float", { seq: 1.5 }, /invalid_payload/],
      ["read: huge seq", { seq: 1e300 }, /invalid_payload/],
    ];
    for (const [name, payload, want] of payloads) {
      if (name.startsWith("read")) { await expect(name, want, () => outcome(evil.request("read", payload as any))); }
      else { await expect(name, want, () => send(payload)); }
      await sleep(210); // under the rate limit: this part is about payloads, not floods
    }
    await expect("send: prototype pollution __proto__", /ok|invalid_payload/, () => send(JSON.parse('{"id":"p1","text":"x","__proto__":{"polluted":true}}')));
    await expect("send: prototype pollution constructor.prototype", /ok|invalid_payload/, () => send({ id: "p2", text: "x", constructor: { prototype: { polluted: true } } }));
    await expect("send: lone surrogates are stripped, the rest stored", /ok/, () => send({ id: "p3", text: "\uD800bad\uDFFF text" }));
    await sleep(400);
    await expect("history: limit 0", /invalid_payload/, () => outcome(evil.request("history", { limit: 0 })));
    await expect("history: limit 1e9", /invalid_payload/, () => outcome(evil.request("history", { limit: 1e9 })));
    await expect("history: conversationId with ../", /invalid_payload/, () => outcome(evil.request("history", { conversationId: "../../x" })));
    await expect("history: someone else's conversation id", /unknown_conversation/, () => outcome(evil.request("history", { conversationId: "conv-nope" })));
    await expect("conversations: limit as string", /invalid_payload/, () => outcome(evil.request("conversations", { limit: "10" })));
    await expect("typing: not a boolean", /invalid_payload/, () => outcome(evil.request("typing", { typing: "yes" })));
    await sleep(400);
    await expect("end: by a customer", /forbidden/, () => outcome(evil.request("end", {})));
    await expect("transfer: by a customer", /forbidden/, () => outcome(evil.request("transfer", { toTeamId: "x" })));
    await expect("barge: by a customer", /forbidden/, () => outcome(evil.request("barge", {})));
    await expect("accept: in a customer room", /error:no_handler/, () => outcome(evil.request("accept", { requestId: "x" })));
    await expect("unknown request type", /error:no_handler/, () => outcome(evil.request("drop_tables", {})));
    await expect("unknown request type __proto__", /error:no_handler/, () => outcome(evil.request("__proto__", {})));
    await sleep(1_000);

    // --- floods -----------------------------------------------------------------------
    const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => send({ id: `f${i}`, text: `flood ${i}` })));
    await expect("flood: 40 sends at once (limit 5/s, burst 10)", /rate_limited/, async () => (flood.filter((c) => c === "rate_limited").length >= 25 ? "rate_limited" : flood.join(",")));
    await expect("flood: the connection stays open", /open/, async () => (evil.connection.isOpen ? "open" : "closed"));
    const joins = await Promise.all(Array.from({ length: 25 }, async () =>
      outcome((await clientFor(server.url, { sub: "joiner", role: "customer" })).joinOrCreate("contact_center", {}).then((r) => r.leave()))));
    await expect("flood: 25 joins of one user at once", /rate_limited/, async () => (joins.some((j) => /rate_limited/.test(j)) ? "rate_limited" : joins.join(",")));

    // --- plain sends (no request id) and raw frames -------------------------------------
    const errors: any[] = [];
    evil.onMessage("error", (e) => errors.push(e));
    evil.send("send", { id: "plain", text: 5 } as any);
    evil.send("no-such-type", {});
    await sleep(300);
    await expect("plain send with a bad payload: an error message, no disconnect", /invalid_payload/, async () => errors.map((e) => e.code).join(","));
    await expect("plain send of an unknown type: unknown_request", /unknown_request/, async () => errors.map((e) => e.code).join(","));
    await expect("the connection is still open after plain sends", /open/, async () => (evil.connection.isOpen ? "open" : "closed"));
    const raw = await attacker();
    const ws: any = (raw.connection as any).transport.ws;
    ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0xc0, 0xc1]));
    ws.send(Buffer.from([13, 1, 0xd9, 0xff])); // a request frame cut off mid-string
    ws.send(Buffer.from([0xc3, 0xbf, 0xed, 0xa0, 0x80])); // invalid UTF-8
    await sleep(300);
    await expect("raw garbage frames: the server survives", /ok/, async () => ((await fetch(`${server.url}/health`)).ok ? "ok" : "down"));

    // --- tokens ------------------------------------------------------------------------
    const now = Math.floor(Date.now() / 1000);
    const forge = (claims: object, secret = key, alg = "HS256") => new SignJWT(claims as any).setProtectedHeader({ alg }).sign(secret);
    await expect("token: none", /auth_missing/, () => joinWithToken(""));
    await expect("token: garbage", /auth_invalid/, () => joinWithToken("not.a.jwt"));
    await expect("token: forged secret", /auth_invalid/, async () => joinWithToken(await signToken("another-secret-another-secret-12345", { sub: "m", role: "customer" })));
    await expect("token: expired", /auth_expired/, async () => joinWithToken(await forge({ sub: "m", role: "customer", exp: now - 3600 })));
    await expect("token: not yet valid", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "customer", nbf: now + 3600, exp: now + 7200 })));
    await expect("token: alg none", /auth_invalid/, async () => joinWithToken(`${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "m", role: "agent", exp: now + 600 })}.`));
    await expect("token: HS512", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "customer", exp: now + 600 }, key, "HS512")));
    await expect("token: RS256 header, HMAC body", /auth_invalid/, async () => {
      const good = await forge({ sub: "m", role: "customer", exp: now + 600 });
      return joinWithToken([b64({ alg: "RS256", typ: "JWT" }), ...good.split(".").slice(1)].join("."));
    });
    await expect("token: role admin", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "admin", exp: now + 600 })));
    await expect("token: sub with ../", /auth_invalid/, async () => joinWithToken(await forge({ sub: "../m", role: "customer", exp: now + 600 })));
    await expect("token: teams not an array", /auth_invalid/, async () => joinWithToken(await forge({ sub: "m", role: "agent", teams: "sales", exp: now + 600 })));
    await expect("token: tampered payload", /auth_invalid/, async () => {
      const good = await forge({ sub: "m", role: "customer", exp: now + 600 });
      const [h, , s] = good.split(".");
      return joinWithToken([h, b64({ sub: customerId, role: "customer", exp: now + 600 }), s].join("."));
    });

    // --- join options ------------------------------------------------------------------
    const agentToken = await signToken(TEST_SECRET, { sub: uniqueId("a"), role: "agent", teams: ["sales"] });
    const customerToken = await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" });
    await expect("join: customerId with ../", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: "../x" }));
    await expect("join: customerId as an object", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId: { $ne: 1 } }));
    await expect("join: channel type with symbols", /invalid_options/, () => joinWithToken(customerToken, "contact_center", { channel: { type: "WEB!!" } }));
    await expect("join: options as an array", /invalid_options/, () => joinWithToken(customerToken, "contact_center", [1, 2]));
    await expect("join: team with a slash", /invalid_options/, () => joinWithToken(agentToken, "team", { teamId: "sales/../admin" }));
    await expect("join: private roomId with path", /invalid_options/, () => joinWithToken(customerToken, "private", { roomId: "pr-../../x" }));
    await expect("join: mode spy", /invalid_options/, () => joinWithToken(agentToken, "contact_center", { customerId, mode: "spy" }));
    await expect("join: a customer into someone else's room by customerId", /ok/, async () => {
      // the option is ignored: a customer always lands in its own room
      const client = new Client(server.url);
      client.auth.token = customerToken;
      const room = await client.joinOrCreate("contact_center", { customerId, roomKey: `cc-${customerId}` });
      const own = room.roomId !== `cc-${customerId}`;
      await room.leave();
      return own ? "ok" : "landed in the victim's room";
    });

    // --- verdict ---------------------------------------------------------------------------
    const wrong = results.filter((r) => !r.want.test(r.got));
    assert.deepEqual(wrong.map((r) => `${r.name}: got ${r.got}`), []);
    assert.ok(results.length >= 60, `${results.length} hostile inputs`);

    // the honest clients: still connected, still served, nothing they stored is lost or altered
    assert.equal(honestCustomer.connection.isOpen, true);
    assert.equal(honestAgent.connection.isOpen, true);
    const id = uniqueId("h");
    honest.push({ id, text: "still here?", seq: (await honestCustomer.request("send", { id, text: "still here?" })).seq });
    const page = await honestAgent.request("history", { after: 0, limit: 200 });
    const stored = new Map<string, any>(page.messages.map((m: any) => [m.id, m]));
    for (const m of honest) {
      assert.equal(stored.get(m.id)?.text, m.text, `honest message ${m.id}`);
      assert.equal(stored.get(m.id)?.seq, m.seq);
    }
    const seqs = page.messages.map((m: any) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "seqs without gaps");
    // the SDK's encoder already turns lone surrogates into U+FFFD; none reaches storage
    assert.doesNotMatch(stored.get("p3")?.text, /[\uD800-\uDFFF]/);
    assert.match(stored.get("p3")?.text, /bad.* text/);
    assert.equal(({} as any).polluted, undefined);
  });
});

function nest(depth: number): unknown {
  let o: any = {};
  for (let i = 0; i < depth; i++) { o = { a: o }; }
  return o;
}
