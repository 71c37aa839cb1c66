import { useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { describe } from "../lib/connect";
import { strings } from "../strings";

/**
 * The rating of an ended conversation: 1 to 5 and an optional comment, sent with
 * `csat` in the customer's room. Answered once per conversation (kept in this browser).
 */
export function Csat({ connection, conversationId }: { connection: ChatConnection<any>; conversationId: string }) {
  const key = `cc-csat-${conversationId}`;
  const [rating, setRating] = useState(0);
  const [comment, setComment] = useState("");
  const [state, setState] = useState<"ask" | "done" | string>(localStorage.getItem(key) ? "done" : "ask");

  async function submit(event: Event) {
    event.preventDefault();
    if (!rating) { return; }
    try {
      await connection.request("csat", { conversationId, rating, ...(comment.trim() ? { comment: comment.trim() } : {}) });
      localStorage.setItem(key, String(rating));
      setState("done");
    } catch (e) {
      setState(`${strings.csatFailed} (${describe(e)})`);
    }
  }

  if (state === "done") { return <p class="csat done" role="status">{strings.csatThanks}</p>; }
  return (
    <form class="csat" onSubmit={submit}>
      <p class="muted">{strings.writeAgain}</p>
      <fieldset>
        <legend>{strings.csatAsk}</legend>
        <div class="stars">
          {[1, 2, 3, 4, 5].map((n) => (
            <label key={n} class={n <= rating ? "on" : ""}>
              <input type="radio" name="rating" value={n} checked={rating === n} onChange={() => setRating(n)} />
              <span aria-hidden="true">★</span><span class="sr-only">{strings.csatStar(n)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <label for="csat-comment">{strings.csatComment}</label>
      <textarea id="csat-comment" rows={2} maxLength={1000} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
      <button type="submit" disabled={!rating}>{strings.csatSend}</button>
      {state !== "ask" && <p role="alert" class="error">{state}</p>}
    </form>
  );
}
