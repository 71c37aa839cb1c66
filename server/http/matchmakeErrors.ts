import { ErrorCode, matchMaker } from "@colyseus/core";
import { alwaysHeld, leaseWithin, type Lease } from "../cluster/lease";
import { ChatError, isJoinRefusal, joinRefusal } from "../errors";
import { logger } from "../logger";
import type { DependencyProbes } from "./probes";

/**
 * What a matchmaking request (`POST /matchmake/<method>/<room>`) answers during an
 * outage. Colyseus turns whatever its matchmaker throws into the HTTP answer in
 * `controller.invokeMethod` (a driver's error becomes `{ code: 523, error: "<the
 * driver's text>" }`, e.g. ioredis' "Stream isn't writeable…"), and a frozen Redis
 * makes the call hang. This wraps that one method:
 *
 * - while the probes (server/http/probes.ts) say Redis or the store is down, a join
 *   is refused at once with `unavailable`;
 * - while the process does not hold its lease (it lapsed during an outage and the
 *   next renewal has not come yet), a join waits for it up to `leaseWaitMs`, then is
 *   refused with `unavailable`: such a process starts no actor (rooms/ownership.ts),
 *   and a join let through would only meet the actor's refused start;
 * - a call unanswered after `timeoutMs` is refused with `unavailable` (what it was
 *   doing may still finish: a seat nobody claims expires by itself);
 * - an error that is not one of our refusals is answered `unavailable` when a fresh
 *   probe finds a dependency down, and is left as it is otherwise (a real fault).
 *
 * Our own refusals (rooms/auth.ts) and Colyseus' own codes pass through unchanged.
 */
export function mapMatchmakeErrors(probes: DependencyProbes, timeoutMs: number, lease: Lease = alwaysHeld, leaseWaitMs = 0) {
  const controller = matchMaker.controller as { invokeMethod: (...args: any[]) => Promise<any>; [WRAPPED]?: (...args: any[]) => Promise<any> };
  // the controller is Colyseus' one per process: a second node in the process wraps the original, not the wrapper
  controller[WRAPPED] ??= controller.invokeMethod;
  const invoke = controller[WRAPPED]!.bind(controller);
  controller.invokeMethod = async (...args: any[]) => {
    const down = probes.down();
    if (down) { throw unavailable(`${down} is down`); }
    const startedAt = Date.now(); // the wait for the lease counts against the timeout
    if (!(await leaseWithin(lease, Math.min(leaseWaitMs, timeoutMs)))) { throw unavailable("this process does not hold its lease"); }
    let timer: NodeJS.Timeout | undefined;
    const call = invoke(...args);
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`no answer within ${timeoutMs} ms`)), Math.max(0, timeoutMs - (Date.now() - startedAt)));
    });
    try {
      return await Promise.race([call, timedOut]);
    } catch (e) {
      if (isJoinRefusal(e) || !looksLikeAFault(e)) { throw e; }
      const report = await probes.report(true);
      const nowDown = probes.down();
      if (nowDown) { throw unavailable(`${nowDown} is down: ${(e as Error)?.message}`); }
      logger.warn({ err: (e as Error)?.message, status: report.status }, "matchmaking failed with dependencies up");
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };
}

const WRAPPED = Symbol("cc.invokeMethod");

/** The documented code without the driver's text (joinRefusal logs why). */
function unavailable(why: string) {
  return joinRefusal(new ChatError("unavailable", why));
}

/**
 * Colyseus' own answers (no such handler, room full, seat reservation failed) carry
 * their numeric code; a driver's error arrives as MATCHMAKE_UNHANDLED (523) or
 * APPLICATION_ERROR, or with the driver's string code (`ECONNREFUSED`).
 */
function looksLikeAFault(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code !== "number" || code === ErrorCode.MATCHMAKE_UNHANDLED || code === ErrorCode.APPLICATION_ERROR;
}
