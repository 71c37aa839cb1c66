import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { buildWeb, collectErrors, launchChromium, shot, startWebServer } from "./helpers/browser";

/**
 * Bugs found in Chromium, each shown by the smallest story that hits it. The
 * selectors are the ones both the old vanilla pages and the Preact ones have.
 */
describe("web regressions in Chromium", function () {
  this.timeout(90_000);
  let web: Awaited<ReturnType<typeof startWebServer>>;
  let browser: Browser;
  const pages: Page[] = [];
  const page = async () => { const p = await (await browser.newContext()).newPage(); p.setDefaultTimeout(10_000); pages.push(p); return p; };

  before(async () => {
    await buildWeb();
    web = await startWebServer();
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await web?.stop(); });
  afterEach(async () => { for (const p of pages.splice(0)) { await p.context().close(); } });

  async function customerWrites(name: string, text: string) {
    const customer = await page();
    await customer.goto(`${web.url}/`);
    await customer.fill("#name", name);
    await customer.click("#start [type=submit]");
    await customer.fill("#text", text);
    await customer.press("#text", "Enter");
    await customer.locator("#messages li", { hasText: text }).waitFor();
    return customer;
  }

  async function agentSignsIn(agentId: string) {
    const agent = await page();
    const errors = collectErrors(agent);
    await agent.goto(`${web.url}/agent.html`);
    await agent.fill("#agentId", agentId);
    await agent.fill("#team", "support");
    await agent.click("#login [type=submit]");
    return { agent, errors };
  }

  /** Accepts the request of this customer (the queue holds the other tests' customers too). */
  async function accept(agent: Page, text: string, customer: string) {
    await agent.locator("#queue li", { hasText: customer }).locator("button").first().click({ timeout: 10_000 });
    await agent.locator(".pane:not([hidden]) .messages li", { hasText: text }).waitFor();
    return agent.locator(".pane:not([hidden])");
  }

  async function end(agent: Page) {
    const pane = agent.locator(".pane:not([hidden])");
    await pane.locator(".end").click();
    // the Preact console asks for a wrap-up reason first
    const confirm = pane.locator(".wrapup [type=submit]");
    if (await confirm.count()) { await confirm.click(); }
  }

  it("an agent id with a space signs in (Chromium ignored the `pattern`, then nothing happened)", async () => {
    await customerWrites("Space Case", "hello from space case");
    const { agent } = await agentSignsIn("Alice Smith");
    await agent.locator("#queue li").first().waitFor({ timeout: 10_000 });
  });

  it("signing in logs no error (\"Cannot read properties of undefined (reading 'values')\")", async () => {
    const { agent, errors } = await agentSignsIn("quiet");
    await agent.locator("#desk").waitFor();
    await agent.waitForTimeout(1_000);
    assert.deepEqual(errors, []);
  });

  it("the end of a conversation keeps the customer's transcript and marks it ended for the agent", async () => {
    const customer = await customerWrites("Ended Eve", "my order never came");
    const { agent } = await agentSignsIn("ender");
    const pane = await accept(agent, "my order never came", "ended-eve");
    await end(agent);
    await pane.locator(".ended").waitFor({ timeout: 10_000 });
    assert.equal(await pane.locator(".end").isVisible(), false, "no End button on an ended conversation");
    await customer.waitForTimeout(500);
    await customer.locator("#messages li", { hasText: "my order never came" }).waitFor({ timeout: 2_000 });
    await shot(customer, "regression-customer-after-end");
  });

  it("the note mode goes back to reply after sending", async () => {
    await customerWrites("Note Nick", "please note this");
    const { agent } = await agentSignsIn("noter");
    const pane = await accept(agent, "please note this", "note-nick");
    await pane.locator("input.note").check();
    await pane.locator(".text").fill("internal: VIP");
    await pane.locator(".text").press("Enter");
    await pane.locator(".messages li", { hasText: "internal: VIP" }).waitFor();
    assert.equal(await pane.locator("input.note").isChecked(), false);
  });

  it("long words and URLs wrap (the console was 2,891 px wide)", async () => {
    const word = "x".repeat(400);
    const customer = await customerWrites("Wide Will", `https://example.com/${word}`);
    const { agent } = await agentSignsIn("wrapper");
    await accept(agent, word, "wide-will");
    for (const p of [customer, agent]) {
      const [scroll, width] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scroll <= width, `page is ${scroll} px wide in a ${width} px window`);
    }
  });

  it("the server's offer pings the console (the title counts offers)", async () => {
    // routing offers to the agent with the fewest conversations, ties by id; the other tests'
    // agents keep their seats for RECONNECT_GRACE_SECONDS after their pages closed, so this one sorts first
    const { agent } = await agentSignsIn("aa-pinged");
    await agent.locator("#desk").waitFor();
    await customerWrites("Offer Olga", "anyone there?");
    await agent.waitForFunction(() => /^\(\d+\)/.test(document.title), undefined, { timeout: 10_000 })
      .catch(async (e) => { throw new Error(`${e.message}: title ${await agent.title()}, queue ${await agent.locator("#queue").innerText()}`); });
    assert.ok(Number(await agent.evaluate(() => document.body.dataset.pings)) >= 1, "the offer played the tone");
  });

  it("Start chat while the server is down says so, and a restart is survived without reload", async () => {
    const customer = await customerWrites("Restart Rita", "before the restart");
    await web.restart();
    await customer.fill("#text", "after the restart");
    await customer.press("#text", "Enter");
    await customer.locator("#messages li.mine", { hasText: "after the restart" }).waitFor({ timeout: 20_000 });
    await customer.waitForFunction(() => !document.querySelector("#messages li.failed"), undefined, { timeout: 20_000 });

    // the page must be loaded before the server goes: it serves the page too
    const late = await page();
    await late.goto(`${web.url}/`);
    await web.kill();
    try {
      await late.fill("#name", "Down Dan");
      await late.click("#start [type=submit]");
      await late.locator("[role=alert]").waitFor({ timeout: 10_000 });
    } finally {
      await web.start();
    }
  });
});
