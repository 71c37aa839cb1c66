import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, FrameLocator, Locator, Page } from "playwright-core";
import { buildWeb, collectErrors, launchChromium, shot, startWebServer } from "./helpers/browser";
import { ROOT, startServerProcess } from "./helpers/server";

const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js", { paths: [ROOT, path.join(ROOT, "web")] }), "utf8");

/**
 * A whole day at the desk in Debian's Chromium: the customer in the embedded widget
 * (the launcher of a host page), two agents and a supervisor in the console, a server
 * restart in the middle, a phone, the keyboard alone, and axe-core on every screen.
 * Every step leaves a screenshot in test-artifacts/.
 */
describe("web: a day with the widget and the agent console in Chromium", function () {
  this.timeout(180_000);
  let web: Awaited<ReturnType<typeof startWebServer>>;
  let browser: Browser;
  let customerPage: Page;
  let customer: FrameLocator;
  let alice: Page;
  let bob: Page;
  let sue: Page;
  const errors: string[][] = [];

  async function page(options: Parameters<Browser["newContext"]>[0] = {}): Promise<Page> {
    const context: BrowserContext = await browser.newContext(options);
    const p = await context.newPage();
    p.setDefaultTimeout(15_000);
    errors.push(collectErrors(p));
    return p;
  }

  async function signIn(p: Page, name: string, role = "agent") {
    await p.goto(`${web.url}/agent.html`);
    await p.fill("#agentId", name);
    await p.selectOption("#role", role);
    await p.click("#login [type=submit]");
    await p.locator("#desk").waitFor();
  }

  const pane = (p: Page) => p.locator(".pane:not([hidden])");
  const say = async (p: Locator, text: string) => { await p.locator(".text").fill(text); await p.locator(".text").press("Enter"); };

  before(async () => {
    await buildWeb();
    web = await startWebServer();
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await web?.stop(); });

  it("the customer opens the launcher on a host page, writes and sees its place", async () => {
    customerPage = await page({ viewport: { width: 1100, height: 760 } });
    await customerPage.goto(`${web.url}/demo.html`);
    await customerPage.click(".cc-launcher");
    customer = customerPage.frameLocator(".cc-frame");
    await customer.locator("#name").fill("Ann Example");
    await customer.locator("#start [type=submit]").click();
    await customer.locator("#text").fill("Hello, my parcel is missing: https://shop.example/orders/1234");
    await customer.locator("#text").press("Enter");
    await customer.locator("#messages li.mine", { hasText: "my parcel is missing" }).waitFor();
    // the desk pushes the place in the team's queue (nobody has accepted yet)
    await customer.locator("#queue-position", { hasText: "You are number 1 in the queue." }).waitFor();
    const link = customer.locator("#messages li.mine a");
    assert.equal(await link.getAttribute("href"), "https://shop.example/orders/1234");
    assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
    await shot(customerPage, "01-customer-launcher-queue");
  });

  it("the agent's offer pings and is accepted; reply, typing and read marks on both sides", async () => {
    alice = await page({ viewport: { width: 1280, height: 800 } });
    await signIn(alice, "alice");
    await alice.waitForFunction(() => /^\(1\)/.test(document.title))
      .catch(async (e) => { throw new Error(`${e.message}: title "${await alice.title()}", queue: ${await alice.locator("#desk").innerText()}`); });
    assert.ok(Number(await alice.evaluate(() => document.body.dataset.pings)) >= 1);
    const offered = alice.locator("#queue li.offered");
    await shot(alice, "02-agent-offer");
    await offered.locator("button").click();
    await pane(alice).locator(".messages li", { hasText: "my parcel is missing" }).waitFor();
    // TRANSCRIPT_JOIN_EVENTS: the customer sees who came, by the agent's display name
    await customer.locator("#messages li.event", { hasText: "alice joined the conversation" }).waitFor();

    await pane(alice).locator(".text").pressSequentially("Let me ch", { delay: 15 });
    await customer.locator("#typing", { hasText: "alice is typing" }).waitFor();
    await shot(customerPage, "03-customer-sees-typing");
    await pane(alice).locator(".text").fill("Let me check that for you.");
    await pane(alice).locator(".text").press("Enter");
    await customer.locator("#messages li", { hasText: "Let me check that for you." }).waitFor();
    await customer.locator(".with", { hasText: "alice" }).waitFor();
    // shown on the customer's visible page, so read: the agent sees the mark, and the other way round
    await pane(alice).locator("li.mine", { hasText: "Let me check" }).locator(".mark.read").waitFor();
    await customer.locator("li.mine", { hasText: "my parcel is missing" }).locator(".mark.read").waitFor();
    await customer.locator("#text").pressSequentially("Thank", { delay: 15 });
    await pane(alice).locator(".typing", { hasText: "Ann Example is typing" }).waitFor();
    await customer.locator("#text").fill("Thank you!");
    await customer.locator("#text").press("Enter");
    await pane(alice).locator(".messages li", { hasText: "Thank you!" }).waitFor();
    await shot(alice, "04-agent-read-marks");
  });

  it("a closed panel reads nothing; the launcher counts what waits", async () => {
    await customerPage.click(".cc-launcher");
    await customerPage.locator(".cc-frame").waitFor({ state: "hidden" });
    await say(pane(alice), "Are you still there?");
    await customerPage.locator(".cc-launcher[data-unread='1']").waitFor();
    await shot(customerPage, "04b-customer-launcher-unread");
    await customerPage.waitForTimeout(500);
    const mark = pane(alice).locator("li.mine", { hasText: "Are you still there?" }).locator(".mark.read");
    assert.equal(await mark.count(), 0, "not read while the panel is closed");
    await customerPage.click(".cc-launcher");
    await mark.waitFor();
    await customerPage.locator(".cc-launcher[data-unread='0']").waitFor();
  });

  it("a note stays with the agents and the mode goes back to reply", async () => {
    await pane(alice).locator("input.note").check();
    await say(pane(alice), "VIP customer, refund without questions");
    await pane(alice).locator("li.note", { hasText: "VIP customer" }).waitFor();
    assert.equal(await pane(alice).locator("input.reply").isChecked(), true);
    await say(pane(alice), "One moment please.");
    await customer.locator("#messages li", { hasText: "One moment please." }).waitFor();
    assert.equal(await customer.locator("#messages").innerText().then((t) => t.includes("VIP")), false, "the customer never sees a note");
  });

  it("the agent reloads and the conversation is still there", async () => {
    await alice.reload();
    await pane(alice).locator(".messages li", { hasText: "my parcel is missing" }).waitFor();
    await pane(alice).locator("li.note", { hasText: "VIP customer" }).waitFor();
    assert.equal(await customer.locator("#messages li.event", { hasText: "alice joined" }).count(), 1, "a reload is no new join");
    await shot(alice, "05-agent-after-reload");
  });

  it("transfer to a second agent", async () => {
    bob = await page({ viewport: { width: 1280, height: 800 } });
    await signIn(bob, "bob");
    await pane(alice).locator(".transfer").click();
    await alice.locator(".transfer-form input").fill("bob");
    await alice.locator(".transfer-form [type=submit]").click();
    await bob.locator("#queue li.offered").locator("button").click();
    await pane(bob).locator(".messages li", { hasText: "my parcel is missing" }).waitFor();
    await pane(bob).locator(".messages li.event", { hasText: /transfer/i }).waitFor();
    await alice.waitForFunction(() => !document.querySelector(".pane"));
    // (alice's "left" line waits for the seat her reload left behind: test/web-attendance.test.ts shows it)
    await customer.locator("#messages li.event", { hasText: "bob joined the conversation" }).waitFor();
    await say(pane(bob), "Hi Ann, Bob here. I have your order open.");
    await customer.locator("#messages li", { hasText: "Bob here" }).waitFor();
    await shot(bob, "06-second-agent-after-transfer");
  });

  it("a supervisor monitors, whispers and barges in", async () => {
    sue = await page({ viewport: { width: 1280, height: 800 } });
    await signIn(sue, "sue", "supervisor");
    // the team's canned replies are the supervisor's to keep (canned_set)
    await sue.locator("#canned-shortcut").fill("hello");
    await sue.locator("#canned-text").fill("Hello {{customer.name}}, I am {{agent.name}}. How can I help?");
    await sue.locator(".canned-editor [type=submit]").click();
    await sue.locator(".canned-editor li", { hasText: "/hello" }).waitFor();
    await sue.locator("#live li", { hasText: "ann-example" }).locator("button").click();
    await pane(sue).locator(".messages li", { hasText: "Bob here" }).waitFor();
    await say(pane(sue), "Offer the express refund");
    await pane(bob).locator("li.note", { hasText: "Offer the express refund" }).waitFor();
    await shot(sue, "07-supervisor-monitors-whispers");
    await pane(sue).locator(".barge").click();
    await customer.locator("#messages li.event", { hasText: /sue/i }).waitFor();
    await say(pane(sue), "Hello Ann, I am the team lead.");
    await customer.locator("#messages li", { hasText: "team lead" }).waitFor();
    assert.equal(await customer.locator("#messages").innerText().then((t) => t.includes("express refund")), false);
    await pane(sue).locator(".close").isHidden();
  });

  it("the agent ends with a wrap-up reason; the customer keeps the transcript and rates it", async () => {
    await pane(bob).locator(".end").click();
    await pane(bob).locator("#wrapup-reason").selectOption("resolved");
    await pane(bob).locator(".wrapup [type=submit]").click();
    await pane(bob).locator(".ended", { hasText: "resolved" }).waitFor();
    assert.equal(await pane(bob).locator(".end").count(), 0);
    await customer.locator("#messages li.ended").waitFor();
    await customer.locator("#messages li", { hasText: "my parcel is missing" }).waitFor();
    await customer.locator(".csat").waitFor();
    await shot(customerPage, "08-customer-ended-csat");
    await customer.locator(".stars label").nth(4).click();
    await customer.locator("#csat-comment").fill("Quick and kind");
    await customer.locator(".csat [type=submit]").click();
    await customer.locator(".csat.done").waitFor();
    await shot(bob, "09-agent-ended");
  });

  it("a server restart mid-conversation: both pages show the banner and recover with no message lost", async () => {
    await customer.locator("#text").fill("One more question");
    await customer.locator("#text").press("Enter");
    await pane(bob).locator(".messages li", { hasText: "One more question" }).waitFor();
    await customer.locator("#messages li.divider", { hasText: "New conversation" }).waitFor();
    await web.kill();
    await customer.locator(".banner[data-state=lost]").waitFor();
    await bob.locator(".banner[data-state=lost]").waitFor();
    // typed while the server is down: kept and sent after the rejoin
    await customer.locator("#text").fill("Written while you were away");
    await customer.locator("#text").press("Enter");
    await shot(customerPage, "10-customer-banner");
    await shot(bob, "10-agent-banner");
    await web.start();
    await customer.locator(".banner[data-state=lost]").waitFor({ state: "detached", timeout: 30_000 });
    await pane(bob).locator(".messages li", { hasText: "Written while you were away" }).waitFor({ timeout: 30_000 });
    await say(pane(bob), "Back again, go ahead.");
    await customer.locator("#messages li", { hasText: "Back again" }).waitFor();
    for (const text of ["my parcel is missing", "Let me check that for you.", "Thank you!", "Bob here", "team lead", "One more question", "Written while you were away"]) {
      assert.equal(await customer.locator("#messages li", { hasText: text }).count(), 1, `the customer sees "${text}" once`);
    }
    assert.equal(await customer.locator("#messages li.failed, #messages li.sending").count(), 0);
    await shot(customerPage, "11-customer-recovered");
    await shot(bob, "11-agent-recovered");
  });

  it("on a phone the launcher opens the chat full screen", async () => {
    const phone = await page({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.goto(`${web.url}/demo.html`);
    await phone.tap(".cc-launcher");
    const box = await phone.locator(".cc-frame").boundingBox();
    assert.deepEqual(box && [box.x, box.y, box.width, box.height], [0, 0, 390, 844]);
    const frame = phone.frameLocator(".cc-frame");
    await frame.locator("#name").fill("Pia Phone");
    await frame.locator("#start [type=submit]").tap();
    await frame.locator("#text").fill("Writing from my phone");
    await frame.locator("#text").press("Enter");
    await frame.locator("#messages li.mine:not(.sending)", { hasText: "Writing from my phone" }).waitFor();
    const [scroll, width] = await phone.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
    assert.ok(scroll <= width);
    // the launcher is hidden under the full-screen panel: the panel's own button closes it
    await frame.getByRole("button", { name: "Close chat" }).tap();
    await phone.locator(".cc-frame").waitFor({ state: "hidden" });
    await phone.tap(".cc-launcher");
    const panel = await frame.locator(".panel").boundingBox();
    assert.equal(panel?.width, 390, "the chat panel is as wide as the phone");
    await shot(phone, "12-phone");
  });

  it("keyboard only: the widget and the console", async () => {
    const kb = await page();
    await kb.goto(`${web.url}/`);
    await kb.keyboard.press("Tab");
    assert.equal(await kb.evaluate(() => document.activeElement?.id), "name");
    await kb.keyboard.type("Kim Keys");
    await kb.keyboard.press("Enter");
    await kb.locator("#text").waitFor();
    // the widget moves the focus itself once the chat is open (an effect after the render)
    await kb.waitForFunction(() => document.activeElement?.id === "text", undefined, { timeout: 5_000 })
      .catch(async () => assert.fail(`the message box has the focus, not #${await kb.evaluate(() => document.activeElement?.id)}`));
    await kb.keyboard.type("Only the keyboard here");
    await kb.keyboard.press("Enter");
    await kb.locator("#messages li.mine", { hasText: "Only the keyboard here" }).waitFor();

    const agent = await page();
    await agent.goto(`${web.url}/agent.html`);
    await agent.locator("#agentId").focus();
    await agent.keyboard.type("Kai Keys");
    await agent.keyboard.press("Enter");
    await agent.locator("#desk").waitFor();
    const accept = agent.locator("#queue li", { hasText: "kim-keys" }).locator("button");
    // Tab until the accept button of Kim's request has the focus, then Enter
    for (let i = 0; i < 40 && !(await accept.evaluate((b) => b === document.activeElement)); i++) { await agent.keyboard.press("Tab"); }
    await agent.keyboard.press("Enter");
    await pane(agent).locator(".messages li", { hasText: "Only the keyboard here" }).waitFor();
    await pane(agent).locator(".text").focus();
    await agent.keyboard.type("/hel");
    await agent.locator(".canned li[aria-selected=true]").waitFor();
    await agent.keyboard.press("Enter");
    assert.match(await pane(agent).locator(".text").inputValue(), /^Hello Kim Keys, I am Kai Keys/);
    await agent.keyboard.press("Enter");
    await kb.locator("#messages li", { hasText: "Hello Kim Keys" }).waitFor();
    await shot(agent, "13-keyboard-console");
  });

  it("axe-core: no serious or critical violations, light and dark", async () => {
    const found: string[] = [];
    for (const scheme of ["light", "dark"] as const) {
      for (const [name, p] of [["widget", customerPage], ["console", bob], ["supervisor", sue]] as const) {
        await p.emulateMedia({ colorScheme: scheme });
        const target = name === "widget" ? p.frames().find((f) => f.url().includes("index.html"))! : p.mainFrame();
        // evaluated over the DevTools protocol: the pages' CSP (script-src 'self') refuses inline scripts
        await target.evaluate(AXE);
        const result: any = await target.evaluate(() => (window as any).axe.run(document, { resultTypes: ["violations"] }));
        for (const v of result.violations) {
          if (v.impact === "serious" || v.impact === "critical") { found.push(`${name} ${scheme}: ${v.id} (${v.nodes.length}) ${v.nodes[0]?.target}`); }
        }
        await shot(p, `14-${name}-${scheme}`);
      }
    }
    assert.deepEqual(found, []);
    if (process.env.UPDATE_SCREENSHOTS === "1") {
      // the README's two pictures, from this run
      await customerPage.emulateMedia({ colorScheme: "light" });
      await bob.emulateMedia({ colorScheme: "light" });
      await customerPage.screenshot({ path: path.join(ROOT, "docs/screenshots/widget.png") });
      await bob.screenshot({ path: path.join(ROOT, "docs/screenshots/agent-console.png") });
    }
  });

  it("no page logged an error all day", () => {
    assert.deepEqual(errors.flat().filter((e) => !/WebSocket|ERR_CONNECTION|net::|Failed to fetch|status of 5\d\d|status of 4\d\d/.test(e)), []);
  });

  it("development tokens exist only in development", async () => {
    const ok = await fetch(`${web.url}/dev/token?sub=x&role=customer`);
    assert.equal(ok.status, 200);
    const bad = await fetch(`${web.url}/dev/token?sub=../x&role=customer`);
    assert.equal(bad.status, 400);
    const production = await startServerProcess({ NODE_ENV: "production", AUTH_SECRET: "a-production-secret-of-more-than-32-bytes!", DATABASE_URL: "memory:" });
    try {
      assert.equal((await fetch(`${production.url}/dev/token?sub=x&role=customer`)).status, 404);
      assert.doesNotMatch(await (await fetch(`${production.url}/`)).text(), /Chat with us/, "no widget in production");
    } finally {
      await production.stop();
    }
  });
});
