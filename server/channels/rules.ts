import { createHash, randomUUID } from "node:crypto";
import type { Config } from "../config";
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

/** The session fields a status changes (a ChannelSessionState or a record). */
export interface DeliveryHorizons {
  sentSeq: number;
  deliveredSeq: number;
  readSeq: number;
  failedSeq: number;
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
 * `read` without `delivered`). A failure is remembered as the latest one; a later
 * success of that same message (a retry that got through) clears it.
 * Returns false when nothing changed.
 */
export function applyStatus(session: DeliveryHorizons, seq: number, status: DeliveryStatus, reason = ""): boolean {
  const before = JSON.stringify(session);
  if (status === "failed") {
    if (seq >= session.failedSeq) { session.failedSeq = seq; session.failedReason = reason || "delivery failed"; }
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
