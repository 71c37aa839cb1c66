import { MapSchema } from "@colyseus/schema";

/**
 * A MapSchema whose keys may be any string, including the names of built-in object
 * properties.
 *
 * Why: @colyseus/schema 5.0.34 keeps each map's key -> wire index table
 * (`MapJournal.indexByKey`, src/encoder/MapJournal.ts line 29) in a plain `{}`, so
 * `indexOf("constructor")` finds `Object.prototype.constructor` instead of "no index",
 * the encoder takes the key for one it already sent, and the next patch throws
 * (`TypeError ... Symbol($refId)`) in the room's timer, which ends the process. Our
 * maps are keyed by user ids (participants, a team's agents), and `constructor`,
 * `__proto__`, `toString`... all match the id pattern. Upstream: docs/security.md.
 *
 * The fix keeps the library's own table but gives it no prototype before every
 * write: then only keys really assigned are found, and `__proto__` is an ordinary
 * key. `reset()` (on clear) puts a plain `{}` back, which the next `set` replaces
 * again. Clients need nothing: their decoder only writes the table, never reads it.
 */
export class SafeMapSchema<V = any> extends MapSchema<V> {
  set(key: string, value: V) {
    const journal = this.journal as unknown as { indexByKey: Record<string, number> };
    if (Object.getPrototypeOf(journal.indexByKey) !== null) {
      journal.indexByKey = Object.assign(Object.create(null), journal.indexByKey);
    }
    return super.set(key, value);
  }
}
