import { Client, type Room } from "@colyseus/sdk";

/** Development tokens from the server (GET /dev/token exists only in development). */
async function devToken(query: URLSearchParams): Promise<string> {
  const response = await fetch(`/dev/token?${query}`);
  if (!response.ok) { throw new Error(`no development token: ${response.status} ${await response.text()}`); }
  return (await response.json()).token;
}

const identities = new WeakMap<Client, URLSearchParams>();

export async function connect(identity: { sub: string; role: string; name: string; teams?: string[] }): Promise<Client> {
  const query = new URLSearchParams({ sub: identity.sub, role: identity.role, name: identity.name, teams: (identity.teams ?? []).join(",") });
  const client = new Client(location.origin);
  client.auth.token = await devToken(query);
  identities.set(client, query);
  return client;
}

/** A connection lives no longer than its token (8 h here): when warned, get a fresh one and refresh. */
export function keepToken(client: Client, room: Room<any>) {
  room.onMessage("token_expiring", async () => {
    const query = identities.get(client);
    if (!query) { return; }
    client.auth.token = await devToken(query);
    await room.request("refresh", { token: client.auth.token }).catch(() => { /* closed at exp (4003): join again */ });
  });
}

export function newId(prefix = "m") {
  return `${prefix}-${crypto.randomUUID()}`;
}

export function slug(text: string) {
  return text.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "guest";
}

export interface ShownMessage { seq: number; senderId: string; senderName: string; senderRole: string; kind: string; text: string }

/** Renders messages by seq into a list; returns the highest seq shown. */
export function render(list: HTMLOListElement, messages: ShownMessage[], me: string, readByOthers: number) {
  list.replaceChildren(...messages.map((m) => {
    const li = document.createElement("li");
    li.dataset.seq = String(m.seq);
    li.className = [m.senderId === me ? "mine" : "", m.kind === "note" ? "note" : "", m.kind === "event" ? "event" : ""].join(" ").trim();
    if (m.kind !== "event") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = m.kind === "note" ? `${m.senderName} (note)` : m.senderName;
      li.append(who);
    }
    li.append(document.createTextNode(m.text));
    if (m.senderId === me && m.seq <= readByOthers) {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      receipt.textContent = "✓✓ read";
      li.append(receipt);
    }
    return li;
  }));
  list.scrollTop = list.scrollHeight;
}

/** Everything the room's state holds plus what `history` returned, by seq. */
export function merged(room: Room<any>, older: Map<number, ShownMessage>): ShownMessage[] {
  const all = new Map(older);
  const conversation = room.state.conversation;
  for (const m of [...(conversation?.messages ?? []), ...(conversation?.notes ?? [])]) { all.set(m.seq, m); }
  return [...all.values()].sort((a, b) => a.seq - b.seq);
}

/** Names of the other participants who are typing. */
export function typingNames(room: Room<any>, me: string): string[] {
  return [...(room.state.conversation?.participants?.values() ?? [])]
    .filter((p: any) => p.userId !== me && p.typing).map((p: any) => p.name);
}

/** Highest seq any other participant has read. */
export function readByOthers(room: Room<any>, me: string): number {
  return Math.max(0, ...[...(room.state.conversation?.participants?.values() ?? [])]
    .filter((p: any) => p.userId !== me).map((p: any) => p.readSeq));
}

/** Sends `typing` true while the user types and false after a pause. */
export function typingReporter(room: () => Room<any> | undefined) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let typing = false;
  const set = (value: boolean) => {
    if (value === typing) { return; }
    typing = value;
    room()?.request("typing", { typing: value }).catch(() => {});
  };
  return {
    input() { set(true); clearTimeout(timer); timer = setTimeout(() => set(false), 2_000); },
    stop() { clearTimeout(timer); set(false); },
  };
}
