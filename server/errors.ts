import { ErrorCode as ColyseusErrorCode, ServerError } from "@colyseus/core";
import { logger } from "./logger";

/**
 * The one error type of the server: a stable `code` clients switch on and a
 * `message` for people. Request rejections, refused joins, HTTP API answers and
 * store failures all carry one of these codes (docs/protocol.md lists them).
 */
export type ErrorCode =
  // requests
  | "invalid_payload"
  | "text_too_long"
  | "payload_too_large"
  | "forbidden"
  | "rate_limited"
  | "too_many_requests"
  | "no_active_conversation"
  | "unknown_conversation"
  | "unknown_request"
  | "already_accepted"
  | "unknown_request_id"
  | "at_capacity"
  | "unavailable"
  | "internal"
  // joins (the matchmaker's answer reads "<code>: <message>")
  | "auth_missing"
  | "auth_invalid"
  | "auth_expired"
  | "invalid_options"
  | "room_not_found"
  | "too_many_rooms"
  // storage: what a store may refuse besides being unreachable (`unavailable`)
  | "conflict"
  | "not_found"
  // a write of a room actor that a newer actor replaced (docs/cluster.md, Fencing);
  // the actor answers its clients `unavailable` and closes them with 4001
  | "fenced"
  // a store that does not offer the call (the Redis store's records calls)
  | "unsupported"
  // the HTTP front (server/http): a compressed body
  | "unsupported_encoding";

export class ChatError extends Error {
  constructor(public readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ChatError";
  }

  /** The refusal as clients receive it. */
  toReason() {
    return { code: this.code, message: this.message };
  }
}

/**
 * A request whose write was refused because a newer actor owns the room (fencing,
 * docs/cluster.md): `unavailable` for the client (join again, send again with the
 * same id), not a storage failure for the operator.
 */
export class RoomMovedError extends ChatError {
  constructor() {
    super("unavailable", "this room moved to another server: join again and retry");
    this.name = "RoomMovedError";
  }
}

/**
 * The names the code base grew up with, kept so every throw site reads as what it
 * refuses; both are the one ChatError.
 */
export const RequestError = ChatError;
export type RequestError = ChatError;
export const AuthError = ChatError;
export type AuthError = ChatError;

/** The HTTP status of each code, for the HTTP API (server/http). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_payload: 400, text_too_long: 400, payload_too_large: 413, invalid_options: 400,
  auth_missing: 401, auth_invalid: 401, auth_expired: 401,
  forbidden: 403, too_many_rooms: 403,
  room_not_found: 404, unknown_conversation: 404, unknown_request_id: 404, not_found: 404, unknown_request: 404,
  no_active_conversation: 409, already_accepted: 409, conflict: 409, at_capacity: 409,
  unsupported_encoding: 415,
  rate_limited: 429, too_many_requests: 429,
  unavailable: 503, fenced: 503,
  internal: 500, unsupported: 501,
};

/**
 * A refused join as Colyseus answers it: the matchmaking request's HTTP status is
 * the error's `code`, so it must be its numeric AUTH_FAILED (a string there makes
 * the SDK misread the answer as a seat reservation); the stable code leads the
 * message, so the SDK's MatchMakeError reads "forbidden: not a member of team sales".
 * An `unavailable` refusal never carries the driver's text (it is logged instead).
 */
export function joinRefusal(e: ChatError): ServerError {
  if (e.code === "unavailable") { logger.warn({ why: e.message }, "join refused: unavailable"); }
  const message = e.code === "unavailable" ? UNAVAILABLE_MESSAGE : e.message;
  return new ServerError(ColyseusErrorCode.AUTH_FAILED, `${e.code}: ${message}`);
}

export const UNAVAILABLE_MESSAGE = "the service is unavailable, retry shortly";

/** True for a refusal joinRefusal() made (its message leads with a known code). */
export function isJoinRefusal(e: unknown): boolean {
  if (!(e instanceof ServerError) || e.code !== ColyseusErrorCode.AUTH_FAILED) { return false; }
  const code = /^([a-z_]+): /.exec(e.message)?.[1];
  return code !== undefined && code in HTTP_STATUS;
}

export const isChatError = (e: unknown): e is ChatError => e instanceof ChatError;

/**
 * A ChatError that crossed a process boundary (a remote room call) arrives as a
 * plain object with `code` and `message`: this makes it a ChatError again.
 */
export function asChatError(e: unknown): ChatError | null {
  if (e instanceof ChatError) { return e; }
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && code in HTTP_STATUS) {
    return new ChatError(code as ErrorCode, String((e as { message?: unknown }).message ?? code));
  }
  return null;
}
