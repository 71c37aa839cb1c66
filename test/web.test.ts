import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT, startServerProcess, type ServerProcess } from "./helpers/server";

const run = promisify(execFile);
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * The customer widget and the agent console in a real browser: Debian's Chromium
 * driven by playwright-core, customer and agent in two browser contexts.
 */
describe("web: the customer widget and the agent console in Chromium", function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let browser: Browser;
  let customer: Page;
  let agent: Page;
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) { throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`); }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await run("npx", ["vite", "build"], { cwd: ROOT });
    // the pages and /dev/token exist only with NODE_ENV=development and the built-in secret
    server = await startServerProcess({ NODE_ENV: "development", AUTH_SECRET: "" });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    customer = await (await browser.newContext()).newPage();
    agent = await (await browser.newContext()).newPage();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("a full conversation: queue, accept, chat with typing and read receipts, a note, the end, and the history", async () => {
    await customer.goto(`${server.url}/`);
    await customer.fill("#name", "Ann Example");
    await customer.click("#start button");
    await customer.waitForSelector("#chat:not([hidden])");
    await customer.fill("#text", "Hello, my parcel is missing");
    await customer.press("#text", "Enter");
    await customer.waitForSelector("#messages li.mine >> text=Hello, my parcel is missing");
    await shot(customer, "01-customer-asks");

    await agent.goto(`${server.url}/agent.html`);
    await agent.fill("#agentId", "alice");
    await agent.fill("#team", "support");
    await agent.click("#login button");
    const request = agent.locator("#queue li").first();
    await request.waitFor();
    assert.match(await request.innerText(), /new/);
    await shot(agent, "02-agent-queue");
    await request.locator("button").click();
    const pane = agent.locator(".pane:not([hidden])");
    await pane.locator(".messages li >> text=Hello, my parcel is missing").waitFor();
    await agent.waitForFunction(() => document.querySelectorAll("#queue li").length === 0, undefined, { timeout: 5_000 });

    // typing, seen by the customer
    await pane.locator(".text").pressSequentially("Let me ch", { delay: 20 });
    await customer.waitForSelector("#typing:not([hidden]) >> text=alice is typing");
    await shot(customer, "03-customer-sees-typing");
    await pane.locator(".text").fill("Let me check that for you.");
    await pane.locator(".composer button").click();
    await customer.waitForSelector("#messages li >> text=Let me check that for you.");
    await customer.waitForSelector("#typing[hidden]", { state: "attached" });

    // the customer's page shows it, so it is read: the agent sees the receipt
    await pane.locator("li.mine .receipt >> text=read").waitFor();
    await shot(agent, "04-agent-read-receipt");

    // a note: agents only
    await pane.locator("input.note").check();
    await pane.locator(".text").fill("VIP customer, refund without questions");
    await pane.locator(".composer button").click();
    await pane.locator("li.note >> text=VIP customer").waitFor();
    await pane.locator("input.note").uncheck();
    await customer.waitForTimeout(500);
    assert.equal(await customer.locator("#messages").innerText().then((t) => t.includes("VIP")), false, "the customer never sees a note");

    // a second customer: a second tab
    const second = await (await browser.newContext()).newPage();
    await second.goto(`${server.url}/`);
    await second.fill("#name", "Bob Second");
    await second.click("#start button");
    await second.waitForSelector("#chat:not([hidden])");
    await second.fill("#text", "Is the shop open on Sunday?");
    await second.press("#text", "Enter");
    await agent.locator("#queue li button").first().click();
    await agent.locator(".pane:not([hidden]) .messages li >> text=Is the shop open on Sunday?").waitFor();
    assert.equal(await agent.locator("#tabs button").count(), 2);
    await shot(agent, "05-agent-two-tabs");
    await agent.locator("#tabs button").first().click();

    // the end, then the past conversation
    await agent.locator(".pane:not([hidden]) .end").click();
    await customer.waitForSelector("#status >> text=The conversation has ended");
    await agent.locator(".pane:not([hidden]) .history").click();
    const past = agent.locator(".pane:not([hidden]) .past button").first();
    await past.waitFor();
    assert.match(await past.innerText(), /resolved/);
    await past.click();
    await agent.locator(".pane:not([hidden]) .transcript li >> text=Hello, my parcel is missing").waitFor();
    await agent.locator(".pane:not([hidden]) .transcript li.note >> text=VIP customer").waitFor();
    await shot(agent, "06-agent-history");
    await shot(customer, "07-customer-ended");
  });

  it("development tokens exist only in development", async () => {
    const ok = await fetch(`${server.url}/dev/token?sub=x&role=customer`);
    assert.equal(ok.status, 200);
    const bad = await fetch(`${server.url}/dev/token?sub=../x&role=customer`);
    assert.equal(bad.status, 400);
    const production = await startServerProcess({ NODE_ENV: "production", AUTH_SECRET: "a-production-secret-of-more-than-32-bytes!" });
    try {
      assert.equal((await fetch(`${production.url}/dev/token?sub=x&role=customer`)).status, 404);
      assert.doesNotMatch(await (await fetch(`${production.url}/`)).text(), /Chat with us/, "no widget in production");
    } finally {
      await production.stop();
    }
  });
});
