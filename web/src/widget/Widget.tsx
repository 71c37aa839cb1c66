import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { Banner, useConnectionStatus } from "../lib/Banner";
import { devTokens, hostTokens, readClaims, toId, type TokenSource } from "../lib/auth";
import { describe, join } from "../lib/connect";
import { Transcript } from "../lib/Transcript";
import { others, useChat, useTyping } from "../lib/useChat";
import { strings } from "../strings";
import { Csat } from "./Csat";
import { QueueInfo } from "./QueueInfo";
import { reportUnread, usePanelVisible } from "./visibility";

const embedded = new URLSearchParams(location.search).has("embed");
const host = hostTokens();

/** The customer's chat: the panel embed.js frames, or a page of its own. */
export function Widget() {
  const [connection, setConnection] = useState<ChatConnection<"contact_center">>();
  const [me, setMe] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function start(tokens: TokenSource, sub?: string) {
    setBusy(true);
    setError("");
    try {
      const c = await join("contact_center", { channel: { type: "web", address: location.host } }, tokens);
      setMe(sub ?? "");
      setConnection(c);
    } catch (e) {
      setError(`${strings.cannotConnect} (${describe(e)})`);
    } finally {
      setBusy(false);
    }
  }

  // signed in by the host application, or a returning visitor of this browser: straight in
  useEffect(() => {
    if (host) {
      void (async () => {
        let first: string;
        try { first = await host(); } catch (e) { setError(strings.signInFailed(describe(e))); return; }
        void start(host, readClaims(first)?.sub);
      })();
      return;
    }
    const id = localStorage.getItem("cc-customer-id");
    const name = localStorage.getItem("cc-customer-name");
    if (id && name) { void start(devTokens({ sub: id, role: "customer", name }), id); }
  }, []);

  function onStart(event: Event) {
    event.preventDefault();
    const name = (new FormData(event.target as HTMLFormElement).get("name") as string).trim();
    if (!name) { return; }
    const id = localStorage.getItem("cc-customer-id") ?? `${toId(name)}-${crypto.randomUUID().slice(0, 8)}`;
    localStorage.setItem("cc-customer-id", id);
    localStorage.setItem("cc-customer-name", name);
    void start(devTokens({ sub: id, role: "customer", name }), id);
  }

  return (
    <main class="panel">
      <header class="panel-head">
        <h1>{strings.widgetTitle}</h1>
        {embedded && <button type="button" class="icon" aria-label={strings.closeChat} onClick={() => parent.postMessage({ type: "cc:close" }, "*")}>×</button>}
      </header>
      {connection
        ? <Chat connection={connection} me={me} />
        : (
          <form id="start" class="start" onSubmit={onStart}>
            <p class="muted">{strings.widgetIntro}</p>
            <label for="name">{strings.yourName}</label>
            <input id="name" name="name" required autocomplete="name" maxLength={100} />
            <button type="submit" disabled={busy}>{strings.startChat}</button>
            {error && <p role="alert" class="error">{error}</p>}
          </form>
        )}
    </main>
  );
}

function Chat({ connection, me }: { connection: ChatConnection<"contact_center">; me: string }) {
  const chat = useChat(connection, `cc-unsent-${me}`);
  const status = useConnectionStatus([connection]);
  const typing = useTyping(connection);
  const input = useRef<HTMLTextAreaElement>(null);
  const people = others(connection, me);
  const staff = people.filter((p) => p.role !== "customer" && !p.leftAt);
  const typingNames = people.filter((p) => p.typing).map((p) => p.name);
  const readByOthers = Math.max(0, ...people.map((p) => p.readSeq));
  const conversation = connection.state?.conversation;
  const lastEnded = [...chat.ended.keys()].pop();
  const active = conversation && conversation.status !== "ended" ? conversation : undefined;

  const shown = usePanelVisible();
  useEffect(() => { input.current?.focus(); }, []);

  // what the customer can see has been read; what waits unread counts on the host's launcher
  useEffect(() => {
    const mine = connection.state?.conversation?.participants?.get(me);
    const fromOthers = [...chat.messages.values()].filter((m) => m.senderId !== me && m.kind !== "event");
    const last = Math.max(0, ...fromOthers.map((m) => m.seq));
    if (shown && mine && mine.readSeq < last && connection.connected) { connection.read(last).catch(() => {}); }
    reportUnread(shown ? 0 : fromOthers.filter((m) => m.seq > (mine?.readSeq ?? 0)).length);
  }, [chat.version, chat.tick, shown]);

  function submit(event?: Event) {
    event?.preventDefault();
    const text = input.current!.value.trim();
    if (!text) { return; }
    input.current!.value = "";
    typing.stop();
    chat.send(text);
  }

  return (
    <section id="chat" class="chat">
      <Banner status={status} />
      {staff.length > 0 && <p class="with">{strings.chattingWith(staff.map((p) => p.name).join(", "))}</p>}
      <Transcript {...chat} me={me} readByOthers={readByOthers} delivered={staff.some((p) => p.connected)} onRetry={chat.retry} id="messages" className="grow" />
      {active && staff.length === 0 && <QueueInfo connection={connection} conversation={active} />}
      {!active && lastEnded && <Csat key={lastEnded} connection={connection} conversationId={lastEnded} />}
      <p id="typing" class="typing" aria-live="off" hidden={typingNames.length === 0}>{typingNames.length ? strings.typing(typingNames) : ""}</p>
      <form id="composer" class="composer" onSubmit={submit}>
        <label class="sr-only" for="text">{strings.typeMessage}</label>
        <textarea id="text" ref={input} rows={1} placeholder={strings.typeMessage} autocomplete="off" maxLength={4000}
          onInput={() => typing.input()}
          onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { submit(e); } }} />
        <button type="submit">{strings.send}</button>
      </form>
    </section>
  );
}
