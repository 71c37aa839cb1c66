import { useState } from "preact/hooks";
import type { ChatConnection, ChatMessage, ConversationSummary } from "../../../client";
import { describe } from "../lib/connect";
import { Linkified } from "../lib/Linkified";
import { clock } from "../lib/time";
import { strings } from "../strings";

/** Who the customer is: channel sessions, this conversation's data, and past conversations (`conversations`, `history`). */
export function CustomerPanel({ connection, customerId }: { connection: ChatConnection<any>; customerId: string }) {
  const [past, setPast] = useState<ConversationSummary[]>();
  const [openPast, setOpenPast] = useState<Record<string, ChatMessage[]>>({});
  const [error, setError] = useState("");
  const conversation = connection.state?.conversation;
  const sessions: any[] = [...(conversation?.channelSessions?.values() ?? [])];
  const participants: any[] = [...(conversation?.participants?.values() ?? [])];

  async function loadPast() {
    try { setPast((await connection.conversations({ limit: 10 })).conversations); } catch (e) { setError(describe(e)); }
  }
  async function show(id: string) {
    try {
      const { messages } = await connection.history({ conversationId: id, limit: 50 });
      setOpenPast((o) => ({ ...o, [id]: messages }));
    } catch (e) { setError(describe(e)); }
  }

  return (
    <aside class="customer-panel" aria-label={strings.customer}>
      <section>
        <h3>{strings.customer}</h3>
        <dl><dt>id</dt><dd>{customerId}</dd></dl>
      </section>
      <section>
        <h3>{strings.channels}</h3>
        <dl>{sessions.map((s) => <><dt key={`t${s.id}`}>{s.type}</dt><dd key={`a${s.id}`}>{s.address || "—"} · {s.state}</dd></>)}</dl>
      </section>
      {conversation && (
        <section>
          <h3>{strings.conversationData}</h3>
          <dl>
            <dt>id</dt><dd>{conversation.id}</dd>
            <dt>{strings.started}</dt><dd>{new Date(conversation.startedAt).toLocaleString()}</dd>
            {conversation.status && <><dt>{strings.status}</dt><dd>{conversation.status}</dd></>}
            <dt>{strings.people}</dt><dd>{participants.map((p) => `${p.name} (${p.role})`).join(", ")}</dd>
          </dl>
        </section>
      )}
      <section>
        <h3>{strings.pastConversations}</h3>
        {!past && <button type="button" class="secondary history" onClick={() => void loadPast()}>{strings.showPast}</button>}
        {past && past.length === 0 && <p class="muted">{strings.noPast}</p>}
        <ul class="list past">
          {past?.map((c) => (
            <li key={c.id} style="flex-direction: column; align-items: stretch">
              <button type="button" class="secondary" onClick={() => void show(c.id)}>
                {new Date(c.startedAt).toLocaleString()} · {strings.messages(c.messageCount)} · {c.endReason}
              </button>
              {openPast[c.id] && (
                <ol class="messages transcript">
                  {openPast[c.id].map((m) => <li key={m.seq} class={m.kind}><span class="who">{m.senderName} · {clock(m.at)}</span><p class="body"><Linkified text={m.text} /></p></li>)}
                </ol>
              )}
            </li>
          ))}
        </ul>
        {error && <p role="alert" class="error">{error}</p>}
      </section>
    </aside>
  );
}
