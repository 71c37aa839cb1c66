import { z } from "zod";

/** The normalisation and bounds of every text the server stores. */

// C0/C1 controls except tab and newline, plus lone surrogates (invalid UTF-16).
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): they
// reorder what follows them, so a stored text could display differently from what it
// says ("Trojan Source"). The marks LRM, RLM and ALM stay: they only set the direction
// of neutral characters next to them, and mixed right-to-left text needs them.
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/g;
// What shows nothing: whitespace, zero-width characters (ZWSP, ZWNJ, ZWJ, word
// joiner, BOM) and the direction marks. Kept inside a text (ZWJ builds emoji, ZWNJ
// Persian words), but a text of nothing else is no text.
const INVISIBLE = /[\s\u200B-\u200F\u2060\uFEFF\u061C]/gu;

/**
 * The one normalisation of every text the server stores (messages, reasons, names
 * from tokens, subjects, channel addresses): controls, bidi controls and lone
 * surrogates removed, then NFC. Idempotent.
 */
export function normaliseText(text: string): string {
  return text.replace(CONTROL, "").replace(BIDI_CONTROL, "").normalize("NFC");
}

/** True when a (normalised) text shows nothing. */
export function isBlank(text: string): boolean {
  return text.replace(INVISIBLE, "").length === 0;
}

/**
 * A zod string field for a stored text: normalised, refused when blank or longer
 * than `max` code points. Every text field of a request, a join and a token uses it.
 */
export function textField(max: number) {
  return z.string().transform((raw, ctx) => {
    const text = normaliseText(raw);
    if (isBlank(text)) { ctx.addIssue({ code: "custom", message: "must not be empty" }); return z.NEVER; }
    if (codePoints(text) > max) { ctx.addIssue({ code: "custom", message: `at most ${max} characters` }); return z.NEVER; }
    return text;
  });
}

export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) { n++; }
  return n;
}
