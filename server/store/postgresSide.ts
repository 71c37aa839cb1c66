import type pg from "pg";
import { Batcher, type Outcome } from "./batcher";
import { conversationNotFound, fenced, unavailable } from "./errors";
import type { ConversationRecord } from "./types";

/*
 * The room's frequent small writes besides appends, batched like the appends: the idle
 * deadline (up to once a second per active room) and the participants' flush (every
 * 2 s per room whose reads or typing changed). One statement per write made 1,000
 * steady rooms ~1,500 commits a second, each an fsync on the database, and acks took
 * seconds (docs/benchmarks.md, finding 10). Here every write waiting while the previous
 * batch is in flight goes out in one statement; within a batch the last write of a key
 * wins. A room actor awaits each of its writes before the next, so its own writes never
 * share a batch out of order.
 */

export interface DeadlineWrite { roomId: string; deadline: number | null; epoch?: number }
export interface ConversationSave { conversation: ConversationRecord; epoch?: number }

/*
 * Fencing (docs/cluster.md): a write with an epoch is applied only while that epoch
 * owns its room. The statement locks the rooms' rows (FOR SHARE) before it writes,
 * so a concurrent activation (UPDATE of the row) comes wholly before or after it,
 * and answers each room's owner epoch, which decides each item's outcome.
 */
const owns = (owners: Map<string, number>, roomId: string, epoch: number | undefined) =>
  epoch === undefined || owners.get(roomId) === epoch;

export function deadlineBatcher(pool: pg.Pool): Batcher<DeadlineWrite, void> {
  return new Batcher<DeadlineWrite, void>(async (items) => {
    let owners: Map<string, number>;
    try {
      const { rows } = await pool.query(
        `WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(room_id, deadline, epoch, n)),
         locked AS (SELECT r.room_id, r.owner_epoch FROM cc_rooms r WHERE r.room_id IN (SELECT room_id FROM input) FOR SHARE),
         owned AS (SELECT DISTINCT ON (i.room_id) i.room_id, i.deadline FROM input i LEFT JOIN locked l ON l.room_id = i.room_id
                   WHERE i.epoch IS NULL OR l.owner_epoch = i.epoch ORDER BY i.room_id, i.n DESC),
         cleared AS (DELETE FROM cc_idle_deadlines d USING owned o WHERE d.room_id = o.room_id AND o.deadline IS NULL),
         written AS (INSERT INTO cc_idle_deadlines (room_id, deadline) SELECT room_id, deadline FROM owned WHERE deadline IS NOT NULL
                     ON CONFLICT (room_id) DO UPDATE SET deadline = excluded.deadline)
         SELECT room_id, owner_epoch FROM locked`,
        [items.map((i) => i.roomId), items.map((i) => i.deadline), items.map((i) => i.epoch ?? null)]);
      owners = new Map(rows.map((r) => [r.room_id as string, Number(r.owner_epoch)]));
    } catch (err) {
      const error = unavailable(err);
      return items.map((): Outcome<void> => ({ ok: false, error }));
    }
    return items.map((item): Outcome<void> => owns(owners, item.roomId, item.epoch)
      ? { ok: true, value: undefined }
      : { ok: false, error: fenced(item.roomId, item.epoch) });
  });
}

export function conversationSaveBatcher(pool: pg.Pool): Batcher<ConversationSave, void> {
  return new Batcher<ConversationSave, void>(async (items) => {
    const key = (roomId: string, id: string) => `${roomId}\u0000${id}`;
    let found: Set<string>;
    let owners: Map<string, number>;
    try {
      const { rows } = await pool.query(
        `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS u(room_id, id, participants, sessions, epoch, n)),
         locked AS (SELECT r.room_id, r.owner_epoch FROM cc_rooms r WHERE r.room_id IN (SELECT room_id FROM input) FOR SHARE),
         owned AS (SELECT DISTINCT ON (i.room_id, i.id) i.* FROM input i LEFT JOIN locked l ON l.room_id = i.room_id
                   WHERE i.epoch IS NULL OR l.owner_epoch = i.epoch ORDER BY i.room_id, i.id, i.n DESC),
         updated AS (UPDATE cc_conversations c SET participants = o.participants, channel_sessions = o.sessions
                     FROM owned o WHERE c.room_id = o.room_id AND c.id = o.id RETURNING c.room_id, c.id)
         SELECT 'updated' AS what, room_id, id, NULL::bigint AS owner_epoch FROM updated
         UNION ALL SELECT 'owner', room_id, NULL, owner_epoch FROM locked`,
        [items.map((s) => s.conversation.roomId), items.map((s) => s.conversation.id),
          items.map((s) => JSON.stringify(s.conversation.participants)), items.map((s) => JSON.stringify(s.conversation.channelSessions)),
          items.map((s) => s.epoch ?? null)]);
      found = new Set(rows.filter((r) => r.what === "updated").map((r) => key(r.room_id, r.id)));
      owners = new Map(rows.filter((r) => r.what === "owner").map((r) => [r.room_id as string, Number(r.owner_epoch)]));
    } catch (err) {
      const error = unavailable(err);
      return items.map((): Outcome<void> => ({ ok: false, error }));
    }
    return items.map(({ conversation: conv, epoch }): Outcome<void> => {
      if (!owns(owners, conv.roomId, epoch)) { return { ok: false, error: fenced(conv.roomId, epoch) }; }
      return found.has(key(conv.roomId, conv.id)) ? { ok: true, value: undefined } : { ok: false, error: conversationNotFound(conv.id) };
    });
  });
}
