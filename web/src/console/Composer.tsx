import { useRef, useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { useTyping, type useChat } from "../lib/useChat";
import { strings } from "../strings";
import { fill, matching, type Canned } from "./canned";

/**
 * Reply or note, said out loud: a two-way switch that goes back to "reply" after every
 * send, so a note is never sent as a reply by a box left ticked (nor the other way).
 * A monitoring supervisor writes notes only (the whisper). `/` opens canned replies.
 */
export function Composer({ connection, chat, monitor, disabled, values, cannedReplies }: {
  connection: ChatConnection<any>; chat: ReturnType<typeof useChat>; monitor: boolean; disabled: boolean;
  values: Record<string, string>; cannedReplies: Canned[];
}) {
  const [mode, setMode] = useState<"text" | "note">("text");
  const [text, setText] = useState("");
  const [selected, setSelected] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const typing = useTyping(connection);
  const canned = matching(cannedReplies, text);
  const kind = monitor ? "note" : mode;

  function send(event?: Event) {
    event?.preventDefault();
    const value = text.trim();
    if (!value || disabled) { return; }
    setText("");
    if (kind === "text") { typing.stop(); }
    chat.send(value, kind);
    setMode("text");
    input.current?.focus();
  }

  function choose(c: Canned) {
    setText(fill(c.text, values));
    setSelected(0);
    input.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent) {
    if (canned.length > 0) {
      if (e.key === "ArrowDown") { e.preventDefault(); setSelected((s) => (s + 1) % canned.length); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); setSelected((s) => (s + canned.length - 1) % canned.length); return; }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(canned[Math.min(selected, canned.length - 1)]); return; }
      if (e.key === "Escape") { setText(""); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { send(e); }
  }

  return (
    <div class="composer-wrap">
      {canned.length > 0 && (
        <ul class="canned" role="listbox" aria-label={strings.cannedReplies}>
          {canned.map((c, i) => (
            <li key={c.shortcut} role="option" aria-selected={i === selected} onMouseDown={(e) => { e.preventDefault(); choose(c); }}>
              <strong>/{c.shortcut}</strong> <span class="muted">{fill(c.text, values)}</span>
            </li>
          ))}
        </ul>
      )}
      <form class={`composer ${kind === "note" ? "note-mode" : ""}`} onSubmit={send}>
        {!monitor && (
          <fieldset class="mode">
            <legend class="sr-only">{strings.reply} / {strings.noteMode}</legend>
            <label><input type="radio" class="reply" name={`mode-${connection.roomId}`} checked={mode === "text"} onChange={() => setMode("text")} />{strings.reply}</label>
            <label><input type="radio" class="note" name={`mode-${connection.roomId}`} checked={mode === "note"} onChange={() => setMode("note")} />{strings.noteMode}</label>
          </fieldset>
        )}
        <label class="sr-only" for={`text-${connection.roomId}`}>{kind === "note" ? strings.notePlaceholder : strings.replyPlaceholder}</label>
        <textarea id={`text-${connection.roomId}`} class="text" ref={input} rows={2} value={text} disabled={disabled} maxLength={4000}
          placeholder={monitor ? strings.whisper : kind === "note" ? strings.notePlaceholder : strings.replyPlaceholder}
          onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); if (kind === "text") { typing.input(); } }}
          onKeyDown={onKeyDown} />
        <button type="submit" disabled={disabled}>{strings.send}</button>
      </form>
    </div>
  );
}
