import { useEffect, useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { describe } from "../lib/connect";
import { Transcript } from "../lib/Transcript";
import { others, useChat } from "../lib/useChat";
import { strings } from "../strings";
import { Composer } from "./Composer";
import type { Me, Open } from "./Console";
import { CustomerPanel } from "./CustomerPanel";
import type { Canned } from "./canned";

type Dialog = "none" | "transfer" | "invite" | "end";

/** One open conversation: actions, transcript with notes, composer, and the customer beside it. */
export function Pane({ me, item, team, hidden, wrapUpReasons, canned, onUnread, onClose }: {
  me: Me; item: Open; team: ChatConnection<"team">; hidden: boolean; wrapUpReasons: string[]; canned: Canned[]; onUnread(n: number): void; onClose(): void;
}) {
  const { connection } = item;
  const chat = useChat(connection);
  const [dialog, setDialog] = useState<Dialog>("none");
  const [monitor, setMonitor] = useState(item.monitor);
  const [notice, setNotice] = useState("");
  const conversation = connection.state?.conversation;
  const people = others(connection, me.id);
  const typingNames = people.filter((p) => p.typing).map((p) => p.name);
  const readByOthers = Math.max(0, ...people.filter((p) => p.role === "customer").map((p) => p.readSeq));
  const customerName = people.find((p) => p.role === "customer")?.name ?? item.customerId;
  const ended = !conversation || conversation.status === "ended" || chat.ended.has(conversation.id);

  // unread: messages of others above this agent's read horizon; read once the pane is in front
  useEffect(() => {
    const mine = conversation?.participants?.get(me.id);
    const horizon = mine?.readSeq ?? 0;
    const fresh = [...chat.messages.values()].filter((m) => m.senderId !== me.id && m.seq > horizon && m.kind !== "event");
    const last = Math.max(0, ...fresh.map((m) => m.seq));
    if (!hidden && mine && last > 0 && document.visibilityState === "visible" && connection.connected) { connection.read(last).catch(() => {}); }
    onUnread(hidden && !monitor ? fresh.length : 0);
  }, [chat.version, chat.tick, hidden]);

  async function act(run: () => Promise<unknown>, done?: string) {
    setNotice("");
    try {
      await run();
      setDialog("none");
      if (done) { setNotice(done); }
    } catch (e) {
      setNotice(strings.failed(describe(e)));
    }
  }

  const agents: any[] = [...(team.state?.agents?.values() ?? [])].filter((a) => a.userId !== me.id && a.role !== "bot");
  const target = (value: string) => (value.startsWith("team:") ? { toTeamId: value.slice(5) } : { toUserId: value });

  return (
    <div class="pane" data-room={item.roomId} hidden={hidden}>
      <div class="pane-main">
        <div class="toolbar">
          <strong class="title">{customerName}{monitor ? ` · ${strings.monitoring}` : ""}</strong>
          {!ended && !monitor && <button type="button" class="secondary transfer" onClick={() => setDialog(dialog === "transfer" ? "none" : "transfer")}>{strings.transfer}</button>}
          {!ended && !monitor && <button type="button" class="secondary invite" onClick={() => setDialog(dialog === "invite" ? "none" : "invite")}>{strings.invite}</button>}
          {!ended && monitor && <button type="button" class="barge" onClick={() => void act(() => connection.barge().then(() => setMonitor(false)))}>{strings.barge}</button>}
          {!ended && !monitor && <button type="button" class="danger end" onClick={() => setDialog(dialog === "end" ? "none" : "end")}>{strings.end}</button>}
          {/* `start`: a follow-up on purpose, in a customer's room with no active conversation (docs/protocol.md) */}
          {ended && !monitor && item.roomKind === "contact_center" && conversation?.status !== "queued" && (
            <button type="button" class="start-conversation" onClick={() => void act(() => connection.start(), strings.conversationStarted)}>{strings.startConversation}</button>
          )}
          {(ended || monitor) && <button type="button" class="secondary close" onClick={onClose}>{strings.closeTab}</button>}
        </div>
        {dialog === "transfer" && (
          <TargetForm className="transfer-form" label={strings.transferTo} agents={agents}
            onSubmit={(to) => act(() => connection.transfer({ ...target(to), reason: "transfer" }).then(() => connection.leave()).then(onClose), strings.transferred(to))}
            onCancel={() => setDialog("none")} />
        )}
        {dialog === "invite" && (
          <TargetForm className="invite-form" label={strings.inviteWho} agents={agents}
            onSubmit={(to) => act(() => connection.invite({ userId: to.replace(/^team:/, "") }), strings.invited(to))}
            onCancel={() => setDialog("none")} />
        )}
        {dialog === "end" && <WrapUp reasons={wrapUpReasons.length ? wrapUpReasons : strings.wrapUpReasons} onSubmit={(reason) => act(() => connection.end(reason))} onCancel={() => setDialog("none")} />}
        {notice && <p role="status" class="muted" style="margin: 4px 8px">{notice}</p>}
        <Transcript {...chat} me={me.id} readByOthers={readByOthers} delivered={people.some((p) => p.role === "customer" && p.connected)}
          onRetry={chat.retry} className="grow" shown={!hidden} />
        <p class="typing" hidden={typingNames.length === 0}>{typingNames.length ? strings.typing(typingNames) : ""}</p>
        <Composer connection={connection} chat={chat} monitor={monitor} disabled={ended && !monitor}
          values={{ "customer.name": customerName, "customer.id": item.customerId, "agent.name": me.name }} cannedReplies={canned} />
      </div>
      <CustomerPanel connection={connection} customerId={item.customerId} />
    </div>
  );
}

function TargetForm({ label, agents, className, onSubmit, onCancel }: {
  label: string; agents: any[]; className: string; onSubmit(to: string): void; onCancel(): void;
}) {
  const [to, setTo] = useState(agents.find((a) => a.connected)?.userId ?? "");
  const id = `${className}-to`;
  return (
    <form class={`dialog ${className}`} onSubmit={(e) => { e.preventDefault(); if (to.trim()) { onSubmit(to.trim()); } }}>
      <label for={id}>{label}</label>
      <input id={id} list={`${id}-list`} value={to} placeholder={strings.agentOrTeam} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
      <datalist id={`${id}-list`}>{agents.map((a) => <option key={a.userId} value={a.userId}>{a.name} · {strings.statuses[a.status] ?? a.status}</option>)}</datalist>
      <button type="submit">{label}</button>
      <button type="button" class="secondary" onClick={onCancel}>{strings.cancel}</button>
    </form>
  );
}

/** The end asks for a wrap-up reason: it is the `end` request's reason, stored with the conversation. */
function WrapUp({ reasons, onSubmit, onCancel }: { reasons: string[]; onSubmit(reason: string): void; onCancel(): void }) {
  const [reason, setReason] = useState(reasons[0]);
  return (
    <form class="dialog wrapup" onSubmit={(e) => { e.preventDefault(); onSubmit(reason); }}>
      <label for="wrapup-reason">{strings.wrapUp}</label>
      <select id="wrapup-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
        {reasons.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
      <button type="submit" class="danger">{strings.confirmEnd}</button>
      <button type="button" class="secondary" onClick={onCancel}>{strings.cancel}</button>
    </form>
  );
}
