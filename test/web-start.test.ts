import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { buildWeb, collectErrors, launchChromium, shot, startWebServer } from "./helpers/browser";

/**
 * The console's "Start conversation": after a conversation ended, the agent starts a
 * follow-up on purpose in the customer's room (the `start` request), writes, and the
 * customer's open widget gets it.
 */
describe("web: an agent starts a follow-up conversation from the console (start)", function () {
  this.timeout(90_000);
  let web: Awaited<ReturnType<typeof startWebServer>>;
  let browser: Browser;
  const page = async () => { const p = await (await browser.newContext()).newPage(); p.setDefaultTimeout(10_000); return p; };

  before(async () => {
    await buildWeb();
    web = await startWebServer();
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await web?.stop(); });

  it("ended conversation -> Start conversation -> the agent writes, the customer reads it in the same widget", async () => {
    const customer = await page();
    await customer.goto(`${web.url}/`);
    await customer.fill("#name", "Follow Fay");
    await customer.click("#start [type=submit]");
    await customer.fill("#text", "where is my parcel?");
    await customer.press("#text", "Enter");
    await customer.locator("#messages li", { hasText: "where is my parcel?" }).waitFor();

    const agent = await page();
    const errors = collectErrors(agent);
    await agent.goto(`${web.url}/agent.html`);
    await agent.fill("#agentId", "starter");
    await agent.fill("#team", "support");
    await agent.click("#login [type=submit]");
    await agent.locator("#queue li", { hasText: "follow-fay" }).locator("button").first().click();
    const pane = agent.locator(".pane:not([hidden])");
    await pane.locator(".messages li", { hasText: "where is my parcel?" }).waitFor();
    assert.equal(await pane.locator(".start-conversation").count(), 0, "no Start while a conversation is active");

    await pane.locator(".end").click();
    await pane.locator(".wrapup [type=submit]").click();
    await pane.locator(".ended").waitFor();
    await pane.locator(".start-conversation").click();
    await pane.locator("[role=status]", { hasText: "Conversation started" }).waitFor();
    // gone once the follow-up is active (the state patch may land just after the answer)
    await pane.locator(".start-conversation").waitFor({ state: "detached", timeout: 5_000 });
    await pane.locator(".end").waitFor();

    await pane.locator(".text").fill("Following up: your parcel left today.");
    await pane.locator(".text").press("Enter");
    await pane.locator(".messages li", { hasText: "your parcel left today" }).waitFor();
    await customer.locator("#messages li", { hasText: "your parcel left today" }).waitFor();
    await shot(agent, "console-start-conversation");
    assert.deepEqual(errors, []);
  });
});
