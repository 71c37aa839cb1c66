import { ChatError } from "../errors";

/**
 * Errors a store throws: ChatErrors whose code is their kind. `kind` lets a caller
 * tell a refusal (the request is wrong for what is stored: retrying will not help)
 * from a failure (the store could not answer: retrying may); server/store/guard.ts
 * answers a refusal with its code and a failure as `unavailable`. Messages keep the
 * wording the memory and Redis stores have always used.
 */
export type StoreErrorKind = "conflict" | "not_found" | "unavailable" | "unsupported" | "fenced";

export class StoreError extends ChatError {
  constructor(public readonly kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
    this.name = "StoreError";
  }
}

export const roomNotFound = (roomId: string) => new StoreError("not_found", `room ${roomId} does not exist`);
export const conversationNotFound = (id: string) => new StoreError("not_found", `conversation ${id} does not exist`);
export const conversationNotActive = (id: string) => new StoreError("conflict", `conversation ${id} is not active`);
export const conversationNotEnded = (id: string) => new StoreError("conflict", `conversation ${id} has not ended: it is rated after its end`);
export const conversationEnded = (id: string) => new StoreError("conflict", `conversation ${id} has already ended`);
export const otherConversationActive = (roomId: string, active: string) =>
  new StoreError("conflict", `room ${roomId} already has active conversation ${active}`);

/**
 * A write of an actor that no longer owns the room: a newer actor activated it
 * (docs/cluster.md, Fencing). Nothing was written; the old actor must stop serving.
 */
export const fenced = (roomId: string, epoch: number | undefined) =>
  new StoreError("fenced", `room ${roomId} is owned by a newer actor than epoch ${epoch}: write refused`);

/** Wraps a driver error (connection lost, disk full, ...) unless it already is a StoreError. */
export function unavailable(err: unknown): StoreError {
  if (err instanceof StoreError) { return err; }
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError("unavailable", `storage is unavailable: ${message}`, { cause: err });
}

/** A feature this store does not offer (docs/storage.md): retrying will not help. */
export const unsupported = (store: string, feature: string) =>
  new StoreError("unsupported", `the ${store} store does not support ${feature} (use PostgreSQL or SQLite, docs/storage.md)`);
