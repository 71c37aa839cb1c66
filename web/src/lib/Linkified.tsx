import { splitLinks } from "./links";

/**
 * Text with its http and https addresses as links. Everything is a text node or an
 * <a> built by Preact (never innerHTML), and links open in a new tab without handing
 * it this window (noopener noreferrer).
 */
export function Linkified({ text }: { text: string }) {
  return (
    <>
      {splitLinks(text).map((part, i) => (typeof part === "string"
        ? part
        : <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">{part.label}</a>))}
    </>
  );
}
