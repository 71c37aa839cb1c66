/**
 * The widget on any site with one tag:
 *
 *   <script src="https://chat.example.com/embed.js" data-token-url="/chat/token" async></script>
 *
 * It adds a launcher bubble that opens the chat panel (an iframe of this server's
 * widget, so the host page's styles and scripts cannot reach into it; full screen on
 * phones). With `data-token-url`, the panel asks for its JWT and this script fetches it
 * from the host application (same origin as the host page, with its cookies) and
 * hands it over by postMessage to the panel's origin only. Without it (development)
 * the panel asks the visitor's name. Plain script: no imports, no globals but one.
 */
(() => {
  const script = (document.currentScript ?? document.querySelector("script[src$='embed.js']")) as HTMLScriptElement | null;
  if (!script) { return; }
  const origin = new URL(script.src, location.href).origin;
  const tokenUrl = script.dataset.tokenUrl;
  const label = script.dataset.label ?? "Chat with us";
  const css = `
    .cc-launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%; border: 0; cursor: pointer;
      background: #1d5fd1; color: #fff; box-shadow: 0 4px 14px rgba(0,0,0,.3); z-index: 2147483000; display: grid; place-items: center; padding: 0; }
    .cc-launcher[data-unread]:not([data-unread="0"])::after { content: attr(data-unread); position: absolute; top: -4px; right: -4px; min-width: 20px;
      height: 20px; border-radius: 10px; background: #b3261e; color: #fff; font: 600 12px/20px system-ui, sans-serif; text-align: center; }
    .cc-launcher:focus-visible { outline: 3px solid #1d5fd1; outline-offset: 3px; }
    .cc-frame { position: fixed; right: 20px; bottom: 92px; width: 380px; height: min(620px, calc(100vh - 112px)); border: 0; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.3); z-index: 2147483000; background: #fff; }
    .cc-frame[hidden] { display: none; }
    @media (max-width: 600px) { .cc-frame { inset: 0; width: 100%; height: 100%; border-radius: 0; } .cc-open .cc-launcher { display: none; } }`;
  const style = document.createElement("style");
  style.textContent = css;
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "cc-launcher";
  launcher.setAttribute("aria-label", label);
  launcher.setAttribute("aria-expanded", "false");
  // drawn, not an emoji: a machine without an emoji font would show a box
  const icon = (d: string) => {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  };
  const BUBBLE = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  const CROSS = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";
  launcher.replaceChildren(icon(BUBBLE));
  let frame: HTMLIFrameElement | undefined;

  function open(show: boolean) {
    if (show && !frame) {
      // created on first open: a visitor who never chats costs nothing
      frame = document.createElement("iframe");
      frame.className = "cc-frame";
      frame.title = label;
      // embed: the panel shows its own close button (the launcher is hidden on phones); host: tokens come from here
      frame.src = `${origin}/index.html?embed=1${tokenUrl ? "&host=1" : ""}`;
      frame.allow = "clipboard-write";
      document.body.append(frame);
    }
    if (!frame) { return; }
    frame.hidden = !show;
    document.documentElement.classList.toggle("cc-open", show);
    launcher.setAttribute("aria-expanded", String(show));
    launcher.replaceChildren(icon(show ? CROSS : BUBBLE));
    if (show) { frame.focus(); } else { launcher.focus(); }
    // a hidden frame's document still counts as visible: the panel marks nothing read while closed
    frame.contentWindow?.postMessage({ type: "cc:visible", visible: show }, origin);
  }

  launcher.addEventListener("click", () => open(!frame || Boolean(frame.hidden)));
  addEventListener("keydown", (e) => { if (e.key === "Escape" && frame && !frame.hidden) { open(false); } });
  addEventListener("message", async (event) => {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) { return; }
    if (event.data?.type === "cc:close") { open(false); }
    if (event.data?.type === "cc:ready") { frame.contentWindow!.postMessage({ type: "cc:visible", visible: !frame.hidden }, origin); }
    if (event.data?.type === "cc:unread" && typeof event.data.count === "number") {
      launcher.dataset.unread = String(event.data.count);
      launcher.setAttribute("aria-label", event.data.count > 0 ? `${label} (${event.data.count})` : label);
    }
    if (event.data?.type === "cc:token-request" && tokenUrl) {
      const response = await fetch(tokenUrl, { credentials: "same-origin" });
      const body = response.ok ? await response.json() : undefined;
      if (body?.token) { frame.contentWindow!.postMessage({ type: "cc:token", token: body.token }, origin); }
    }
  });
  document.head.append(style);
  document.body.append(launcher);
  (window as any).ContactCenterChat = { open: () => open(true), close: () => open(false) };
})();
