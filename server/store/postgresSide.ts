import type pg from "pg";
import { Batcher, type Outcome } from "./batcher";
import { conversationNotFound, unavailable } from "./errors";
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

export interface DeadlineWrite { roomId: string; deadline: number | null }

export function deadlineBatcher(pool: pg.Pool): Batcher<DeadlineWrite, void> {
  return new Batcher<DeadlineWrite, void>(async (items) => {
    const last = new Map<string, number | null>();
    for (const { roomId, deadline } of items) { last.set(roomId, deadline); }
    const set = [...last].filter(([, d]) => d !== null) as [string, number][];
    const cleared = [...last].filter(([, d]) => d === null).map(([r]) => r);
    try {
      await pool.query(
        `WITH cleared AS (DELETE FROM cc_idle_deadlines WHERE room_id = ANY($3::text[]))
         INSERT INTO cc_idle_deadlines (room_id, deadline)
         SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (room_id) DO UPDATE SET deadline = excluded.deadline`,
        [set.map(([r]) => r), set.map(([, d]) => d), cleared]);
    } catch (err) {
      const error = unavailable(err);
      return items.map((): Outcome<void> => ({ ok: false, error }));
    }
    return items.map((): Outcome<void> => ({ ok: true, value: undefined }));
  });
}

export function conversationSaveBatcher(pool: pg.Pool): Batcher<ConversationRecord, void> {
  return new Batcher<ConversationRecord, void>(async (items) => {
    const key = (roomId: string, id: string) => `${roomId}\u0000${id}`;
    const last = new Map<string, ConversationRecord>();
    for (const conv of items) { last.set(key(conv.roomId, conv.id), conv); }
    const rows = [...last.values()];
    let found: Set<string>;
    try {
      const { rows: updated } = await pool.query(
        `UPDATE cc_conversations c SET participants = u.participants, channel_sessions = u.sessions
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(room_id, id, participants, sessions)
         WHERE c.room_id = u.room_id AND c.id = u.id
         RETURNING c.room_id, c.id`,
        [rows.map((c) => c.roomId), rows.map((c) => c.id),
          rows.map((c) => JSON.stringify(c.participants)), rows.map((c) => JSON.stringify(c.channelSessions))]);
      found = new Set(updated.map((r) => key(r.room_id, r.id)));
    } catch (err) {
      const error = unavailable(err);
      return items.map((): Outcome<void> => ({ ok: false, error }));
    }
    return items.map((conv): Outcome<void> => found.has(key(conv.roomId, conv.id))
      ? { ok: true, value: undefined }
      : { ok: false, error: conversationNotFound(conv.id) });
  });
}
