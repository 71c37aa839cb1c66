import type { Client, Room } from "@colyseus/sdk";
import { connect, keepToken, merged, newId, readByOthers, render, typingNames, typingReporter, type ShownMessage } from "./common";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let client: Client;
let desk: Room<any>;
let me = "";

interface Tab { roomId: string; room: Room<any>; pane: HTMLElement; button: HTMLButtonElement; older: Map<number, ShownMessage> }
const tabs = new Map<string, Tab>();

function renderQueue() {
  const list = $("queue");
  const requests = [...desk.state.requests.values()].sort((a: any, b: any) => a.createdAt - b.createdAt);
  list.replaceChildren(...requests.map((r: any) => {
    const li = document.createElement("li");
    li.className = r.escalated ? "escalated" : "";
    li.dataset.request = r.id;
    const label = document.createElement("span");
    label.textContent = `${r.customerId} · ${r.kind}${r.targetUserId ? ` for ${r.targetUserId}` : ""}${r.escalated ? " · escalated" : ""}`;
    const accept = document.createElement("button");
    accept.textContent = "Accept";
    accept.addEventListener("click", () => void acceptRequest(r.id));
    li.append(label, accept);
    return li;
  }));
}

async function acceptRequest(requestId: string) {
  try {
    const answer = await desk.request("accept", { requestId });
    await openTab(answer.roomKind === "private" ? { roomId: answer.roomId } : { customerId: answer.customerId }, answer.roomId, answer.customerId);
  } catch (e: any) {
    alert(e.reason?.message ?? e.message);
  }
}

function activate(roomId: string) {
  for (const tab of tabs.values()) {
    tab.pane.hidden = tab.roomId !== roomId;
    tab.button.classList.toggle("active", tab.roomId === roomId);
  }
}

async function openTab(options: Record<string, string>, roomId: string, title: string) {
  if (tabs.has(roomId)) { activate(roomId); return; }
  const room = await client.joinOrCreate(options.roomId ? "private" : "contact_center", options);
  keepToken(client, room);
  const pane = ($("pane") as HTMLTemplateElement).content.firstElementChild!.cloneNode(true) as HTMLElement;
  pane.dataset.room = roomId;
  pane.querySelector(".title")!.textContent = title;
  $("panes").append(pane);
  const button = document.createElement("button");
  button.textContent = title;
  button.dataset.room = roomId;
  button.addEventListener("click", () => activate(roomId));
  $("tabs").append(button);
  const tab: Tab = { roomId, room, pane, button, older: new Map() };
  tabs.set(roomId, tab);

  const list = pane.querySelector<HTMLOListElement>(".messages")!;
  const typingLine = pane.querySelector<HTMLElement>(".typing")!;
  const refresh = () => {
    render(list, merged(room, tab.older), me, readByOthers(room, me));
    const names = typingNames(room, me);
    typingLine.hidden = names.length === 0;
    typingLine.textContent = `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…`;
    const last = room.state.lastSeq;
    const mine = room.state.conversation?.participants?.get(me);
    if (mine && !tab.pane.hidden && mine.readSeq < last) { room.request("read", { seq: last }).catch(() => {}); }
  };
  const page = await room.request("history", { limit: 50 });
  for (const m of page.messages) { tab.older.set(m.seq, m); }
  room.onStateChange(refresh);
  room.onMessage("conversation_ended", () => { tab.older.clear(); refresh(); });

  const typing = typingReporter(() => room);
  const input = pane.querySelector<HTMLInputElement>(".text")!;
  input.addEventListener("input", () => typing.input());
  pane.querySelector("form")!.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { return; }
    const note = pane.querySelector<HTMLInputElement>(".note")!.checked;
    input.value = "";
    typing.stop();
    await room.request("send", { id: newId(), text, kind: note ? "note" : "text" }).catch((e: any) => alert(e.reason?.message ?? e.message));
  });
  pane.querySelector(".end")!.addEventListener("click", () => {
    room.request("end", { reason: "resolved" }).catch((e: any) => alert(e.reason?.message ?? e.message));
  });
  pane.querySelector(".history")!.addEventListener("click", async () => {
    const past = pane.querySelector<HTMLElement>(".past")!;
    const { conversations } = await room.request("conversations", { limit: 20 });
    past.hidden = false;
    past.replaceChildren(...conversations.map((c: any) => {
      const item = document.createElement("div");
      const open = document.createElement("button");
      open.className = "secondary";
      open.textContent = `${new Date(c.startedAt).toLocaleString()} · ${c.messageCount} messages · ${c.endReason}`;
      const transcript = document.createElement("ol");
      transcript.className = "messages transcript";
      open.addEventListener("click", async () => {
        const { messages } = await room.request("history", { conversationId: c.id, limit: 200 });
        render(transcript, messages, me, 0);
      });
      item.append(open, transcript);
      return item;
    }));
  });
  activate(roomId);
  refresh();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  me = $<HTMLInputElement>("agentId").value.trim();
  const team = $<HTMLInputElement>("team").value.trim();
  client = await connect({ sub: me, role: "agent", name: me, teams: [team] });
  desk = await client.joinOrCreate("team", { teamId: team });
  keepToken(client, desk);
  $("login").hidden = true;
  $("desk").hidden = false;
  $("whoami").textContent = `${me} · ${team}`;
  desk.onStateChange(renderQueue);
  renderQueue();
  $("agentStatus").addEventListener("change", () => {
    desk.request("status", { status: $<HTMLSelectElement>("agentStatus").value }).catch(() => {});
  });
});
