/**
 * Where the pages' tokens come from. Outside development the host application mints
 * a JWT (docs/web.md) and hands it in: to the embedded widget over postMessage from
 * embed.js, to the console in the URL fragment (`agent.html#token=…`, never sent to a
 * server) with fresh ones over postMessage from the window that opened or frames it.
 * In development, /dev/token issues one for any identity.
 */

export type TokenSource = () => Promise<string>;

export interface Claims { sub: string; role: string; name?: string; teams?: string[]; exp?: number }

/** The claims of a JWT, read without verifying: only to show who is signed in (the server verifies). */
export function readClaims(token: string): Claims | undefined {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part + "=".repeat((4 - (part.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

const TOKEN_REQUEST = "cc:token-request";
const TOKEN_ANSWER = "cc:token";

/** Asks the window that framed or opened this page for a token; it answers with `{ type: "cc:token", token }`. */
function askHost(timeoutMs = 10_000): Promise<string> {
  const host = window.parent !== window ? window.parent : window.opener;
  if (!host) { return Promise.reject(new Error("no host window to ask for a token")); }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { removeEventListener("message", onMessage); reject(new Error("the host application sent no token")); }, timeoutMs);
    function onMessage(event: MessageEvent) {
      // only the window that holds us may hand us a token
      if (event.source !== host || event.data?.type !== TOKEN_ANSWER || typeof event.data.token !== "string") { return; }
      clearTimeout(timer);
      removeEventListener("message", onMessage);
      resolve(event.data.token);
    }
    addEventListener("message", onMessage);
    host.postMessage({ type: TOKEN_REQUEST }, "*");
  });
}

/** A host-provided token source, when this page was given one (fragment token, or framed by embed.js). */
export function hostTokens(): TokenSource | undefined {
  const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
  const framed = new URLSearchParams(location.search).has("host");
  if (!fragment && !framed) { return undefined; }
  // the fragment is read once and removed, so it is not left in the address bar or copied links
  if (fragment) { history.replaceState(null, "", location.pathname + location.search); }
  // every join (team room, each conversation) takes the current token while it has a minute left
  let current: string | undefined = fragment ?? undefined;
  return async () => {
    const exp = current ? readClaims(current)?.exp : undefined;
    if (current && exp !== undefined && exp - Date.now() / 1000 > 60) { return current; }
    current = await askHost();
    return current;
  };
}

/** Development tokens (GET /dev/token exists only in development). */
export function devTokens(identity: { sub: string; role: string; name: string; teams?: string[] }): TokenSource {
  const query = new URLSearchParams({ sub: identity.sub, role: identity.role, name: identity.name, teams: (identity.teams ?? []).join(",") });
  return async () => {
    const response = await fetch(`/dev/token?${query}`);
    if (!response.ok) { throw new Error(response.status === 404 ? "this server issues no development tokens: sign in through your application" : `no token (${response.status})`); }
    return (await response.json()).token;
  };
}

/** Ids as the server takes them ([A-Za-z0-9_-]{1,64}): whatever a person types becomes one. */
export function toId(text: string, fallback = "guest"): string {
  return text.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64) || fallback;
}
