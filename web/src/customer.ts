import type { Room } from "@colyseus/sdk";
import { connect, keepToken, merged, newId, readByOthers, render, slug, typingNames, typingReporter, type ShownMessage } from "./common";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let room: Room<any> | undefined;
let me = "";
const older = new Map<number, ShownMessage>();
const typing = typingReporter(() => room);

function refresh() {
  if (!room) { return; }
  const messages = merged(room, older);
  render($("messages"), messages, me, readByOthers(room, me));
  const names = typingNames(room, me);
  $("typing").hidden = names.length === 0;
  $("typing").textContent = `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…`;
  const last = messages[messages.length - 1];
  const mine = room.state.conversation?.participants?.get(me);
  // what is on the screen of a visible page has been read
  if (last && mine && document.visibilityState === "visible" && mine.readSeq < last.seq) {
    room.request("read", { seq: last.seq }).catch(() => {});
  }
}

$("start").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $<HTMLInputElement>("name").value.trim();
  me = localStorage.getItem("cc-customer-id") ?? `${slug(name)}-${crypto.randomUUID().slice(0, 8)}`;
  localStorage.setItem("cc-customer-id", me);
  const client = await connect({ sub: me, role: "customer", name });
  room = await client.joinOrCreate("contact_center", { channel: { type: "web", address: location.host } });
  keepToken(client, room);
  $("start").hidden = true;
  $("chat").hidden = false;
  const page = await room.request("history", { limit: 50 });
  for (const m of page.messages) { older.set(m.seq, m); }
  room.onStateChange(refresh);
  room.onMessage("conversation_ended", () => { older.clear(); $("status").textContent = "The conversation has ended. Write again any time."; refresh(); });
  refresh();
  $("text").focus();
});

$("text").addEventListener("input", () => typing.input());
window.addEventListener("focus", refresh);

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("text");
  const text = input.value.trim();
  if (!text || !room) { return; }
  input.value = "";
  typing.stop();
  $("status").textContent = "";
  const id = newId();
  try {
    await room.request("send", { id, text });
  } catch (e: any) {
    $("status").textContent = `Not sent: ${e.reason?.message ?? e.message}`;
    input.value = text;
  }
});
