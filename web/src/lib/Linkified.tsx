/**
 * Text with its http and https addresses as links. Everything is a text node or an
 * <a> built by Preact (never innerHTML), other schemes (javascript:, data:) stay text,
 * and links open in a new tab without handing it this window (noopener noreferrer).
 */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[).,;:!?'\]]+$/;

export function safeHref(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function Linkified({ text }: { text: string }) {
  const parts: Array<string | { href: string; label: string }> = [];
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
  return (
    <>
      {parts.map((part, i) => (typeof part === "string"
        ? part
        : <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">{part.label}</a>))}
    </>
  );
}
