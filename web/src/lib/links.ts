/**
 * Where the links of a message text are: http and https addresses only (other schemes,
 * javascript: and data: among them, stay text), without the punctuation that ends a
 * sentence. Pure, so it is unit-tested (test/web-rules.test.ts).
 */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[).,;:!?'\]]+$/;

export type Part = string | { href: string; label: string };

export function safeHref(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function splitLinks(text: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let label = match[0];
    const trailing = label.match(TRAILING)?.[0] ?? "";
    if (trailing) { label = label.slice(0, -trailing.length); }
    const href = safeHref(label);
    if (!href) { continue; }
    parts.push(text.slice(last, match.index), { href, label });
    last = match.index! + label.length;
  }
  parts.push(text.slice(last));
  return parts.filter((p) => p !== "");
}
