import type { Identity } from "../auth";
import type { Action } from "./permissions";
import type { Payload, RequestType } from "./requests";

/**
 * The declarative request table: per request type what the one pipeline
 * (rooms/pipeline.ts) checks, in this order, before it runs the handler:
 *
 *   admit     before any work: the connection's send buffer and in-flight cap, the
 *             user's budget for the type's class (server/policy/admission.ts, budgets.ts)
 *   validate  size bound, the type's schema (server/policy/requests.ts), `check`
 *   permit    the permission table's row `action` (server/policy/permissions.ts), `guard`
 *   run       `run`
 *
 * Every refusal is a ChatError answered as `{ code, message }`; the connection stays.
 * `R` is the room a handler runs in, `C` its client type.
 */
export interface RequestCall<R, C, T extends RequestType> {
  room: R;
  client: C;
  identity: Identity;
  payload: Payload<T>;
}

export interface RequestSpec<R, C, T extends RequestType> {
  /** payload rules beyond the schema that need the room's settings; returns what is used */
  check?(payload: Payload<T>, room: R): Payload<T>;
  /** the row of the permission table that must allow the caller's role */
  action?: Action;
  /** refusals that depend on the room or the connection (monitoring, no conversation) */
  guard?(call: RequestCall<R, C, T>): void;
  run(call: RequestCall<R, C, T>): unknown;
}

export type RequestTable<R, C> = { [T in RequestType]?: RequestSpec<R, C, T> };
