import { useEffect, useState } from "preact/hooks";
import type { ChatConnection } from "../../../client";
import { strings } from "../strings";

type Status = { kind: "ok" } | { kind: "lost"; attempt: number } | { kind: "back" } | { kind: "closed"; why: string };

/**
 * The connection as people should see it: a banner while the library rejoins (the
 * page keeps working: what is typed waits in the outbox), a short "connected again",
 * and a reload offer when the connection cannot come back.
 */
export function useConnectionStatus(connections: Array<ChatConnection<any> | undefined>): Status {
  const [status, setStatus] = useState<Status>({ kind: "ok" });
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const down = new Set<ChatConnection<any>>();
    const offs = connections.filter(Boolean).flatMap((c) => [
      c!.on("lost", () => { down.add(c!); setStatus({ kind: "lost", attempt: 0 }); }),
      c!.on("retrying", ({ attempt }) => setStatus({ kind: "lost", attempt })),
      c!.on("back", () => {
        down.delete(c!);
        if (down.size > 0) { return; }
        setStatus({ kind: "back" });
        clearTimeout(timer);
        timer = setTimeout(() => setStatus((s) => (s.kind === "back" ? { kind: "ok" } : s)), 3_000);
      }),
      c!.on("closed", ({ reason }) => { if (reason !== "left") { setStatus({ kind: "closed", why: reason }); } }),
    ]);
    return () => { offs.forEach((off) => off()); clearTimeout(timer); };
  }, connections);
  return status;
}

export function Banner({ status }: { status: Status }) {
  if (status.kind === "ok") { return <div class="banner" role="status" aria-live="polite" hidden />; }
  const text = status.kind === "lost"
    ? (status.attempt > 0 ? strings.reconnectingAttempt(status.attempt) : strings.reconnecting)
    : status.kind === "back" ? strings.reconnected : strings.connectionClosed;
  return (
    <div class={`banner ${status.kind}`} role="status" aria-live="polite" data-state={status.kind}>
      {text}
      {status.kind === "closed" && <button type="button" onClick={() => location.reload()}>{strings.reload}</button>}
    </div>
  );
}
