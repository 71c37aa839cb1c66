import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Client, CloseCode, type Room } from "@colyseus/sdk";
import { SignJWT } from "jose";
import { nextStep, TokenExpiryTracker, warnAt } from "../server/policy/tokenExpiry";
import { signToken } from "../server/auth";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { ROOT, sleep, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess } from "./helpers/server";

const key = new TextEncoder().encode(TEST_SECRET);
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A token with exactly the claims given (no exp unless named), signed with the test secret. */
function forge(claims: Record<string, unknown>) {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

async function join(url: string, token: string, name = "contact_center", options: object = {}): Promise<Room<any>> {
  const client = new Client(url);
  client.auth.token = token;
  return client.joinOrCreate(name, options);
}

const refusal = (p: Promise<unknown>) => p.then(() => "joined", (e: any) => String(e?.message ?? e));

async function api(url: string, token: string) {
  const res = await fetch(`${url}/api/rooms/cc-nobody-here/conversations`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as any };
}

/** Records what a room's connection saw: the warnings and its close code. */
function watch(room: Room<any>) {
  const seen = { expiring: [] as { exp: number; at: number }[], closed: undefined as number | undefined, closedAt: 0 };
  room.onMessage("token_expiring", (m: any) => seen.expiring.push({ exp: m.exp, at: Date.now() }));
  room.onLeave((code: number) => { seen.closed = code; seen.closedAt = Date.now(); });
  return seen;
}

describe("token rules", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let strict: ServerProcess;

  before(async () => {
    [server, strict] = await Promise.all([
      startServerProcess(),
      startServerProcess({ AUTH_ISSUER: "https://idp.example", AUTH_AUDIENCE: "contact-center", AUTH_MAX_TOKEN_LIFETIME_SECONDS: "3600" }),
    ]);
  });
  after(async () => { await Promise.all([server?.stop(), strict?.stop()]); });

  it("refuses a token without exp at join and at /api", async () => {
    const noExp = await forge({ sub: uniqueId("c"), role: "customer" });
    assert.match(await refusal(join(server.url, noExp)), /^auth_invalid: token has no exp/);
    const appNoExp = await forge({ sub: "crm", role: "app" });
    assert.deepEqual((await api(server.url, appNoExp)).status, 401);
    assert.match((await api(server.url, appNoExp)).body.code, /^auth_invalid$/);
    assert.match((await api(server.url, appNoExp)).body.message, /no exp/);
  });

  it("refuses a lifetime over AUTH_MAX_TOKEN_LIFETIME_SECONDS, with or without iat", async () => {
    const now = nowSeconds();
    const long = await forge({ sub: uniqueId("c"), role: "customer", iat: now, exp: now + 86_400 + 60 });
    assert.match(await refusal(join(server.url, long)), /^auth_invalid: .*lifetime/);
    const noIat = await forge({ sub: uniqueId("c"), role: "customer", exp: now + 86_400 + 600 });
    assert.match(await refusal(join(server.url, noIat)), /^auth_invalid: .*lifetime/);
    // an iat in the future does not shorten the lifetime
    const lateIat = await forge({ sub: uniqueId("c"), role: "customer", iat: now + 86_400, exp: now + 86_400 + 600 });
    assert.match(await refusal(join(server.url, lateIat)), /^auth_invalid/);
    const app = await forge({ sub: "crm", role: "app", iat: now, exp: now + 90_000 });
    assert.deepEqual([(await api(server.url, app)).status, (await api(server.url, app)).body.code], [401, "auth_invalid"]);
    // at the maximum, and the project's own signer, pass
    const atMax = await forge({ sub: uniqueId("c"), role: "customer", iat: now, exp: now + 86_400 });
    await (await join(server.url, atMax)).leave();
    await (await join(server.url, await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" }, "8h"))).leave();
    // a server with a lower maximum
    const twoHours = await forge({ sub: uniqueId("c"), role: "customer", iss: "https://idp.example", aud: "contact-center", iat: now, exp: now + 7_200 });
    assert.match(await refusal(join(strict.url, twoHours)), /^auth_invalid: .*lifetime/);
  });

  it("checks iss and aud when configured: other or missing ones refused, matching ones accepted", async () => {
    const now = nowSeconds();
    const claims = { role: "customer", iat: now, exp: now + 600 };
    const good = { iss: "https://idp.example", aud: "contact-center" };
    for (const [what, extra] of [
      ["another iss", { ...good, iss: "https://evil.example" }],
      ["no iss", { aud: good.aud }],
      ["another aud", { ...good, aud: "another-service" }],
      ["no aud", { iss: good.iss }],
    ] as const) {
      const token = await forge({ ...claims, ...extra, sub: uniqueId("c") });
      assert.match(await refusal(join(strict.url, token)), /^auth_invalid: token claim invalid: (iss|aud)/, what);
    }
    const appBadIss = await forge({ sub: "crm", role: "app", iat: now, exp: now + 600, iss: "https://evil.example", aud: good.aud });
    assert.deepEqual([(await api(strict.url, appBadIss)).status, (await api(strict.url, appBadIss)).body.code], [401, "auth_invalid"]);
    const app = await forge({ sub: "crm", role: "app", iat: now, exp: now + 600, ...good });
    assert.equal((await api(strict.url, app)).body.code, "room_not_found", "a matching app token passes auth");
    await (await join(strict.url, await forge({ ...claims, ...good, sub: uniqueId("c") }))).leave();
    // the project's own signer sets iss and aud from the configuration
    const signed = await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" }, "1h", { authIssuer: good.iss, authAudience: good.aud });
    await (await join(strict.url, signed)).leave();
    // without configuration any iss/aud is accepted, as before
    await (await join(server.url, await forge({ ...claims, iss: "x", aud: "y", sub: uniqueId("c") }))).leave();
  });

  it("closes a connection with 4003 when its token expires, after a token_expiring warning (customer and team rooms)", async () => {
    const exp = nowSeconds() + 4; // ~3-4 s of life: a loaded machine still joins well before it
    const customerId = uniqueId("c");
    const customer = await join(server.url, await forge({ sub: customerId, role: "customer", exp }));
    const agentId = uniqueId("a");
    const desk = await join(server.url, await forge({ sub: agentId, role: "agent", teams: ["support"], exp }), "team", { teamId: "support" });
    desk.onMessage("offer", () => {});
    const [c, d] = [watch(customer), watch(desk)];
    await customer.request("send", { id: "m1", text: "hello" });
    await until(() => c.closed !== undefined && d.closed !== undefined, 10_000, "both connections closed");
    for (const [name, seen] of [["customer", c], ["team", d]] as const) {
      assert.equal(seen.closed, 4003, `${name} closed with 4003`);
      assert.equal(seen.expiring.length, 1, `${name} warned once`);
      assert.equal(seen.expiring[0]!.exp, exp, `${name} warning names the exp`);
      assert.ok(seen.expiring[0]!.at < seen.closedAt, `${name} warned before the close`);
      assert.ok(seen.closedAt >= exp * 1000 - 50, `${name} not closed before exp`);
    }
    // the room itself goes on: the same customer joins again with a fresh token
    const again = await join(server.url, await signToken(TEST_SECRET, { sub: customerId, role: "customer" }));
    const { messages } = await again.request("history", {});
    assert.deepEqual(messages.map((m: any) => m.text), ["hello"]);
    await again.leave();
  });

  it("does not let a reconnection outlive the token: neither after the 4003 close nor after a drop across the exp", async () => {
    const exp = nowSeconds() + 4; // ~3-4 s of life: a loaded machine still joins well before it
    const closedOne = await join(server.url, await forge({ sub: uniqueId("c"), role: "customer", exp }));
    const closed = watch(closedOne);
    const droppedId = uniqueId("c");
    const dropped = await join(server.url, await forge({ sub: droppedId, role: "customer", exp }));
    // a network drop before the exp; the SDK's own retries are off so the test reconnects after it
    dropped.reconnection.enabled = false;
    dropped.connection.close(CloseCode.MAY_TRY_RECONNECT, "network drop");
    await until(() => closed.closed !== undefined, 10_000, "the 4003 close");
    assert.equal(closed.closed, 4003);
    while (Date.now() < exp * 1000 + 300) { await sleep(100); }

    const outcome = async (reconnectionToken: string) => {
      try {
        const room = await new Client(server.url).reconnect(reconnectionToken);
        const seen = watch(room);
        await sleep(1_000);
        return seen.closed !== undefined ? `closed ${seen.closed}` : "open";
      } catch (e: any) {
        return `refused ${e?.message ?? e}`;
      }
    };
    assert.match(await outcome(closedOne.reconnectionToken), /^refused/, "no seat after a 4003 close");
    assert.match(await outcome(dropped.reconnectionToken), /^(refused|closed 4003)/, "a dropped connection's token ran out meanwhile");
    // the user comes back with a fresh token
    await (await join(server.url, await signToken(TEST_SECRET, { sub: droppedId, role: "customer" }))).leave();
  });

  it("keeps a refreshed connection open past the first token's expiry, and it keeps chatting", async () => {
    const exp = nowSeconds() + 4; // ~3-4 s of life: a loaded machine still joins well before it
    const customerId = uniqueId("c");
    const customer = await join(server.url, await forge({ sub: customerId, role: "customer", exp }));
    const seen = watch(customer);
    let refreshed: any;
    customer.onMessage("token_expiring", async () => {
      refreshed = await customer.request("refresh", { token: await signToken(TEST_SECRET, { sub: customerId, role: "customer" }, "1h") });
    });
    await until(() => refreshed !== undefined, 6_000, "the refresh");
    assert.ok(refreshed.exp >= nowSeconds() + 3500, "answers the new exp");
    while (Date.now() < exp * 1000 + 2_000) { await sleep(100); }
    assert.equal(seen.closed, undefined, "still open");
    assert.ok(customer.connection.isOpen);
    assert.equal((await customer.request("send", { id: "after", text: "still here" })).seq, 1);
    await customer.leave();
  });

  it("the sample bot refreshes its own short-lived token and stays in its team room past the first exp", async () => {
    const bot = spawn(process.execPath, ["--import", "tsx", "examples/bot.ts"], {
      cwd: ROOT, env: { ...process.env, SERVER_URL: server.url, AUTH_SECRET: TEST_SECRET, TEAM: "support", NODE_ENV: "test", BOT_ID: uniqueId("bot"), BOT_TOKEN_SECONDS: "3" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    bot.stdout!.on("data", (d) => { out += d; });
    bot.stderr!.on("data", (d) => { out += d; });
    try {
      await until(() => out.includes("is in team-support"), 15_000, `the bot to connect:\n${out}`);
      const firstExp = nowSeconds() + 3;
      await until(() => out.includes("bot refreshed its token in team-support"), 10_000, `the bot's refresh:\n${out}`);
      while (Date.now() < firstExp * 1000 + 2_000) { await sleep(100); }
      assert.equal(bot.exitCode, null, `the bot still runs:\n${out}`);
      assert.doesNotMatch(out, /token expired|could not refresh/);
    } finally {
      bot.kill("SIGKILL");
    }
  });

  it("refuses a refresh with another user's or role's token (forbidden) or a bad token, and the connection stays", async () => {
    const customerId = uniqueId("c");
    const customer = await join(server.url, await signToken(TEST_SECRET, { sub: customerId, role: "customer" }, "1h"));
    const seen = watch(customer);
    const rejection = (p: Promise<unknown>) => p.then(() => "accepted", (e: any) => e?.reason?.code ?? String(e));
    assert.equal(await rejection(customer.request("refresh", { token: await signToken(TEST_SECRET, { sub: uniqueId("c"), role: "customer" }) })), "forbidden");
    assert.equal(await rejection(customer.request("refresh", { token: await signToken(TEST_SECRET, { sub: customerId, role: "agent" }) })), "forbidden");
    assert.equal(await rejection(customer.request("refresh", { token: await forge({ sub: customerId, role: "customer" }) })), "auth_invalid");
    assert.equal(await rejection(customer.request("refresh", { token: await signToken("another-secret-another-secret-12345", { sub: customerId, role: "customer" }) })), "auth_invalid");
    assert.equal(await rejection(customer.request("refresh", { token: await signToken(TEST_SECRET, { sub: customerId, role: "customer" }, nowSeconds() - 120) })), "auth_expired");
    assert.equal(await rejection(customer.request("refresh", { token: 42 })), "invalid_payload");
    assert.equal(await rejection(customer.request("refresh", {})), "invalid_payload");
    assert.equal((await customer.request("send", { id: "m1", text: "still here" })).seq, 1);
    assert.equal(seen.closed, undefined);
    await customer.leave();
  });
});

describe("token expiry scheduling (pure rules)", () => {
  it("warns 60 s before a long token's exp, at half the remaining life of a short one", () => {
    assert.equal(warnAt(3_600_000, 0, 60_000), 3_540_000);
    assert.equal(warnAt(10_000, 0, 60_000), 5_000);
    assert.equal(warnAt(10_000, 4_000, 60_000), 7_000);
    assert.equal(warnAt(1_000, 5_000, 60_000), 1_000, "already expired: no earlier warning");
  });

  it("steps: wait for the warning, warn, wait for exp, expire; timers capped for very long tokens", () => {
    assert.deepEqual(nextStep({ expMs: 10_000, warnAtMs: 5_000, warned: false }, 1_000), { action: "warn", inMs: 4_000 });
    assert.deepEqual(nextStep({ expMs: 10_000, warnAtMs: 5_000, warned: false }, 6_000), { action: "warn", inMs: 0 });
    assert.deepEqual(nextStep({ expMs: 10_000, warnAtMs: 5_000, warned: true }, 6_000), { action: "expire", inMs: 4_000 });
    assert.deepEqual(nextStep({ expMs: 10_000, warnAtMs: 5_000, warned: false }, 10_000), { action: "expire", inMs: 0 }, "past exp: no late warning");
    assert.deepEqual(nextStep({ expMs: 40 * 86_400_000, warnAtMs: 40 * 86_400_000 - 60_000, warned: false }, 0), { action: "warn", inMs: 40 * 86_400_000 - 60_000 }, "the tracker caps the timer");
  });

  it("the tracker warns, expires, moves on refresh, forgets on untrack, and re-plans capped timers", () => {
    let now = 0;
    const pending: { at: number; fn: () => void; cleared: boolean }[] = [];
    const timers = { setTimeout: (fn: () => void, ms: number) => { assert.ok(ms >= 0 && ms <= 2 ** 31 - 1, `timer of ${ms} ms within setTimeout's range`); const t = { at: now + ms, fn, cleared: false }; pending.push(t); return { clear: () => { t.cleared = true; } }; } };
    const advance = (to: number) => {
      for (;;) {
        const due = pending.filter((t) => !t.cleared && t.at <= to).sort((a, b) => a.at - b.at)[0];
        if (!due) { break; }
        due.cleared = true; now = due.at; due.fn();
      }
      now = to;
    };
    const events: string[] = [];
    const tracker = new TokenExpiryTracker(timers, {
      warn: (id, exp) => events.push(`warn ${id} ${exp}`),
      expire: (id) => events.push(`expire ${id}`),
    }, 60_000, () => now);

    tracker.track("a", 10);      // exp 10 s: warning at 5 s
    tracker.track("b", 100);     // warning at 50 s
    advance(5_000);
    assert.deepEqual(events, ["warn a 10"]);
    assert.equal(tracker.warned("a"), 10);
    tracker.track("a", 200);     // refresh at 5 s: warning moves to 140 s
    assert.equal(tracker.warned("a"), undefined);
    advance(60_000);
    assert.deepEqual(events, ["warn a 10", "warn b 100"]);
    tracker.untrack("b");
    advance(150_000);
    assert.deepEqual(events, ["warn a 10", "warn b 100", "warn a 200"]);
    advance(200_000);
    assert.deepEqual(events, ["warn a 10", "warn b 100", "warn a 200", "expire a"]);
    assert.ok(tracker.isExpired("a"));
    assert.ok(!tracker.isExpired("b"));

    tracker.track("far", 40 * 86_400 + 200);
    advance(40 * 86_400_000 + 200_000);
    assert.deepEqual(events.slice(-2), [`warn far ${40 * 86_400 + 200}`, "expire far"]);
    tracker.clear();
    assert.ok(!tracker.isExpired("a"));
  });
});

describe("token expiry on Redis nodes: the exp travels with the seat to whichever node hosts the room", function () {
  this.timeout(60_000);
  const nodes: ServerProcess[] = [];
  before(async () => {
    await flushTestDb();
    for (let i = 0; i < 2; i++) { nodes.push(await startServerProcess({ REDIS_URL: REDIS_TEST_URL })); }
  });
  after(async () => { await Promise.all(nodes.map((n) => n.stop())); });

  it("closes with 4003 after token_expiring, and keeps a refreshed one, whichever node matchmade", async () => {
    const exp = nowSeconds() + 5; // four joins through two nodes on a loaded machine come first
    const joins = await Promise.all([0, 1, 0, 1].map(async (n) => {
      const sub = uniqueId("c");
      const room = await join(nodes[n]!.url, await forge({ sub, role: "customer", exp }));
      return { sub, room, seen: watch(room) };
    }));
    const kept = joins[3]!;
    kept.room.onMessage("token_expiring", () => {
      void signToken(TEST_SECRET, { sub: kept.sub, role: "customer" }).then((token) => kept.room.request("refresh", { token }));
    });
    const hosts = new Set(joins.map(({ sub }) => nodes.findIndex((n) => n.output().includes(`"roomId":"cc-${sub}"`))));
    await until(() => joins.slice(0, 3).every((j) => j.seen.closed !== undefined), 15_000, "three closes");
    while (Date.now() < exp * 1000 + 1_500) { await sleep(100); }
    for (const j of joins.slice(0, 3)) {
      assert.equal(j.seen.closed, 4003);
      assert.deepEqual(j.seen.expiring.map((w) => w.exp), [exp]);
    }
    assert.equal(kept.seen.closed, undefined, `the refreshed one stays open (rooms on nodes ${[...hosts].join(", ")})`);
    assert.equal((await kept.room.request("send", { id: "m1", text: "still here" })).seq, 1);
    await kept.room.leave();
  });
});
