import { useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { describe } from "../lib/connect";
import { strings } from "../strings";
import type { Canned } from "./canned";

/** A supervisor's editor of the team's canned replies: add and remove, saved whole (`canned_set`). */
export function CannedEditor({ team, replies, onChange }: { team: ChatConnection<"team">; replies: Canned[]; onChange(list: Canned[]): void }) {
  const [shortcut, setShortcut] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState("");

  async function save(list: Canned[]) {
    setError("");
    try {
      onChange((await team.request("canned_set", { replies: list })).replies);
      return true;
    } catch (e) {
      setError(describe(e));
      return false;
    }
  }

  return (
    <section class="canned-editor">
      <h2>{strings.cannedReplies}</h2>
      <ul class="list">
        {replies.map((r) => (
          <li key={r.shortcut}>
            <span><strong>/{r.shortcut}</strong> <small class="muted">{r.text}</small></span>
            <button type="button" class="secondary" aria-label={`${strings.remove} /${r.shortcut}`} onClick={() => void save(replies.filter((x) => x !== r))}>×</button>
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={async (e) => {
        e.preventDefault();
        if (await save([...replies, { shortcut: shortcut.trim(), text: text.trim() }])) { setShortcut(""); setText(""); }
      }}>
        <label class="sr-only" for="canned-shortcut">{strings.cannedShortcut}</label>
        <input id="canned-shortcut" placeholder={strings.cannedShortcut} value={shortcut} required maxLength={32} onInput={(e) => setShortcut((e.target as HTMLInputElement).value)} />
        <label class="sr-only" for="canned-text">{strings.cannedText}</label>
        <input id="canned-text" placeholder={strings.cannedText} value={text} required maxLength={1000} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit" class="secondary">{strings.cannedAdd}</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </section>
  );
}
