/**
 * Stable error codes of request rejections. Clients switch on `code`; `message` is
 * for people. Documented in docs/protocol.md.
 */
export type ErrorCode =
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
  | "unsupported"
  | "auth_invalid"
  | "auth_expired"
  | "internal";

export class RequestError extends Error {
  constructor(public readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "RequestError";
  }

  toReason() {
    return { code: this.code, message: this.message };
  }
}
