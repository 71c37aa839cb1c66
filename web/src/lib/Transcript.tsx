import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import type { ChatMessage } from "../../../client";
import { strings } from "../strings";
import { Linkified } from "./Linkified";
import { clock } from "./time";
import type { Pending } from "./useChat";

export interface TranscriptProps {
  messages: Map<number, ChatMessage>;
  ended: Map<string, string>;
  pending: Pending[];
  version: number;
  me: string;
  /** highest seq another participant read, and whether another one is connected (delivered) */
  readByOthers: number;
  delivered: boolean;
  onRetry(id: string): void;
  className?: string;
  id?: string;
  /** false while its pane is hidden: shown again, it opens at the newest message */
  shown?: boolean;
}

/**
 * The transcript: one <li> per message, keyed by seq, so a new message adds one node
 * (announced once by the log's live region) and typing or presence changes redraw
 * nothing here. Conversations are separated by dividers; an ended one says so.
 */
export function Transcript(props: TranscriptProps) {
  const { messages, ended, pending, version, me, readByOthers, delivered } = props;
  const rows = useMemo(() => [...messages.values()].sort((a, b) => a.seq - b.seq), [version]);
  const storedIds = useMemo(() => new Set(rows.map((m) => m.id)), [rows]);
  // follow new messages while the reader is at the bottom; one scrolled up to read stays put
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && atBottom.current) { el.scrollTop = el.scrollHeight; }
  }, [version, pending.length, props.shown]);
  const items: any[] = [];
  let conversation: string | undefined;
  const closeConversation = (id: string | undefined) => {
    if (id && ended.has(id)) {
      const reason = ended.get(id);
      items.push(<li key={`end-${id}`} class="divider ended">{reason ? strings.ended(reason) : strings.conversationEnded}</li>);
    }
  };
  for (const m of rows) {
    if (m.conversationId !== conversation) {
      closeConversation(conversation);
      if (conversation !== undefined) { items.push(<li key={`start-${m.conversationId}`} class="divider">{strings.newConversation}</li>); }
      conversation = m.conversationId;
    }
    const mine = m.senderId === me;
    const mark = !mine || m.kind !== "text" ? undefined : m.seq <= readByOthers ? strings.read : delivered ? strings.delivered : strings.sent;
    items.push(
      <li key={m.seq} data-seq={m.seq} class={[mine ? "mine" : "", m.kind === "text" ? "" : m.kind].join(" ").trim()}>
        {m.kind !== "event" && <span class="who">{mine ? strings.you : m.senderName}{m.kind === "note" ? ` · ${strings.note}` : ""}</span>}
        <p class="body"><Linkified text={m.text} /></p>
        <span class="meta"><time dateTime={new Date(m.at).toISOString()}>{clock(m.at)}</time>{mark && <span class={`mark ${mark === strings.read ? "read" : ""}`}> · {mark}</span>}</span>
      </li>,
    );
  }
  closeConversation(conversation);
  for (const p of pending) {
    if (storedIds.has(p.id)) { continue; }
    items.push(
      <li key={p.id} class={`mine ${p.kind === "note" ? "note" : ""} ${p.failed ? "failed" : "sending"}`}>
        <span class="who">{strings.you}{p.kind === "note" ? ` · ${strings.note}` : ""}</span>
        <p class="body"><Linkified text={p.text} /></p>
        <span class="meta">
          {p.failed ? <>{strings.notSent}: {p.failed} <button type="button" class="link" onClick={() => props.onRetry(p.id)}>{strings.retry}</button></> : strings.sending}
        </span>
      </li>,
    );
  }
  return (
    <ol id={props.id} ref={list} class={`messages ${props.className ?? ""}`} aria-live="polite" aria-relevant="additions" tabIndex={0}
      onScroll={(e) => { const el = e.currentTarget; atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
      {items}
    </ol>
  );
}
