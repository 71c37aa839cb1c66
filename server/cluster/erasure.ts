import { matchMaker } from "@colyseus/core";
import { RequestError } from "../errors";
import { logger } from "../logger";
import type { ErasureResult } from "../store/recordTypes";
import type { RoomStore } from "../store/types";

/**
 * Erasing a customer while their rooms may be live (docs/storage.md "Erasure"). An
 * actor holds the room's recent messages and participants in memory and writes them
 * on leave and dispose, so it must be gone before the rows go: each room's actor is
 * closed (Room.disconnect, by remote room call: it answers once onDispose has run),
 * then the store erases in one transaction. A client that rejoined in between made a
 * new actor; it is closed and the store erased again, so nothing stale survives.
 */
/**
 * Colyseus' CONSENTED: the room ends the seat for good. Any other code counts as a
 * drop in Colyseus 0.18 (onDrop keeps a reconnection seat, and the client sees 1006).
 */
export const ERASED_CLOSE_CODE = 4000;
const CLOSE_WAIT_MS = 10_000;

/** Closes the room's actor wherever it runs; true when there was one. */
export async function closeActor(roomId: string): Promise<boolean> {
  if (!(await matchMaker.driver.findOne({ roomId }))) { return false; }
  try {
    await matchMaker.remoteRoomCall(roomId, "disconnect" as any, [ERASED_CLOSE_CODE], CLOSE_WAIT_MS);
  } catch (err: any) {
    // gone meanwhile, or slow to dispose: the listing decides below
    logger.warn({ roomId, err: err?.message }, "erasure: closing the room's actor failed");
  }
  const until = Date.now() + CLOSE_WAIT_MS;
  while (await matchMaker.driver.findOne({ roomId })) {
    if (Date.now() > until) { throw new RequestError("unavailable", `the actor of ${roomId} did not close; nothing was erased, retry`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const add = (a: ErasureResult, b: ErasureResult): ErasureResult =>
  Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof ErasureResult] + b[k as keyof ErasureResult]])) as unknown as ErasureResult;

export async function eraseCustomer(store: RoomStore, customerId: string): Promise<ErasureResult> {
  const rooms = [...new Set([`cc-${customerId}`, ...(await store.customerRooms(customerId))])];
  const closeAll = async () => (await Promise.all(rooms.map(closeActor))).some(Boolean);
  await closeAll();
  let result = await store.eraseCustomer(customerId);
  for (let round = 0; round < 3 && (await closeAll()); round++) {
    result = add(result, await store.eraseCustomer(customerId));
  }
  return result;
}
