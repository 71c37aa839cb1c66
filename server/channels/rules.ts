import { createHash, randomUUID } from "node:crypto";
import type { Config } from "../config";
import { normaliseText } from "../text";
import type { ChannelSessionRecord, MessageRecord, NewMessage, Role } from "../store/types";

/**
 * The pure rules of channel connectors (docs/channels.md): which messages go out to a
 * connector's session, how reported delivery statuses combine, the idempotency key of
 * a provider's message, a channel's inactivity timer. Unit-tested in
 * test/channelRules.test.ts; the room applies them (conversation/channels.ts).
 */

export const CHANNEL_TYPE = /^[a-z][a-z0-9_-]{0,31}$/;

export type DeliveryStatus = "sent" | "delivered" | "read" | "failed";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["sent", "delivered", "read", "failed"];

/**
 * Why a delivery failed, as the replicated state shows it (`failedReason`). The state
 * goes to everyone in the room, the customer included, so it carries only these codes;
 * the provider's or transport's own text goes to staff only, in a note (failureNote).
 * `provider_rejected`: the connector reported `failed` (the provider refused it);
 * `gave_up`: the connector did not accept it after WEBHOOK_MAX_ATTEMPTS attempts;
 * `no_endpoint`: no connector endpoint for the session's channel type (CONNECTOR_URLS).
 */
export type FailureCode = "provider_rejected" | "gave_up" | "no_endpoint";
export const FAILURE_CODES: readonly FailureCode[] = ["provider_rejected", "gave_up", "no_endpoint"];

/** The longest detail a failure note quotes (code points). */
export const FAILURE_DETAIL_MAX = 200;

/** The session fields a status changes (a ChannelSessionState or a record). */
export interface DeliveryHorizons {
  sentSeq: number;
  deliveredSeq: number;
  readSeq: number;
  failedSeq: number;
  /** a FailureCode, "" when none */
  failedReason: string;
}

/** Who is answered on the customer's channels: staff, bots and apps, never the customer's own words, notes or events. */
const OUTBOUND_ROLES = new Set<Role>(["agent", "supervisor", "bot", "app"]);

export function goesOut(message: Pick<MessageRecord | NewMessage, "kind" | "senderRole">): boolean {
  return message.kind === "text" && OUTBOUND_ROLES.has(message.senderRole);
}

/** An active session of a connector (an SDK session is the live connection itself). */
export function isConnectorSession(session: { via?: string; state: string }): boolean {
  return session.via === "connector" && session.state === "active";
}

/**
 * Applies one report. A delivered message was sent, a read one delivered: each
 * horizon only moves up and pulls the lower ones with it (a provider may report
 * `read` without `delivered`). A failure is remembered as the latest one, by its
 * code only (never the provider's text: the state reaches the customer); a later
 * success of that same message (a retry that got through) clears it.
 * Returns false when nothing changed.
 */
export function applyStatus(session: DeliveryHorizons, seq: number, status: DeliveryStatus, code: FailureCode = "provider_rejected"): boolean {
  const before = JSON.stringify(session);
  if (status === "failed") {
    if (seq >= session.failedSeq) { session.failedSeq = seq; session.failedReason = code; }
  } else {
    const raise = (key: "sentSeq" | "deliveredSeq" | "readSeq") => { if (seq > session[key]) { session[key] = seq; } };
    raise("sentSeq");
    if (status === "delivered" || status === "read") { raise("deliveredSeq"); }
    if (status === "read") { raise("readSeq"); }
    if (session.failedSeq === seq) { session.failedSeq = 0; session.failedReason = ""; }
  }
  return JSON.stringify(session) !== before;
}

/**
 * The transcript id of a provider's message: stable for one provider id on one
 * channel type, so a redelivered webhook or a retried post is stored once (the
 * message row is the idempotency key, per sender). Provider ids (`<x@y>`,
 * `wamid.…=`) are not ids, hence the hash.
 */
export function providerMessageKey(type: string, providerMessageId: string): string {
  return `ch_${createHash("sha256").update(`${type}\u0000${providerMessageId}`).digest("base64url").slice(0, 40)}`;
}

/** A customer first seen on a channel: a fresh id (ID_PATTERN). */
export function newChannelCustomerId(): string {
  return `cu-${randomUUID().replace(/-/g, "")}`;
}

export function channelIdleMs(config: Pick<Config, "channelIdleMs">, type: string): number {
  return config.channelIdleMs.byType[type] ?? config.channelIdleMs.fallback;
}

/** The session's inactivity timer ran out at `now`. */
export function sessionIdle(session: Pick<ChannelSessionRecord, "lastActivityAt" | "startedAt">, idleMs: number, now: number): boolean {
  return now - (session.lastActivityAt || session.startedAt) >= idleMs;
}

/**
 * The staff-only note for a failed delivery: which message, on which channel and
 * address, and why (the provider's or transport's detail on one line, at most
 * FAILURE_DETAIL_MAX code points). Customers never receive notes.
 */
export function failureNote(failure: { seq: number; type: string; address: string; code: FailureCode; detail?: string }): string {
  const oneLine = normaliseText(failure.detail ?? "").replace(/\s+/g, " ").trim();
  const points = [...oneLine];
  const detail = points.length > FAILURE_DETAIL_MAX ? `${points.slice(0, FAILURE_DETAIL_MAX - 1).join("")}…` : oneLine;
  return `Message ${failure.seq} was not delivered on ${failure.type} to ${failure.address}: ${failure.code}${detail ? ` (${detail})` : ""}`;
}

/** The note's transcript id: one note per message, session and code, however often it is reported. */
export function failureNoteId(sessionId: string, seq: number, code: FailureCode): string {
  return `chf_${createHash("sha256").update(`${sessionId}\u0000${seq}\u0000${code}`).digest("base64url").slice(0, 40)}`;
}
