import assert from "node:assert/strict";
import type { Client } from "@colyseus/sdk";
import { clientFor, startServerProcess, uniqueId, type ServerProcess, type Who } from "./server";

/**
 * Shared fixtures of the integration suites: one server process per `describe`,
 * people by role, and the rejection of a failed request.
 */

/** Starts a server process before the suite's tests and stops it after; call inside `describe`. */
export function useServer(env: Record<string, string> = {}): () => ServerProcess {
  let server: ServerProcess | undefined;
  before(async () => { server = await startServerProcess(env); });
  after(async () => { await server?.stop(); });
  return () => {
    if (!server) { throw new Error("useServer: the server has not started"); }
    return server;
  };
}

/** People by role, each with a fresh id (the suites share a Redis). */
export const people = {
  customer: (over: Partial<Who> = {}): Who => ({ sub: uniqueId("cust"), role: "customer", ...over }),
  agent: (teams: string[] = ["support"], over: Partial<Who> = {}): Who => ({ sub: uniqueId("agent"), role: "agent", teams, ...over }),
  supervisor: (teams: string[] = ["support"], over: Partial<Who> = {}): Who => ({ sub: uniqueId("sup"), role: "supervisor", teams, ...over }),
  bot: (teams: string[] = ["support"], over: Partial<Who> = {}): Who => ({ sub: uniqueId("bot"), role: "bot", teams, ...over }),
  app: (over: Partial<Who> = {}): Who => ({ sub: uniqueId("app"), role: "app", ...over }),
};

/** An SDK client signed in as `who`. */
export const signedIn = (server: ServerProcess, who: Who): Promise<Client> => clientFor(server.url, who);

/** Rejection reason `{ code, message }` of a request that must fail. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (e: any) {
    assert.ok(e?.reason, `expected a rejection with a reason, got ${e?.message}`);
    return e.reason;
  }
  assert.fail("expected the request to be rejected");
}

/** "ok" for an answered request, else the rejection's code (or the error's message). */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (e: any) {
    return e?.reason?.code ?? e?.message;
  }
}
