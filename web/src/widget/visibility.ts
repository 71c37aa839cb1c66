import { useEffect, useState } from "preact/hooks";

const embedded = new URLSearchParams(location.search).has("embed");

/**
 * Whether the customer can see the panel: the page is visible and, when embed.js
 * frames it, the host's panel is open (a hidden frame's document still says
 * "visible"). The host says so with `cc:visible`; only the framing window is heard.
 */
export function usePanelVisible(): boolean {
  const [open, setOpen] = useState(true);
  const [visible, setVisible] = useState(document.visibilityState === "visible");
  useEffect(() => {
    const onVisibility = () => setVisible(document.visibilityState === "visible");
    const onMessage = (event: MessageEvent) => {
      if (event.source === window.parent && event.data?.type === "cc:visible") { setOpen(Boolean(event.data.visible)); }
    };
    document.addEventListener("visibilitychange", onVisibility);
    addEventListener("message", onMessage);
    if (embedded) { parent.postMessage({ type: "cc:ready" }, "*"); }
    return () => { document.removeEventListener("visibilitychange", onVisibility); removeEventListener("message", onMessage); };
  }, []);
  return open && visible;
}

/** Tells the host page how many messages wait unread, for the launcher's badge. */
export function reportUnread(count: number) {
  if (embedded) { parent.postMessage({ type: "cc:unread", count }, "*"); }
}
