import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatConnection, ChatMessage } from "../../../client";
import { describe, newId } from "./connect";

export interface Pending { id: string; text: string; kind: "text" | "note"; failed?: string }

/** Stored unsent messages survive a reload; they are sent again with their ids (the server stores an id once). */
function loadPending(key: string | undefined): Pending[] {
  if (!key) { return []; }
  try { return JSON.parse(localStorage.getItem(key) ?? "[]"); } catch { return []; }
}

/**
 * One room's transcript as the pages show it: every message the library delivered,
 * history pages, the notes of the state (agents), which conversations ended and why,
 * and the messages typed but not stored yet. Messages never leave when a conversation
 * ends: the next one continues below a divider.
 */
export function useChat(connection: ChatConnection<any> | undefined, pendingKey?: string) {
  const messages = useRef(new Map<number, ChatMessage>()).current;
  const ended = useRef(new Map<string, string>()).current;
  const [pending, setPending] = useState<Pending[]>(() => loadPending(pendingKey));
  const [version, setVersion] = useState(0);
  const [tick, setTick] = useState(0);
  const bump = () => setVersion((v) => v + 1);

  useEffect(() => { if (pendingKey) { localStorage.setItem(pendingKey, JSON.stringify(pending)); } }, [pending, pendingKey]);

  useEffect(() => {
    if (!connection) { return; }
    const add = (m: ChatMessage, conversationId?: string) => {
      if (messages.has(m.seq)) { return false; }
      messages.set(m.seq, { ...m, conversationId: m.conversationId ?? conversationId });
      return true;
    };
    const stored = (ids: Set<string>) => setPending((list) => (list.some((p) => ids.has(p.id)) ? list.filter((p) => !ids.has(p.id)) : list));
    const onState = (state: any) => {
      const conversation = state?.conversation;
      let changed = false;
      for (const note of conversation?.notes ?? []) { changed = add({ ...note.toJSON?.() ?? note }, conversation.id) || changed; }
      // the desk keeps an ended conversation in the state with status "ended" until the next starts
      if (conversation?.status === "ended" && !ended.has(conversation.id)) { ended.set(conversation.id, conversation.endReason || ""); changed = true; }
      if (changed) { bump(); }
      setTick((t) => t + 1);
    };
    const offs = [
      connection.on("message", (m) => { if (add(m)) { stored(new Set([m.id])); bump(); } }),
      connection.on("state", onState),
      connection.on("conversation_ended", ({ conversationId, reason }) => { ended.set(conversationId, reason); bump(); }),
    ];
    onState(connection.state);
    // what came before the state's window; a page opened after the end shows the ended conversation
    connection.history({ limit: 50 }).then((page) => {
      for (const m of page.messages) { add(m, page.conversationId ?? undefined); }
      if (page.conversationId && !connection.state?.conversation && !ended.has(page.conversationId)) { ended.set(page.conversationId, ""); }
      bump();
    }, () => { /* the live window is still shown */ });
    // messages typed before a reload go again, with their ids
    for (const p of loadPending(pendingKey)) { if (!p.failed) { void deliver(p); } }
    return () => offs.forEach((off) => off());
  }, [connection]);

  async function deliver(p: Pending) {
    if (!connection) { return; }
    try {
      await connection.send(p.text, { id: p.id, kind: p.kind });
      setPending((list) => list.filter((x) => x.id !== p.id));
    } catch (e) {
      setPending((list) => list.map((x) => (x.id === p.id ? { ...x, failed: describe(e) } : x)));
    }
  }

  return {
    messages, ended, pending, version, tick,
    /** Sends through the library's outbox; shown as "sending" until stored. */
    send(text: string, kind: "text" | "note" = "text") {
      const p: Pending = { id: newId(), text, kind };
      setPending((list) => [...list, p]);
      void deliver(p);
    },
    retry(id: string) {
      const p = pending.find((x) => x.id === id);
      if (!p) { return; }
      const again = { ...p, failed: undefined };
      setPending((list) => list.map((x) => (x.id === id ? again : x)));
      void deliver(again);
    },
    /** Shows history pages fetched elsewhere (past conversations stay separate). */
    refresh: bump,
  };
}

/** Participants other than `me` of the state's conversation. */
export function others(connection: ChatConnection<any> | undefined, me: string): any[] {
  return [...(connection?.state?.conversation?.participants?.values() ?? [])].filter((p: any) => p.userId !== me);
}

/** Sends `typing` true while the user types and false after a pause or a send. */
export function useTyping(connection: ChatConnection<any> | undefined) {
  const state = useRef<{ typing: boolean; timer?: ReturnType<typeof setTimeout> }>({ typing: false }).current;
  const set = (value: boolean) => {
    if (value === state.typing || !connection?.connected) { return; }
    state.typing = value;
    connection.typing(value).catch(() => {});
  };
  return {
    input() { set(true); clearTimeout(state.timer); state.timer = setTimeout(() => set(false), 2_000); },
    stop() { clearTimeout(state.timer); set(false); },
  };
}
