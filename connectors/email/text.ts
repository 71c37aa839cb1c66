/**
 * Plain text of an inbound email for the transcript: the customer's new words, not
 * the quoted history a mail client appends to a reply (lines starting with ">" and
 * the "On … wrote:" line above them), nor the signature after "-- ".
 * Pure, unit-tested (test/emailConnector.test.ts).
 */
export function replyText(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "-- ") { break; }
    if (/^On .+wrote:\s*$/.test(line) && (lines[i + 1] ?? "").startsWith(">")) { break; }
    if (line.startsWith(">")) { continue; }
    kept.push(line);
  }
  return kept.join("\n").trim();
}

/** "Re: subject" once, whatever the customer's client did with it. */
export function replySubject(subject: string | undefined): string {
  const base = (subject ?? "").trim();
  if (!base) { return "Re: your message"; }
  return /^re:/i.test(base) ? base : `Re: ${base}`;
}

/** The thread an email belongs to, kept by the server as the channel session's context. */
export interface Thread {
  subject: string;
  /** the newest Message-ID of the thread, the In-Reply-To of our answer */
  messageId: string;
  /** the thread's Message-IDs, oldest first, at most 20 (References) */
  references: string[];
}

export function threadOf(mail: { subject?: string; messageId: string; references?: string | string[] }): Thread {
  const refs = Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [];
  return { subject: mail.subject ?? "", messageId: mail.messageId, references: [...refs, mail.messageId].slice(-20) };
}

export function parseThread(context: string): Thread | null {
  try {
    const t = JSON.parse(context);
    return typeof t?.messageId === "string" ? { subject: String(t.subject ?? ""), messageId: t.messageId, references: Array.isArray(t.references) ? t.references.map(String) : [] } : null;
  } catch {
    return null;
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]!));
}
