import assert from "node:assert/strict";
import { fill, matching } from "../web/src/console/canned";
import { readClaims, toId } from "../web/src/lib/auth";
import { safeHref, splitLinks } from "../web/src/lib/links";
import { duration } from "../web/src/lib/time";

/** The pages' pure rules: links, ids from names, canned replies, token claims, durations. */
describe("web: the pages' pure rules", () => {
  it("links only http and https, without the sentence's punctuation", () => {
    assert.deepEqual(splitLinks("see https://shop.example/a?b=1. Thanks"), ["see ", { href: "https://shop.example/a?b=1", label: "https://shop.example/a?b=1" }, ". Thanks"]);
    assert.deepEqual(splitLinks("(http://x.example/p)"), ["(", { href: "http://x.example/p", label: "http://x.example/p" }, ")"]);
    assert.deepEqual(splitLinks("javascript:alert(1) data:text/html,<b>x</b> ftp://f.example"), ["javascript:alert(1) data:text/html,<b>x</b> ftp://f.example"]);
    assert.deepEqual(splitLinks("no links"), ["no links"]);
    assert.equal(safeHref("javascript:alert(1)"), undefined);
    assert.equal(safeHref("http://"), undefined);
    assert.equal(safeHref("https://ok.example/x y"), "https://ok.example/x%20y");
  });

  it("derives server ids from what people type (the console's sign-in had a pattern Chromium refused)", () => {
    assert.equal(toId("Alice Smith"), "alice-smith");
    assert.equal(toId("  Zoë O'Brien!! "), "zo-o-brien");
    assert.equal(toId("***", ""), "");
    assert.equal(toId("x".repeat(100)).length, 64);
    assert.match(toId("any thing at all"), /^[A-Za-z0-9_-]{1,64}$/);
  });

  it("canned replies: / finds by shortcut prefix, placeholders are filled, unknown ones stay", () => {
    const list = [{ shortcut: "hello", text: "Hi {{customer.name}}, I am {{agent.name}} {{order.id}}" }, { shortcut: "help", text: "x" }, { shortcut: "bye", text: "y" }];
    assert.deepEqual(matching(list, "/he").map((c) => c.shortcut), ["hello", "help"]);
    assert.deepEqual(matching(list, "/").length, 3);
    assert.deepEqual(matching(list, "hello"), [], "only a leading /");
    assert.equal(fill(list[0].text, { "customer.name": "Ann", "agent.name": "Bob" }), "Hi Ann, I am Bob {{order.id}}");
  });

  it("reads a token's claims for display without verifying; garbage is undefined", () => {
    const payload = Buffer.from(JSON.stringify({ sub: "a-1", role: "agent", name: "Zoë", teams: ["support"] })).toString("base64url");
    assert.deepEqual(readClaims(`h.${payload}.s`), { sub: "a-1", role: "agent", name: "Zoë", teams: ["support"] });
    assert.equal(readClaims("not a token"), undefined);
  });

  it("says how long something waited", () => {
    assert.equal(duration(42_000), "42 s");
    assert.equal(duration(3 * 60_000 + 5_000), "3 min");
    assert.equal(duration(65 * 60_000), "1 h 5 min");
    assert.equal(duration(-5), "0 s");
  });
});
