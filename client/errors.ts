/**
 * One error class for everything the server refuses: a request's rejection
 * (`error.reason = { code, message }`), a join's refusal (the matchmaker's message
 * starts with the reason, `forbidden: …`), an `error` event of a plain send. Codes are
 * the server's stable vocabulary (server/errors.ts, docs/protocol.md); the library adds
 * `disconnected` (the connection closed before the answer came), `timeout` and
 * `closed` (the connection was closed for good by `leave()` or a fatal close).
 */
export class ChatError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    /** the request type, when it was one */
    public readonly type?: string,
  ) {
    super(message);
    this.name = "ChatError";
  }
}

/** Codes worth the same request again later: the server said "not now", not "no". */
const TRANSIENT = new Set(["unavailable", "rate_limited", "too_many_requests", "disconnected", "timeout"]);

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}

/** Join refusals that another try cannot fix (a fresh token can fix auth_expired). */
const FATAL_JOIN = new Set(["auth_missing", "auth_invalid", "forbidden", "invalid_options", "room_not_found"]);

export function isFatalJoin(code: string): boolean {
  return FATAL_JOIN.has(code);
}

/** Whatever `room.request` or `client.joinOrCreate` threw, as a ChatError. */
export function toChatError(e: unknown, type?: string): ChatError {
  if (e instanceof ChatError) { return e; }
  const err = e as { name?: string; message?: string; reason?: { code?: unknown; message?: unknown }; code?: unknown };
  if (err?.reason && typeof err.reason.code === "string") {
    return new ChatError(err.reason.code, String(err.reason.message ?? err.reason.code), type);
  }
  const message = String(err?.message ?? e);
  // closed under the request, or closing already when it was made (before the SDK's onLeave)
  if (/connection closed before a response|connection is not open/i.test(message)) { return new ChatError("disconnected", message, type); }
  if (/timed out after/i.test(message)) { return new ChatError("timeout", message, type); }
  // a MatchMakeError (code 525) carries "reason: text"; a server fault carries its name
  const m = message.match(/^([a-z_]+): /);
  if (m) { return new ChatError(m[1], message.slice(m[0].length), type); }
  if (typeof err?.code === "string" && /^[a-z_]+$/.test(err.code)) { return new ChatError(err.code, message, type); }
  // fetch failures, refused connections: the node is not there
  return new ChatError("unreachable", message, type);
}
