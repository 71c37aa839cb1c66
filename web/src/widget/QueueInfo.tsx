import { useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { describe, extraRequest } from "../lib/connect";
import { strings } from "../strings";

/**
 * While nobody has joined: the queue position and the expected wait the desk puts in
 * the state (`queuePosition` 1-based, 0 not queued; `estimatedWaitMs`, -1 unknown),
 * and the way out: leave an email for a follow-up (`follow_up`).
 */
export function QueueInfo({ connection, conversation }: { connection: ChatConnection<any>; conversation: any }) {
  const [email, setEmail] = useState("");
  const [done, setDone] = useState(conversation.followUp ? String(conversation.followUp) : "");
  const [error, setError] = useState("");
  const position: number = conversation.queuePosition ?? 0;
  const wait: number = conversation.estimatedWaitMs ?? -1;

  async function leaveEmail(event: Event) {
    event.preventDefault();
    setError("");
    try {
      await extraRequest(connection, "follow_up", { email: email.trim() });
      setDone(email.trim());
    } catch (e) {
      setError(`${strings.followUpFailed} (${describe(e)})`);
    }
  }

  return (
    <aside class="queue-info" aria-label={strings.waitingForAgent}>
      <p id="queue-position">
        {position > 0 ? strings.queuePosition(position) : strings.waitingForAgent}
        {wait >= 0 && <> {strings.expectedWait(Math.round(wait / 60_000))}</>}
      </p>
      {done
        ? <p class="muted">{strings.followUpDone(done)}</p>
        : (
          <form class="follow-up row" onSubmit={leaveEmail}>
            <label for="follow-up-email">{strings.followUpAsk}</label>
            <input id="follow-up-email" type="email" required autocomplete="email" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
            <button type="submit" class="secondary">{strings.followUpSend}</button>
            {error && <p role="alert" class="error">{error}</p>}
          </form>
        )}
    </aside>
  );
}
