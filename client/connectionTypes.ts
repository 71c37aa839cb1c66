import type { BackoffOptions } from "./backoff";
import type { ChatError } from "./errors";
import type { ChatMessage, JoinOptions, RoomName, ServerEvents } from "./protocol";

/** What `ChatConnection.join` takes and what a connection emits (docs/client.md). */
export interface ConnectionOptions<R extends RoomName> {
  /** server addresses (any node of the cluster); rejoins go through them in turn */
  urls: string[];
  token: string;
  /** a fresh token: used for `refresh` on `token_expiring` and for rejoins after expiry */
  getToken?: () => Promise<string>;
  room: R;
  options: JoinOptions[R];
  backoff?: Partial<BackoffOptions>;
  /** ms a request waits for its answer (default 10 000) */
  requestTimeoutMs?: number;
  /** rows per `history` page of a catch-up (default 100; the server allows 200) */
  pageSize?: number;
  /** attempts of one `send` refused with a transient code while connected (default 8) */
  maxSendAttempts?: number;
}

export interface ConnectionEvents extends Omit<ServerEvents, "error"> {
  /** a stored message, once, in seq order */
  message: ChatMessage;
  /** the raw replicated state changed (typing, participants, read horizons) */
  state: any;
  /** the connection dropped abnormally; the library is rejoining */
  lost: { code: number; reason?: string };
  /**
   * after `lost`: a new socket joined; the catch-up starts (missed messages, `recovered`
   * and `back` follow). A message sent before this and delivered after it came late
   * because of the outage (the load generator does not time those).
   */
  rejoined: { attempts: number };
  /** back after `lost`: missed messages delivered, then this */
  back: { downMs: number; attempts: number };
  /** after a rejoin: how many missed messages were delivered, before any live one */
  recovered: { missed: number };
  /** a rejoin attempt failed; the next one comes after `delayMs` */
  retrying: { attempt: number; delayMs: number; error: ChatError };
  /** the connection's token was replaced (`refresh` answered) */
  token_refreshed: { exp: number };
  /** a plain send failed, or a `token_expiring` refresh did */
  error: ChatError;
  /** the end: `leave()`, or a close the library cannot recover from (no `getToken` on 4003, a fatal refusal) */
  closed: { code: number; reason: string; error?: ChatError };
}
