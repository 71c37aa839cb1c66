import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatConnection, TeamRequest } from "../../../client";
import { devTokens, hostTokens, readClaims, toId, type TokenSource } from "../lib/auth";
import { Banner, useConnectionStatus } from "../lib/Banner";
import { describe, join } from "../lib/connect";
import { chooseTheme, storedTheme, type Theme } from "../lib/theme";
import { strings } from "../strings";
import { canNotify, notify, ping, setTitle, unlockSound } from "./alerts";
import { Pane } from "./Pane";
import { Sidebar } from "./Sidebar";
import type { Canned } from "./canned";

export interface Me { id: string; name: string; role: string; team: string; tokens: TokenSource }
export interface Open { roomId: string; roomKind: string; customerId: string; connection: ChatConnection<any>; monitor: boolean }

const host = hostTokens();

/** The agent console: sign-in, then the desk (queue, conversations, the open one, the customer). */
export function Console() {
  const [me, setMe] = useState<Me>();
  const [team, setTeam] = useState<ChatConnection<"team">>();
  const [error, setError] = useState("");

  async function signIn(identity: Omit<Me, "tokens">, tokens: TokenSource) {
    setError("");
    try {
      const connection = await join("team", { teamId: identity.team }, tokens);
      setMe({ ...identity, tokens });
      setTeam(connection);
    } catch (e) {
      setError(strings.signInFailed(describe(e)));
    }
  }

  useEffect(() => {
    if (!host) {
      // development: a reload signs in again as the same person (the tab's own session)
      const saved = sessionStorage.getItem("cc-agent");
      if (saved) { const identity = JSON.parse(saved); void signIn(identity, devTokens({ sub: identity.id, role: identity.role, name: identity.name, teams: [identity.team] })); }
      return;
    }
    void (async () => {
      let first: string;
      try { first = await host(); } catch (e) { setError(strings.signInFailed(describe(e))); return; }
      const claims = readClaims(first);
      if (claims) { await signIn({ id: claims.sub, name: claims.name ?? claims.sub, role: claims.role, team: claims.teams?.[0] ?? "support" }, host); }
    })();
  }, []);

  function onLogin(event: Event) {
    event.preventDefault();
    unlockSound();
    const form = new FormData(event.target as HTMLFormElement);
    const name = String(form.get("agentId")).trim();
    const id = toId(name, "");
    const teamId = toId(String(form.get("team")), "support");
    const role = String(form.get("role") ?? "agent");
    if (!id) { setError(strings.signInFailed(strings.agentIdHint)); return; }
    sessionStorage.setItem("cc-agent", JSON.stringify({ id, name, role, team: teamId }));
    void signIn({ id, name, role, team: teamId }, devTokens({ sub: id, role, name, teams: [teamId] }));
  }

  if (!me || !team) {
    return (
      <main>
        <header class="console-head"><h1>{strings.consoleTitle}</h1><ThemePicker /></header>
        {!host && (
          <form id="login" class="login" onSubmit={onLogin}>
            <label for="agentId">{strings.agentName}</label>
            <input id="agentId" name="agentId" required autocomplete="username" maxLength={64} aria-describedby="agentIdHint" />
            <small id="agentIdHint" class="muted">{strings.agentIdHint}</small>
            <label for="team">{strings.team}</label>
            <input id="team" name="team" required defaultValue="support" maxLength={64} />
            <label for="role">{strings.role}</label>
            <select id="role" name="role"><option value="agent">{strings.roleAgent}</option><option value="supervisor">{strings.roleSupervisor}</option></select>
            <button type="submit">{strings.signIn}</button>
            {error && <p role="alert" class="error">{error}</p>}
          </form>
        )}
        {host && error && <p role="alert" class="error login">{error}</p>}
      </main>
    );
  }
  return <Desk me={me} team={team} />;
}

function ThemePicker() {
  const [theme, setTheme] = useState<Theme>(storedTheme());
  return (
    <label class="row">{strings.theme}
      <select value={theme} onChange={(e) => { const t = (e.target as HTMLSelectElement).value as Theme; setTheme(t); chooseTheme(t); }}>
        {Object.entries(strings.themes).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
      </select>
    </label>
  );
}

function Desk({ me, team }: { me: Me; team: ChatConnection<"team"> }) {
  const [, setTick] = useState(0);
  const [open, setOpen] = useState<Open[]>([]);
  const [active, setActive] = useState<string>();
  const [unread, setUnread] = useState<Record<string, number>>({});
  const [error, setError] = useState("");
  const [wrapUp, setWrapUp] = useState<{ reasons: string[]; required: boolean }>({ reasons: [], required: false });
  const [canned, setCanned] = useState<Canned[]>([]);
  useEffect(() => {
    team.request("wrap_up_reasons", {}).then(setWrapUp, () => { /* an older server: the built-in suggestions */ });
    team.request("canned", {}).then((answer) => setCanned(answer.replies), () => { /* none */ });
  }, [team]);
  // rooms opened or being opened, known at once (state listeners see no stale list)
  const known = useRef(new Set<string>()).current;
  const restored = useRef(false);
  const alerted = useRef(new Set<string>()).current;

  /** One ping per offer: from the `offer` message, or from the state when the message came before this page listened. */
  function alert(request: { id: string; customerId: string; reason?: string }) {
    if (alerted.has(request.id)) { return; }
    alerted.add(request.id);
    ping();
    notify(strings.offerTitle(request.customerId), request.reason ?? "", () => void accept(request));
  }
  const status = useConnectionStatus([team, ...open.map((o) => o.connection)]);

  async function openRoom(roomId: string, customerId: string, monitor = false, roomKind = "contact_center") {
    if (known.has(roomId)) { setActive(roomId); return; }
    known.add(roomId);
    try {
      const connection = roomKind === "private"
        ? await join("private", { roomId }, me.tokens)
        : await join("contact_center", monitor ? { customerId, mode: "monitor" } : { customerId }, me.tokens);
      setOpen((list) => [...list, { roomId, roomKind, customerId, connection, monitor }]);
      setActive(roomId);
    } catch (e) {
      known.delete(roomId);
      setError(strings.failed(describe(e)));
    }
  }

  async function accept(request: { id: string }) {
    setError("");
    try {
      const answer = await team.accept(request.id);
      await openRoom(answer.roomId, answer.customerId, false, answer.roomKind);
    } catch (e) {
      setError(strings.failed(describe(e)));
    }
  }

  function close(roomId: string) {
    const item = open.find((o) => o.roomId === roomId);
    void item?.connection.leave();
    known.delete(roomId);
    setOpen((list) => list.filter((o) => o.roomId !== roomId));
    setActive((current) => (current === roomId ? open.find((o) => o.roomId !== roomId)?.roomId : current));
  }

  useEffect(() => {
    const onState = (state: any) => {
      setTick((t) => t + 1);
      for (const r of state?.requests?.values() ?? []) { if (r.offeredTo === me.id || r.targetUserId === me.id) { alert(r); } }
      // after a reload: the conversations the team's live map lists this agent in open again
      // (once, from the first full state: a pane closed later stays closed)
      if (restored.current || !state?.live) { return; }
      restored.current = true;
      for (const live of state.live.values()) {
        if ([...live.agents].includes(me.id) && !known.has(live.roomId)) { void openRoom(live.roomId, live.customerId); }
      }
    };
    // the state the join brought may have come before this listener
    onState(team.state);
    const offs = [
      team.on("state", onState),
      team.on("offer", (request: TeamRequest) => alert(request)),
      team.on("escalated", (request: TeamRequest) => { if (me.role === "supervisor") { ping(); } }),
    ];
    return () => offs.forEach((off) => off());
  }, [team, open]);

  const requests: any[] = [...(team.state?.requests?.values() ?? [])];
  const offers = requests.filter((r) => r.offeredTo === me.id || r.targetUserId === me.id).length;
  const unreadTotal = Object.values(unread).reduce((a, b) => a + b, 0);
  useEffect(() => setTitle(strings.consoleTitle, offers + unreadTotal), [offers, unreadTotal]);

  return (
    <>
      <header class="console-head">
        <h1>{strings.consoleTitle}</h1>
        <span id="whoami" class="muted">{me.name} · {me.team} · {me.role === "supervisor" ? strings.roleSupervisor : strings.roleAgent}</span>
        {canNotify() && <button type="button" class="secondary" onClick={() => void Notification.requestPermission().then(() => setTick((t) => t + 1))}>{strings.notificationsOn}</button>}
        <ThemePicker />
      </header>
      <Banner status={status} />
      {error && <p role="alert" class="error" style="padding: 0 12px">{error}</p>}
      <div id="desk" class="desk">
        <Sidebar me={me} team={team} open={open} active={active} unread={unread}
          onAccept={accept} onSelect={setActive} onMonitor={(roomId, customerId) => void openRoom(roomId, customerId, true)}
          canned={canned} onCanned={setCanned} />
        <section class="work" aria-label={strings.myConversations}>
          <div id="panes" class="grow">
            {open.length === 0 && <p class="empty">{strings.noConversations}</p>}
            {open.map((o) => (
              <Pane key={o.roomId} me={me} item={o} team={team} hidden={o.roomId !== active} wrapUpReasons={wrapUp.reasons} canned={canned}
                onUnread={(n) => setUnread((u) => (u[o.roomId] === n ? u : { ...u, [o.roomId]: n }))}
                onClose={() => close(o.roomId)} />
            ))}
          </div>
        </section>
      </div>
    </>
  );
}
