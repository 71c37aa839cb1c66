import assert from "node:assert/strict";
import os from "node:os";
import WebSocket from "ws";
import { rssKb, send, type Answer } from "./helpers/http";
import { clientFor, freePort, sleep, startServerProcess, TEST_SECRET, uniqueId, until, type ServerProcess } from "./helpers/server";

/**
 * The HTTP side against a hostile, unauthenticated caller (issue #11, "http"): body
 * caps before parsing, encodings, log floods, CORS, the monitor, /metrics, the
 * development routes and the security headers, each against a real server process.
 */

const json = (a: Answer) => JSON.parse(a.body);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const STACK = /(\n|\\n)\s+at .+:\d+:\d+/;

describe("http hardening", function () {
  this.timeout(60_000);

  describe("bodies, encodings and garbage logs", () => {
    let server: ServerProcess;
    before(async () => { server = await startServerProcess({ HTTP_BODY_MAX_BYTES: String(64 * 1024) }); });
    after(async () => { await server?.stop(); });

    it("a 50 MB chunked body to /matchmake is cut at the cap: 413 payload_too_large, quickly, RSS grows by < 40 MB", async () => {
      const before = rssKb(server.child.pid!);
      const answer = await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", {
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" }, total: 50 * 1024 * 1024,
      });
      const grewMb = (rssKb(server.child.pid!) - before) / 1024;
      assert.equal(answer.status, 413);
      assert.deepEqual(Object.keys(json(answer)).sort(), ["code", "message"]);
      assert.equal(json(answer).code, "payload_too_large");
      assert.ok(answer.ms < 5_000, `answered after ${answer.ms} ms`);
      assert.ok(answer.sent < 20 * 1024 * 1024, `the client could send ${answer.sent} bytes first`);
      // 40 MB: far under the 50 MB a full read would hold (more, as a string and a parse)
      assert.ok(grewMb < 40, `RSS grew by ${grewMb.toFixed(1)} MB`);
    });

    it("a declared Content-Length over the cap is refused before any of it is read", async () => {
      // the body is never sent: an answer can only come from the headers
      const answer = await Promise.race([
        send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", {
          headers: { "content-type": "application/json", "content-length": String(450 * 1024 * 1024) }, total: 1,
        }),
        sleep(5_000).then(() => ({ status: 0 }) as Answer),
      ]);
      assert.equal(answer.status, 413);
      assert.equal(json(answer).code, "payload_too_large");
    });

    it("the cap holds on the app API and any other path, chunked too", async () => {
      for (const path of ["/api/rooms/cc-x/messages", "/health", "/nowhere"]) {
        const answer = await send(server.url, "POST", path, { headers: { "content-type": "application/json", "transfer-encoding": "chunked" }, total: 2 * 1024 * 1024 });
        assert.equal(answer.status, 413, path);
        assert.equal(json(answer).code, "payload_too_large", path);
      }
    });

    it("joins still work through the pre-read body, and bad JSON to the matchmaker is 400 invalid_payload", async () => {
      const room = await (await clientFor(server.url, { sub: uniqueId("c"), role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } });
      assert.match(room.roomId, /^cc-/);
      await room.leave();
      const bad = await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", { headers: { "content-type": "application/json" }, body: "{not json" });
      assert.equal(bad.status, 400);
      assert.equal(json(bad).code, "invalid_payload");
    });

    it("an unknown Content-Encoding is 415 unsupported_encoding as JSON, logged as one short line", async () => {
      for (const path of ["/api/rooms/cc-x/messages", "/matchmake/joinOrCreate/contact_center"]) {
        const answer = await send(server.url, "POST", path, { headers: { "content-type": "application/json", "content-encoding": "x-bogus" }, body: "{}" });
        assert.equal(answer.status, 415, path);
        assert.match(String(answer.headers["content-type"]), /application\/json/);
        assert.equal(json(answer).code, "unsupported_encoding", path);
      }
      await sleep(200);
      assert.doesNotMatch(server.output(), STACK, "a stack in the log");
      assert.match(server.output(), /"garbage":"unsupported_encoding"/);
    });
  });

  it("garbage (bad JSON, encodings, upgrades and frames before a seat) is one short line each, at most 20 per 10 s, then one line with the count", async function () {
    this.timeout(40_000);
    const server = await startServerProcess({});
    try {
      const mark = server.output().length;
      for (let i = 0; i < 15; i++) {
        await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", { headers: { "content-type": "application/json" }, body: "{garbage" });
        await send(server.url, "POST", "/api/rooms/cc-x/messages", { headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: "xx" });
      }
      // WebSocket upgrades for rooms and sessions that do not exist, and garbage frames on them
      for (let i = 0; i < 10; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/abc/cc-nope${i}?sessionId=bogus${i}`);
        await new Promise<void>((resolve) => {
          ws.on("open", () => { ws.send(Buffer.from([0xff, 0x00, 0x13, 0x37])); });
          ws.on("close", () => resolve());
          ws.on("error", () => resolve());
        });
      }
      // frames over the transport's limit and invalid frames on a connection that has no seat
      for (let i = 0; i < 10; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
        await new Promise<void>((resolve) => {
          ws.on("open", () => { ws.send(Buffer.alloc(200 * 1024, 1)); });
          ws.on("close", () => resolve());
          ws.on("error", () => resolve());
        });
      }
      await sleep(500);
      const flood = server.output().slice(mark);
      assert.doesNotMatch(flood, STACK, "a stack in the log");
      const lines = flood.split("\n").filter(Boolean);
      for (const line of lines) { assert.ok(line.length < 600, `a long line: ${line.slice(0, 300)}...`); }
      const garbage = lines.filter((l) => l.includes('"garbage refused"'));
      assert.equal(garbage.length, 20, "garbage lines in the first window");
      await until(() => server.output().includes("more lines suppressed"), 15_000, "the suppressed count");
      const summary = JSON.parse(server.output().split("\n").find((l) => l.includes("more lines suppressed"))!);
      assert.ok(summary.suppressed >= 10, `suppressed ${summary.suppressed}`);
    } finally { await server.stop(); }
  });

  describe("CORS", () => {
    it("no credentialed CORS anywhere; `*` only on the matchmaker and the app API; none on monitor, metrics, dev, health", async () => {
      const server = await startServerProcess({ MONITOR_PASSWORD: "monitor-pass-123" });
      try {
        const evil = { origin: "https://evil.example" };
        const preflight = await send(server.url, "OPTIONS", "/matchmake/joinOrCreate/contact_center", { headers: { ...evil, "access-control-request-method": "POST" } });
        assert.equal(preflight.headers["access-control-allow-origin"], "*");
        assert.equal(preflight.headers["access-control-allow-credentials"], undefined);
        assert.match(String(preflight.headers["access-control-allow-headers"]), /authorization/i);
        for (const path of ["/health", "/metrics", "/monitor/api", "/dev/token", "/"]) {
          for (const method of ["GET", "OPTIONS"]) {
            const answer = await send(server.url, method, path, { headers: evil });
            assert.equal(answer.headers["access-control-allow-origin"], undefined, `${method} ${path}`);
            assert.equal(answer.headers["access-control-allow-credentials"], undefined, `${method} ${path}`);
          }
        }
        const join = await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", { headers: { ...evil, "content-type": "application/json" }, body: "{}" });
        assert.equal(join.headers["access-control-allow-credentials"], undefined);
      } finally { await server.stop(); }
    });

    it("CORS_ORIGINS is an allow-list", async () => {
      const server = await startServerProcess({ CORS_ORIGINS: "https://shop.example, https://help.example" });
      try {
        const ok = await send(server.url, "OPTIONS", "/matchmake/joinOrCreate/contact_center", { headers: { origin: "https://help.example" } });
        assert.equal(ok.headers["access-control-allow-origin"], "https://help.example");
        assert.match(String(ok.headers.vary), /origin/i);
        assert.equal(ok.headers["access-control-allow-credentials"], undefined);
        const no = await send(server.url, "OPTIONS", "/matchmake/joinOrCreate/contact_center", { headers: { origin: "https://evil.example" } });
        assert.equal(no.headers["access-control-allow-origin"], undefined);
      } finally { await server.stop(); }
    });
  });

  describe("the monitor", () => {
    let server: ServerProcess;
    const right = basic("admin", "monitor-pass-123");
    before(async () => { server = await startServerProcess({ MONITOR_PASSWORD: "monitor-pass-123" }); });
    after(async () => { await server?.stop(); });

    it("refuses cross-site requests even with the right password", async () => {
      const sameOrigin = await send(server.url, "GET", "/monitor/api", { headers: { authorization: right, "sec-fetch-site": "same-origin", origin: server.url } });
      assert.equal(sameOrigin.status, 200);
      const crossSite: Record<string, string>[] = [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "https://evil.example" }];
      for (const headers of crossSite) {
        const answer = await send(server.url, "GET", "/monitor/api", { headers: { authorization: right, ...headers } });
        assert.equal(answer.status, 403, JSON.stringify(headers));
        assert.equal(json(answer).code, "forbidden");
      }
    });

    it("is read-only by default: a room call (here a disconnect) is refused and the room stays", async () => {
      const customerId = uniqueId("c");
      const room = await (await clientFor(server.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
      let left = false;
      room.onLeave(() => { left = true; });
      const call = await send(server.url, "GET", `/monitor/api/room/call?roomId=${room.roomId}&method=disconnect&args=${encodeURIComponent("[]")}`, { headers: { authorization: right } });
      assert.equal(call.status, 403);
      assert.equal(json(call).code, "forbidden");
      await sleep(500);
      assert.equal(left, false, "the room was disconnected");
      assert.equal((await send(server.url, "GET", `/monitor/api/room?roomId=${room.roomId}`, { headers: { authorization: right } })).status, 200);
      await room.leave();
    });

    it("with MONITOR_ALLOW_ACTIONS=true room calls run; 5 failed logins lock the address out (429) even for the right password", async () => {
      const node = await startServerProcess({ MONITOR_PASSWORD: "monitor-pass-123", MONITOR_ALLOW_ACTIONS: "true" });
      try {
        const room = await (await clientFor(node.url, { sub: uniqueId("c"), role: "customer" })).joinOrCreate("contact_center", {});
        const call = await send(node.url, "GET", `/monitor/api/room/call?roomId=${room.roomId}&method=getInspectData&args=${encodeURIComponent("[]")}`, { headers: { authorization: right } });
        assert.equal(call.status, 200);
        await room.leave();
        for (let i = 0; i < 5; i++) {
          assert.equal((await send(node.url, "GET", "/monitor/api", { headers: { authorization: basic("admin", `guess${i}`) } })).status, 401);
        }
        const locked = await send(node.url, "GET", "/monitor/api", { headers: { authorization: right } });
        assert.equal(locked.status, 429);
        assert.equal(json(locked).code, "rate_limited");
        assert.ok(Number(locked.headers["retry-after"]) > 800);
      } finally { await node.stop(); }
    });
  });

  describe("/metrics", () => {
    it("METRICS_TOKEN: a bearer token is required", async () => {
      const server = await startServerProcess({ METRICS_TOKEN: "scrape-token-0123456789" });
      try {
        assert.equal((await send(server.url, "GET", "/metrics")).status, 401);
        assert.equal((await send(server.url, "GET", "/metrics", { headers: { authorization: "Bearer wrong" } })).status, 401);
        const ok = await send(server.url, "GET", "/metrics", { headers: { authorization: "Bearer scrape-token-0123456789" } });
        assert.equal(ok.status, 200);
        assert.match(ok.body, /^cc_connections /m);
      } finally { await server.stop(); }
    });

    it("METRICS_PORT: served on its own port, not on the public one", async () => {
      const metricsPort = await freePort();
      const server = await startServerProcess({ METRICS_PORT: String(metricsPort) });
      try {
        assert.equal((await send(server.url, "GET", "/metrics")).status, 404);
        const ok = await send(`http://127.0.0.1:${metricsPort}`, "GET", "/metrics");
        assert.equal(ok.status, 200);
        assert.match(ok.body, /^cc_connections /m);
      } finally { await server.stop(); }
    });

    it("with neither, only loopback clients are answered", async function () {
      const address = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal)?.address;
      if (!address) { this.skip(); }
      const server = await startServerProcess({});
      try {
        assert.equal((await send(server.url, "GET", "/metrics")).status, 200);
        const remote = await send(`http://${address}:${server.port}`, "GET", "/metrics");
        assert.equal(remote.status, 403);
        assert.equal(json(remote).code, "forbidden");
      } finally { await server.stop(); }
    });
  });

  describe("development routes", () => {
    it("NODE_ENV unset with a real AUTH_SECRET: no /dev/token", async () => {
      const server = await startServerProcess({ NODE_ENV: "", AUTH_SECRET: TEST_SECRET });
      try {
        const answer = await send(server.url, "GET", "/dev/token?sub=boss&role=supervisor&teams=support");
        assert.equal(answer.status, 404);
        assert.doesNotMatch(answer.body, /"token"\s*:/);
      } finally { await server.stop(); }
    });

    it("NODE_ENV=development with a real AUTH_SECRET: no /dev/token, and a warning says why", async () => {
      const server = await startServerProcess({ NODE_ENV: "development", AUTH_SECRET: TEST_SECRET });
      try {
        assert.equal((await send(server.url, "GET", "/dev/token?sub=boss&role=supervisor&teams=support")).status, 404);
        assert.match(server.output(), /"level":40.*development routes/);
      } finally { await server.stop(); }
    });

    it("NODE_ENV=development with the built-in secret: /dev/token works", async () => {
      const server = await startServerProcess({ NODE_ENV: "development", AUTH_SECRET: "" });
      try {
        const answer = await send(server.url, "GET", "/dev/token?sub=ann&role=customer");
        assert.equal(answer.status, 200);
        assert.ok(json(answer).token);
      } finally { await server.stop(); }
    });

    it("any NODE_ENV but development refuses to start without an AUTH_SECRET of >= 32 bytes", async () => {
      for (const nodeEnv of ["", "staging", "test"]) {
        const failed = await startServerProcess({ NODE_ENV: nodeEnv, AUTH_SECRET: "" }).then((s) => s.stop().then(() => "started"), (e: Error) => e.message);
        assert.match(failed, /AUTH_SECRET must be set to at least 32 bytes/, `NODE_ENV=${nodeEnv}`);
      }
    });
  });

  it("security headers on every response: CSP with frame-ancestors, nosniff, Referrer-Policy, X-Frame-Options", async () => {
    const server = await startServerProcess({ NODE_ENV: "development", AUTH_SECRET: "", MONITOR_PASSWORD: "monitor-pass-123" });
    try {
      const answers = [
        await send(server.url, "GET", "/agent.html"),
        await send(server.url, "GET", "/health"),
        await send(server.url, "GET", "/monitor/api"),
        await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", { headers: { "content-type": "application/json" }, body: "{}" }),
        await send(server.url, "POST", "/matchmake/joinOrCreate/contact_center", { headers: { "content-type": "application/json", "content-length": "99999999" }, total: 1 }),
      ];
      for (const a of answers) {
        assert.match(String(a.headers["content-security-policy"]), /frame-ancestors 'none'/, `${a.status}`);
        assert.match(String(a.headers["content-security-policy"]), /default-src 'self'/);
        assert.equal(a.headers["x-content-type-options"], "nosniff");
        assert.equal(a.headers["referrer-policy"], "no-referrer");
        assert.equal(a.headers["x-frame-options"], "DENY");
      }
      // the one exception: the widget page, which embed.js frames (this origin and WIDGET_EMBED_ORIGINS)
      const widget = await send(server.url, "GET", "/");
      assert.match(String(widget.headers["content-security-policy"]), /frame-ancestors 'self'(;|$)/);
      assert.match(String(widget.headers["content-security-policy"]), /default-src 'self'/);
      assert.equal(widget.headers["x-frame-options"], undefined);
    } finally { await server.stop(); }
  });
});
