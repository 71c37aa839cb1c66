import { matchMaker } from "@colyseus/core";
import type { Config } from "../config";
import { AuthError, RoomMovedError } from "../errors";
import { logger } from "../logger";
import type { RoomRecord, RoomStore, RoomWriter } from "../store/types";
import { TokenBucket } from "./rateLimit";

/**
 * The limits on the private rooms customers create themselves, and the removal of
 * private rooms nobody ever used.
 *
 * - PRIVATE_ROOMS_PER_HOUR: creations per customer, a token bucket per process (like
 *   the join limit), checked by the actor that creates the room.
 * - PRIVATE_ROOMS_PER_CUSTOMER: the customer's own rooms that are open: never used
 *   yet, or with an active conversation. A room whose conversation ended keeps its
 *   history and no longer counts; a removed one neither. The ids are a set per
 *   customer in Colyseus' presence (Redis on a Redis node, so cluster-wide), pruned
 *   of rooms that no longer count when the set is full. The check and the add are two
 *   steps: concurrent creations can pass the count by those in flight (bounded by the
 *   hourly rate).
 * - A private room that never held a message is removed PRIVATE_ROOM_UNUSED_MS after
 *   its creation when nobody is in it then (else that much later again): its actor
 *   writes a deadline into the store's idle deadlines on creation, and the sweeper
 *   (server/cluster/sweeper.ts) removes the room when the deadline passes and no actor runs.
 *   An unused room never queued a request (requests come from conversations), so
 *   nothing is left in any team queue.
 */

/** a bucket per customer, kept for an hour unused (a full bucket): forgetting it sooner would refill it */
const creations = new Map<string, { bucket: TokenBucket; used: number }>();
let sweptAt = Date.now();
const HOUR = 3_600_000;

function takeCreation(customerId: string, perHour: number): boolean {
  const now = Date.now();
  if (now - sweptAt > 60_000) {
    for (const [k, v] of creations) { if (now - v.used > HOUR) { creations.delete(k); } }
    sweptAt = now;
  }
  let entry = creations.get(customerId);
  if (!entry) { creations.set(customerId, entry = { bucket: new TokenBucket(perHour / 3600, perHour), used: now }); }
  entry.used = now;
  return entry.bucket.take();
}

const setKey = (customerId: string) => `private-rooms:${customerId}`;

/** A room that counts against its creator's PRIVATE_ROOMS_PER_CUSTOMER. */
export function isOpen(record: RoomRecord | null): boolean {
  return !!record && (isUnused(record) || !!record.activeConversationId);
}

/** A private room nobody ever wrote in. */
export function isUnused(record: RoomRecord): boolean {
  return record.kind === "private" && record.lastSeq === 0 && !record.activeConversationId;
}

/** Throws the refusal when the customer may not create another private room now. */
export async function checkCreation(customerId: string, config: Config, store: RoomStore): Promise<void> {
  const key = setKey(customerId);
  let ids: string[] = await matchMaker.presence.smembers(key);
  if (ids.length >= config.privateRoomsPerCustomer) {
    const records = await Promise.all(ids.map((id) => store.getRoom(id)));
    const closed = ids.filter((_, i) => !isOpen(records[i]));
    for (const id of closed) { await matchMaker.presence.srem(key, id); }
    ids = ids.filter((id) => !closed.includes(id));
  }
  if (ids.length >= config.privateRoomsPerCustomer) {
    throw new AuthError("too_many_rooms", `a customer has at most ${config.privateRoomsPerCustomer} open private rooms`);
  }
  if (!takeCreation(customerId, config.privateRoomsPerHour)) {
    throw new AuthError("rate_limited", `more than ${config.privateRoomsPerHour} private rooms per hour`);
  }
}

/**
 * A new private room (its actor's onCreate, after it took the room): counted against
 * its customer's PRIVATE_ROOMS_PER_CUSTOMER, and given the deadline after which the
 * sweeper removes it if nobody used it. The deadline is a write of the room, so it
 * goes through the actor's fenced writer: an actor that a newer one already replaced
 * must not move the newer owner's deadline. Store failures are logged (the room works
 * without the deadline); losing the room is not, it ends the actor's start.
 */
export async function privateRoomCreated(writer: Pick<RoomWriter, "roomId" | "setIdleDeadline">, config: Config, customerId: string | undefined): Promise<void> {
  const roomId = writer.roomId;
  if (customerId) {
    await Promise.resolve(matchMaker.presence.sadd(setKey(customerId), roomId))
      .catch((e) => logger.warn({ err: e?.message, roomId }, "could not count the private room"));
  }
  await writer.setIdleDeadline(Date.now() + config.privateRoomUnusedMs).catch((e) => {
    if (e instanceof RoomMovedError) { throw e; }
    logger.warn({ err: e?.message, roomId }, "could not store the private room's deadline");
  });
}

/**
 * Called by the sweeper for a private room's overdue deadline when no actor runs:
 * removes the room if it is still unused. Returns true when it removed it.
 */
export async function removeIfUnused(store: RoomStore, record: RoomRecord): Promise<boolean> {
  if (!isUnused(record)) { return false; }
  await store.deleteRoom(record.roomId);
  for (const customerId of record.customers) { await matchMaker.presence.srem(setKey(customerId), record.roomId); }
  logger.info({ roomId: record.roomId }, "unused private room removed");
  return true;
}
