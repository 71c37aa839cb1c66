import { RoomMovedError } from "../server/errors";
import type { Lease } from "../server/cluster/lease";
import { StoreError } from "../server/store/errors";
import type { RoomStore, RoomWriter } from "../server/store/types";

/** What a client is told when its request hit an actor that no longer owns the room. */
export const movedAway = () => new RoomMovedError();

/**
 * A room actor's ownership of its room (docs/cluster.md, Fencing). `activate` takes
 * the room in the store (a new owner epoch, which fences every older actor) before
 * the actor reads it; `takeOver` takes it once more when the matchmaker registered
 * this actor, so a duplicate that started during our start-up and was discarded
 * cannot keep the room. `writer` is the room's only way to write: each write
 * waits for the current epoch, checks the process lease, goes to the store fenced
 * with the epoch, and a refusal (`fenced`), or a lapsed lease, stops the actor
 * (`onFenced`) and answers the request `unavailable` (retryable: the client joins
 * the room's new actor and sends again with the same id).
 */
export class RoomOwnership {
  private epoch: Promise<number> | undefined;
  /** the last epoch the store handed this actor (0 before) */
  private held = 0;
  private lost = false;
  readonly writer: RoomWriter;

  constructor(
    private readonly store: RoomStore,
    private readonly roomId: string,
    private readonly lease: Lease,
    private readonly onFenced: (reason: string) => void,
    /** the matchmaker still lists this actor as the room's (its process and epoch) */
    private readonly listed: () => Promise<boolean>,
  ) {
    const write = <K extends keyof RoomWriter>(name: K) => async (...args: any[]) => {
      for (let attempt = 0; ; attempt++) {
        const writer = this.store.forOwner(this.roomId, await this.current());
        if (!this.lease.valid()) { this.fence("the process lease lapsed"); }
        if (this.lost) { throw movedAway(); }
        try {
          return await (writer[name] as any)(...args);
        } catch (err) {
          if (!(err instanceof StoreError && err.kind === "fenced")) { throw err; }
          if (attempt === 0 && await this.stillOurs()) { continue; }
          this.fence("a newer actor owns the room");
          throw movedAway();
        }
      }
    };
    // every write of the store's fenced view, so a write added to RoomWriter is fenced here too
    const writes = Object.entries(store.forOwner(roomId, 0)).filter(([, value]) => typeof value === "function").map(([name]) => name);
    const writer = Object.fromEntries(writes.map((name) => [name, write(name as keyof RoomWriter)]));
    Object.defineProperties(writer, { roomId: { value: roomId }, epoch: { get: () => this.held } });
    this.writer = writer as unknown as RoomWriter;
  }

  /** true once the actor learned it no longer owns the room */
  get fenced() { return this.lost; }

  async activate(): Promise<number> {
    if (!this.lease.valid()) { throw movedAway(); } // a process without its lease starts no actor
    this.epoch = this.take();
    return this.epoch;
  }

  /**
   * The matchmaker registered this actor: the room is ours for good (writes wait
   * for it). Should the store not answer, the actor stops rather than take the
   * room later, when a newer actor may own it.
   */
  takeOver() {
    this.epoch = this.take();
    this.epoch.catch(() => this.fence("the take-over of the room failed"));
  }

  private async take(): Promise<number> {
    this.held = await this.store.activateRoom(this.roomId);
    return this.held;
  }

  /**
   * A write was refused: a newer epoch took the room. It may be a duplicate actor
   * that a concurrent join started and the matchmaker then discarded (it activated
   * after our take-over): if the matchmaker still lists THIS actor, and the lease
   * still holds, so that nobody may have moved the room (the clean-up of our listings
   * waits for the lease to expire), the room is ours: take it again, and write once
   * more. A real successor exists only once our listing is gone.
   */
  private async stillOurs(): Promise<boolean> {
    if (this.lost || !this.lease.valid() || !(await this.listed().catch(() => false)) || !this.lease.valid()) { return false; }
    this.epoch = this.take();
    try { await this.epoch; return true; } catch { return false; }
  }

  private async current(): Promise<number> {
    if (!this.epoch) { throw movedAway(); }
    try { return await this.epoch; } catch { throw movedAway(); }
  }

  fence(reason: string) {
    if (this.lost) { return; }
    this.lost = true;
    this.onFenced(reason);
  }
}
