import assert from "node:assert/strict";
import { RequestError } from "../server/errors";
import { checkText, codePoints, isBlank, normaliseText, parseRequest, schemas, textField, type RequestType } from "../server/requests";

/** A seeded generator (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ["id", "text", "kind", "seq", "typing", "conversationId", "before", "after", "limit", "reason",
  "toUserId", "toTeamId", "userId", "teamId", "requestId", "status", "maxConversations", "__proto__", "constructor", "prototype"];
const STRINGS = ["", "a", "m-1", "../etc/passwd", "a/b", "x".repeat(70), "note", "text", "available", "héllo", "\u0000\u0007bell",
  "\uD800", "\uDFFF lone", "😀".repeat(3), "req-00000000-0000-0000-0000-000000000000", "conv-1", " ", "\n\t"];

/** Values msgpack can deliver besides JSON's: bin, timestamps, 64-bit integers, null-prototype maps. */
function exotic(r: () => number): unknown {
  switch (Math.floor(r() * 6)) {
    case 0: return new Uint8Array([0xed, 0xa0, 0x80]);
    case 1: return new Date(Math.floor(r() * 2e12));
    case 2: return BigInt(Math.floor(r() * 1e6)) * 10_000_000_000_000n;
    case 3: return Object.assign(Object.create(null), { id: "nullproto", text: "x", seq: 1, typing: true });
    case 4: return "x".repeat(Math.floor(r() * 70_000));
    default: return JSON.parse('{"__proto__":{"polluted":true},"id":"p","text":"t","seq":3}');
  }
}

function value(r: () => number, depth = 0): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  if (r() < 0.05) { return exotic(r); }
  switch (Math.floor(r() * (depth > 3 ? 6 : 8))) {
    case 0: return pick(STRINGS);
    case 1: return Math.floor(r() * 400) - 100;
    case 2: return pick([0, -1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2, 1e300]);
    case 3: return r() < 0.5;
    case 4: return pick([null, undefined]);
    case 5: return pick(STRINGS) + String.fromCharCode(Math.floor(r() * 0xffff));
    case 6: return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--) { o[pick(KEYS)] = value(r, depth + 1); }
      return o;
    }
  }
}

const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

describe("request validators: property test over random payloads", () => {
  const types = Object.keys(schemas) as RequestType[];

  it("never throw anything but RequestError(invalid_payload), and what they accept keeps the documented invariants", () => {
    let accepted = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const r = rng(seed);
      const type = types[seed % types.length];
      const payload = value(r);
      let parsed: any;
      try {
        parsed = parseRequest(type, payload);
      } catch (e) {
        assert.ok(e instanceof RequestError, `seed ${seed}: ${type} threw ${e}`);
        assert.equal(e.code, "invalid_payload", `seed ${seed}`);
        assert.match(e.message, new RegExp(`^${type}: `));
        continue;
      }
      accepted++;
      // no key outside the schema survives, prototype keys included
      if (parsed && typeof parsed === "object") {
        assert.equal(Object.getPrototypeOf(parsed), Object.prototype, `seed ${seed}`);
        for (const key of Object.keys(parsed)) { assert.ok(KEYS.includes(key) && !["__proto__", "constructor", "prototype"].includes(key), `seed ${seed}: ${key}`); }
      }
      for (const key of ["id", "conversationId", "toUserId", "toTeamId", "userId", "teamId"]) {
        if (parsed?.[key] !== undefined) { assert.match(parsed[key], ID, `seed ${seed}: ${key}`); }
      }
      for (const key of ["seq", "before", "after", "limit"]) {
        if (parsed?.[key] !== undefined) { assert.ok(Number.isSafeInteger(parsed[key]) && parsed[key] >= 0, `seed ${seed}: ${key}=${parsed[key]}`); }
      }
      if (type === "send") { assert.equal(typeof parsed.text, "string"); assert.ok(parsed.kind === undefined || ["text", "note"].includes(parsed.kind)); }
      if (type === "typing") { assert.equal(typeof parsed.typing, "boolean"); }
    }
    assert.ok(accepted > 200, `the generator reaches valid payloads too (${accepted})`);
  });

  it("normaliseText removes control characters and lone surrogates, and is idempotent", () => {
    for (let seed = 1; seed <= 5_000; seed++) {
      const r = rng(seed);
      const text = Array.from({ length: Math.floor(r() * 40) }, () => String.fromCharCode(Math.floor(r() * 0xffff))).join("");
      const once = normaliseText(text);
      assert.doesNotMatch(once, CONTROL, `seed ${seed}`);
      assert.ok(Buffer.from(once, "utf8").toString("utf8") === once, `seed ${seed}: not valid UTF-16 after normalising`);
      assert.equal(normaliseText(once), once, `seed ${seed}`);
    }
    assert.equal(normaliseText("a\u0000b\u0007c\nd\te"), "abc\nd\te");
    assert.equal(normaliseText("e\u0301"), "é");
  });

  it("checkText over random texts: answers the stored text or a RequestError, and what it stores is clean, NFC, bounded and stable", () => {
    const pieces = ["a", "é", "e\u0301", "😀", "\uD800", "\uDFFF", "\u0000", "\u0007", "\u009F", "\u200B", "\u202E", " ", "\n", "\t", "ﬁ", "Å", "A\u030A", "\uFEFF"];
    let stored = 0;
    for (let seed = 1; seed <= 10_000; seed++) {
      const r = rng(seed);
      const raw = Array.from({ length: Math.floor(r() * 30) }, () => r() < 0.7
        ? pieces[Math.floor(r() * pieces.length)]
        : String.fromCharCode(Math.floor(r() * 0x10000))).join("");
      const max = 1 + Math.floor(r() * 20);
      let text: string;
      try {
        text = checkText(raw, max);
      } catch (e) {
        assert.ok(e instanceof RequestError, `seed ${seed}: threw ${e}`);
        assert.ok(["invalid_payload", "text_too_long"].includes(e.code), `seed ${seed}: ${e.code}`);
        if (e.code === "text_too_long") { assert.ok(codePoints(normaliseText(raw)) > max, `seed ${seed}`); }
        else { assert.ok(isBlank(normaliseText(raw)), `seed ${seed}`); }
        continue;
      }
      stored++;
      assert.doesNotMatch(text, CONTROL, `seed ${seed}`);
      assert.doesNotMatch(text, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, `seed ${seed}: lone surrogate`);
      assert.equal(text, text.normalize("NFC"), `seed ${seed}: not NFC`);
      assert.ok(codePoints(text) <= max && text.trim().length > 0, `seed ${seed}`);
      assert.equal(checkText(text, max), text, `seed ${seed}: not stable`);
    }
    assert.ok(stored > 1_000 && stored < 10_000, `both outcomes reached (${stored} stored)`);
  });

  it("normaliseText removes bidi embeddings, overrides and isolates, keeps direction marks and zero-width joiners", () => {
    assert.equal(normaliseText("a\u202Ab\u202Bc\u202Cd\u202De\u202Ef\u2066g\u2067h\u2068i\u2069j"), "abcdefghij");
    assert.equal(normaliseText("\u05D0\u200F!\u200E\u061C"), "\u05D0\u200F!\u200E\u061C", "LRM, RLM and ALM stay");
    assert.equal(normaliseText("👨\u200D👩\u200D👧 می\u200Cخواهم"), "👨\u200D👩\u200D👧 می\u200Cخواهم", "ZWJ and ZWNJ stay");
    assert.equal(normaliseText("x\u0000\u001b[31m\u0085y"), "x[31my");
    for (let seed = 1; seed <= 2_000; seed++) {
      const r = rng(seed);
      const pieces = ["a", "\u202E", "\u2066", "\u2069", "\u202A", "\u200F", "\u0000", "e\u0301", "\uD800"];
      const once = normaliseText(Array.from({ length: Math.floor(r() * 20) }, () => pieces[Math.floor(r() * pieces.length)]).join(""));
      assert.doesNotMatch(once, /[\u202A-\u202E\u2066-\u2069]/, `seed ${seed}`);
      assert.equal(normaliseText(once), once, `seed ${seed}`);
    }
  });

  it("isBlank: whitespace, zero-width characters and direction marks show nothing", () => {
    for (const blank of ["", " ", "\n\t", "\u200B", "\u200C\u200D", "\u2060", "\uFEFF", "\u200E\u200F\u061C", "\u00A0\u3000"]) {
      assert.equal(isBlank(blank), true, JSON.stringify(blank));
    }
    for (const text of ["a", "\u200Ba", "😀", ".", "\u05D0"]) { assert.equal(isBlank(text), false, JSON.stringify(text)); }
  });

  it("textField: every stored text field of requests, joins and tokens, normalised and refused when blank or long", () => {
    const field = textField(5);
    assert.equal(field.parse("a\u202Eb\u0000c"), "abc");
    assert.equal(field.parse("😀😀😀😀😀"), "😀😀😀😀😀", "code points, not UTF-16 units");
    assert.equal(field.safeParse("😀😀😀😀😀😀").success, false);
    assert.equal(field.safeParse("\u200B \u202E\u0007").success, false);
    assert.equal(field.safeParse(5).success, false);
    for (const type of ["end", "transfer", "invite", "handover"] as const) {
      const base = type === "invite" ? { userId: "u1" } : type === "transfer" ? { toTeamId: "t1" } : {};
      assert.equal((parseRequest(type, { ...base, reason: "r\u0000\u001b\u202Eok" }) as any).reason, "rok", type);
      assert.throws(() => parseRequest(type, { ...base, reason: "\u200B\u2066" }), (e: any) => e.code === "invalid_payload", type);
      assert.throws(() => parseRequest(type, { ...base, reason: "x".repeat(201) }), (e: any) => e.code === "invalid_payload", type);
    }
    assert.throws(() => checkText("\u200B\u200D\uFEFF\u202E \n", 10), (e: any) => e.code === "invalid_payload");
  });

  it("checkText counts code points, not UTF-16 units, and rejects empty and long texts with stable codes", () => {
    assert.equal(codePoints("😀😀"), 2);
    assert.equal(checkText("😀".repeat(10), 10), "😀".repeat(10));
    assert.throws(() => checkText("😀".repeat(11), 10), (e: any) => e.code === "text_too_long");
    assert.throws(() => checkText(" \u0000 ", 10), (e: any) => e.code === "invalid_payload");
  });
});
