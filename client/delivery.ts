import type { ChatMessage } from "./protocol";

/**
 * Delivers each message once, in seq order. Seqs are room-wide and strictly
 * increasing, so "delivered" is one number: everything at or below `lastSeq` is a
 * duplicate. While held (a catch-up after a rejoin runs), offers are kept instead, so
 * live messages wait behind the missed ones that history still has to bring.
 */
export class SeqDelivery {
  private held = new Map<number, ChatMessage>();
  private holding = false;

  constructor(
    private readonly deliver: (message: ChatMessage) => void,
    public lastSeq = 0,
  ) {}

  get isHolding(): boolean { return this.holding; }

  hold(): void { this.holding = true; }

  /** Delivers (or, while held, keeps) the messages above `lastSeq`; returns how many were delivered now. */
  offer(messages: Iterable<ChatMessage>): number {
    let fresh: ChatMessage[] = [];
    for (const m of messages) {
      if (m.seq <= this.lastSeq) { continue; }
      if (this.holding) { if (!this.held.has(m.seq)) { this.held.set(m.seq, m); } } else { fresh.push(m); }
    }
    if (fresh.length === 0) { return 0; }
    fresh = fresh.sort((a, b) => a.seq - b.seq);
    return this.flush(fresh);
  }

  /** Ends the hold: delivers what was kept, in seq order; returns how many. */
  release(): number {
    this.holding = false;
    const kept = [...this.held.values()].sort((a, b) => a.seq - b.seq);
    this.held.clear();
    return this.flush(kept);
  }

  private flush(sorted: ChatMessage[]): number {
    let n = 0;
    for (const m of sorted) {
      if (m.seq <= this.lastSeq) { continue; } // a batch may repeat a seq
      this.lastSeq = m.seq;
      n++;
      this.deliver(m);
    }
    return n;
  }
}

/**
 * Whether the state's message window may have skipped messages: its oldest message is
 * beyond the next seq the client expects (more than a window arrived between two
 * patches, or a new conversation began with seqs the client has not seen). A false
 * alarm costs one `history` request; notes a customer cannot see make seqs skip too.
 */
export function windowHasGap(windowSeqs: number[], lastSeq: number): boolean {
  if (windowSeqs.length === 0 || lastSeq === 0) { return false; }
  return Math.min(...windowSeqs) > lastSeq + 1;
}

/**
 * The rows of the state's window above `lastSeq`, as plain messages, and the window's
 * oldest seq (undefined when it is empty). Runs on every state patch of every client
 * (a typing flag, a read horizon), nearly always to find one new row or none: it
 * copies only those, not the whole window (`STATE_MESSAGE_WINDOW`, 50 by default).
 * The rows need not be in seq order.
 */
export function windowAbove(rows: Iterable<any> | undefined, conversationId: string, lastSeq: number): { fresh: ChatMessage[]; oldest: number | undefined } {
  const fresh: ChatMessage[] = [];
  let oldest: number | undefined;
  if (!rows) { return { fresh, oldest }; }
  // one iterator, not at(i) and length: the schema's ArraySchema is a Proxy, each of those is a trap
  for (const m of rows) {
    if (!m) { continue; }
    if (oldest === undefined || m.seq < oldest) { oldest = m.seq; }
    if (m.seq > lastSeq) { fresh.push(toMessage(m, conversationId)); }
  }
  return { fresh, oldest };
}

/** A state or history row as a plain message (schema objects change under the caller). */
export function toMessage(m: any, conversationId: string): ChatMessage {
  const message: ChatMessage = { seq: m.seq, id: m.id, senderId: m.senderId, senderRole: m.senderRole, senderName: m.senderName, kind: m.kind, text: m.text, at: m.at, conversationId };
  // files and rich content (docs/channels.md): the state holds rich as JSON, history as an object
  const attachments = [...(m.attachments ?? [])].map((a: any) => ({ id: a.id, name: a.name, type: a.type, size: a.size }));
  if (attachments.length) { message.attachments = attachments; }
  const rich = typeof m.rich === "string" ? (m.rich ? JSON.parse(m.rich) : undefined) : m.rich;
  if (rich) { message.rich = rich; }
  return message;
}
