import type { RichContent } from "../store/types";

/**
 * The plain-text form of a message with rich content (docs/channels.md "Rich
 * messages"), for channels that cannot show quick replies or cards (email, SMS, a
 * WhatsApp message with more quick replies than its three buttons): the text, each
 * card as its title, subtitle and links, the quick replies as a numbered list the
 * customer can answer with. Pure, unit-tested (test/channelRules.test.ts).
 */
export function plainFallback(text: string, rich: RichContent | undefined): string {
  if (!rich) { return text; }
  const parts: string[] = text.trim() ? [text.trim()] : [];
  for (const card of rich.cards ?? []) {
    const lines = [card.title, ...(card.subtitle ? [card.subtitle] : [])];
    for (const button of card.buttons ?? []) { lines.push(button.url ? `${button.title}: ${button.url}` : `- ${button.title}`); }
    parts.push(lines.join("\n"));
  }
  if (rich.quickReplies?.length) {
    parts.push(rich.quickReplies.map((reply, i) => `${i + 1}. ${reply.title}`).join("\n"));
  }
  return parts.join("\n\n");
}
