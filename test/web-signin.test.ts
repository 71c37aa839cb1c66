import assert from "node:assert/strict";
import http from "node:http";
import type { Browser } from "playwright-core";
import { signToken } from "../server/auth";
import { buildWeb, collectErrors, launchChromium, shot } from "./helpers/browser";
import { freePort, startServerProcess, type ServerProcess } from "./helpers/server";

const SECRET = "a-production-secret-of-more-than-32-bytes!";

/**
 * Outside development: no /dev/token; with WEB_PAGES=true the pages are served and
 * sign in with the host application's JWTs: the widget, framed by embed.js on another
 * origin, gets its token from the host's token URL; the console from its URL fragment.
 */
describe("web: sign-in with the host application's JWTs (production)", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let browser: Browser;
  let shopServer: http.Server;
  let SHOP = "";
  let tokensServed = 0;

  before(async () => {
    await buildWeb();
    // the host application, on an origin of its own (loopback too: Chromium keeps public pages from loopback servers)
    const shopPort = await freePort();
    SHOP = `http://127.0.0.1:${shopPort}`;
    shopServer = http.createServer(async (req, res) => {
      if (req.url === "/chat/token") {
        tokensServed++;
        const token = await signToken(SECRET, { sub: "shop-user-42", role: "customer", name: "Sam Shopper" }, "15m");
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ token }));
        return;
      }
      res.setHeader("content-type", "text/html");
      res.end(`<!doctype html><html lang="en"><title>Shop</title><body><h1>Shop</h1>
        <script src="${server.url}/embed.js" data-token-url="/chat/token" async></script></body></html>`);
    }).listen(shopPort, "127.0.0.1");
    server = await startServerProcess({ NODE_ENV: "production", AUTH_SECRET: SECRET, DATABASE_URL: "memory:", WEB_PAGES: "true", WIDGET_EMBED_ORIGINS: SHOP });
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await server?.stop(); shopServer?.close(); });

  it("serves the pages but no development tokens", async () => {
    assert.equal((await fetch(`${server.url}/dev/token?sub=x&role=customer`)).status, 404);
    const widget = await fetch(`${server.url}/`);
    assert.equal(widget.status, 200);
    assert.match(widget.headers.get("content-security-policy") ?? "", new RegExp(`frame-ancestors 'self' ${SHOP}`));
    assert.equal(widget.headers.get("x-frame-options"), null);
    const console = await fetch(`${server.url}/agent.html`);
    assert.match(console.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/, "the console is never framed");
  });

  it("the widget on the shop's page signs in with the shop's token; the console with a token in its fragment", async () => {
    const context = await browser.newContext();
    const shop = await context.newPage();
    const errors = collectErrors(shop);
    await shop.goto(`${SHOP}/`);
    await shop.click(".cc-launcher");
    const widget = shop.frameLocator(".cc-frame");
    await widget.locator("#text").fill("Signed in by the shop");
    await widget.locator("#text").press("Enter");
    await widget.locator("#messages li.mine", { hasText: "Signed in by the shop" }).waitFor();
    assert.equal(await widget.locator("#start").count(), 0, "no name form: the token names the customer");
    assert.ok(tokensServed >= 1);
    await shot(shop, "signin-widget-on-shop");

    const agentToken = await signToken(SECRET, { sub: "agent-7", role: "agent", name: "Alex Agent", teams: ["support"] }, "15m");
    const agent = await context.newPage();
    await agent.goto(`${server.url}/agent.html#token=${agentToken}`);
    await agent.locator("#whoami", { hasText: "Alex Agent" }).waitFor();
    assert.equal(new URL(agent.url()).hash, "", "the token leaves the address bar");
    await agent.locator("#queue li", { hasText: "shop-user-42" }).locator("button").click();
    await agent.locator(".pane:not([hidden]) .messages li", { hasText: "Signed in by the shop" }).waitFor();
    await shot(agent, "signin-console");
    assert.deepEqual(errors, []);
  });
});
