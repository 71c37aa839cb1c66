import { useEffect, useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { describe } from "../lib/connect";
import { duration } from "../lib/time";
import { strings } from "../strings";
import type { Me, Open } from "./Console";
import { CannedEditor } from "./CannedEditor";
import type { Canned } from "./canned";

interface Props {
  me: Me;
  team: ChatConnection<"team">;
  open: Open[];
  active?: string;
  unread: Record<string, number>;
  onAccept(request: { id: string }): void;
  onSelect(roomId: string): void;
  onMonitor(roomId: string, customerId: string): void;
  canned: Canned[];
  onCanned(list: Canned[]): void;
}

/** Status, the queue with waits, the agent's conversations (unread, search), and the supervisor's view of the team. */
export function Sidebar(props: Props) {
  const { me, team } = props;
  const [search, setSearch] = useState("");
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 5_000); return () => clearInterval(t); }, []);
  const state = team.state;
  const requests: any[] = [...(state?.requests?.values() ?? [])].sort((a, b) => a.createdAt - b.createdAt);
  const live: any[] = [...(state?.live?.values() ?? [])];
  const query = search.trim().toLowerCase();
  const mine = props.open.filter((o) => !query || o.customerId.toLowerCase().includes(query)
    || [...(o.connection.state?.conversation?.messages ?? [])].some((m: any) => m.text.toLowerCase().includes(query)));

  return (
    <aside class="sidebar" aria-label={strings.queue}>
      <StatusPicker me={me} team={team} />
      <section>
        <h2>{strings.queue} <span class="muted">({requests.length})</span></h2>
        {requests.length === 0 && <p class="muted">{strings.queueEmpty}</p>}
        <ul id="queue" class="list">
          {requests.map((r) => {
            const offered = r.offeredTo === me.id || r.targetUserId === me.id;
            return (
              <li key={r.id} data-request={r.id} class={[offered ? "offered" : "", r.escalated ? "escalated" : ""].join(" ")}>
                <span>
                  <strong>{r.customerId}</strong>
                  <br /><small class="muted">{r.kind}{r.fromUserId ? ` · ${r.fromUserId}` : ""}{r.escalated ? ` · ${strings.escalated}` : ""} · {strings.waiting(duration(now - r.createdAt))}{offered ? ` · ${strings.offeredToYou}` : ""}</small>
                </span>
                <button type="button" onClick={() => props.onAccept(r)} aria-label={`${strings.accept} ${r.customerId}`}>{strings.accept}</button>
              </li>
            );
          })}
        </ul>
      </section>
      <section>
        <h2>{strings.myConversations}</h2>
        <label class="sr-only" for="search">{strings.search}</label>
        <input id="search" type="search" placeholder={strings.search} value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} style="width: 100%; margin-bottom: 6px" />
        <ul id="conversations" class="list">
          {mine.map((o) => (
            <li key={o.roomId} class={o.roomId === props.active ? "active" : ""}>
              <button type="button" class="open" aria-current={o.roomId === props.active ? "true" : undefined} onClick={() => props.onSelect(o.roomId)}>
                {o.customerId}{o.monitor ? ` · ${strings.monitoring}` : ""}
              </button>
              {(props.unread[o.roomId] ?? 0) > 0 && <span class="badge" aria-label={strings.unread(props.unread[o.roomId])}>{props.unread[o.roomId]}</span>}
            </li>
          ))}
        </ul>
      </section>
      {me.role === "supervisor" && (
        <section>
          <h2>{strings.teamLive} <span class="muted">({live.length})</span></h2>
          <ul id="live" class="list">
            {live.map((l) => (
              <li key={l.roomId}>
                <span><strong>{l.customerId}</strong><br /><small class="muted">{[...l.agents].join(", ") || "—"} · {duration(now - l.startedAt)}</small></span>
                <button type="button" class="secondary" onClick={() => props.onMonitor(l.roomId, l.customerId)} aria-label={`${strings.monitor} ${l.customerId}`}>{strings.monitor}</button>
              </li>
            ))}
          </ul>
          <h2>{strings.status}</h2>
          <ul class="list">
            {[...(state?.agents?.values() ?? [])].map((a: any) => (
              <li key={a.userId}><span>{a.name || a.userId}</span><small class="muted">{strings.statuses[a.status] ?? a.status}{a.reason ? ` (${strings.notReadyReasons[a.reason] ?? a.reason})` : ""} · {a.activeConversations}/{a.maxConversations}</small></li>
            ))}
          </ul>
        </section>
      )}
      {me.role === "supervisor" && <CannedEditor team={team} replies={props.canned} onChange={props.onCanned} />}
    </aside>
  );
}

/** The agent's status; "not ready" asks why (the desk may set it too, e.g. after a missed offer). */
function StatusPicker({ me, team }: { me: Me; team: ChatConnection<"team"> }) {
  const agent = team.state?.agents?.get(me.id);
  const [error, setError] = useState("");
  const [reason, setReason] = useState("break");
  const current: string = agent?.status ?? "available";

  async function change(status: string, why?: string) {
    setError("");
    try {
      await team.request("status", (status === "not_ready" ? { status, reason: why ?? reason } : { status }) as any);
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <section class="row">
      <label for="agentStatus">{strings.status}</label>
      <select id="agentStatus" value={current} onChange={(e) => void change((e.target as HTMLSelectElement).value)}>
        {Object.entries(strings.statuses).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
      </select>
      {current === "not_ready" && (
        <>
          <label for="notReadyReason" class="sr-only">{strings.reason}</label>
          <select id="notReadyReason" value={agent?.reason || reason} onChange={(e) => { const r = (e.target as HTMLSelectElement).value; setReason(r); void change("not_ready", r); }}>
            {Object.entries(strings.notReadyReasons).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </>
      )}
      {error && <p role="alert" class="error">{error}</p>}
    </section>
  );
}
