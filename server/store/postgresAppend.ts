import type pg from "pg";
import type { Outcome } from "./batcher";
import { conversationNotActive, fenced, roomNotFound, unavailable } from "./errors";
import { decodeMessage, encodeMessage } from "./sqlRows";
import type { AppendResult, NewMessage, OutboxEvents } from "./types";

/*
 * The PostgreSQL store's group commit: one call of cc_append_messages (sqlMigrations.ts)
 * per batch, so a batch is one round trip and one commit.
 */

/**
 * The batch's appends and their outbox events in ONE statement: the events of the
 * items stored now (status 'new') go into cc_outbox in a data-modifying CTE of the
 * same statement, so atomically with their messages, with the seq put where the mark
 * (chr(1) 'seq' chr(1), SEQ_MARK in server/store/types.ts) stands. $8 holds each
 * item's events as a JSON array, $9 its owner epoch (NULL: not fenced).
 */
const APPEND_WITH_EVENTS = `
WITH appended AS (SELECT idx, status, seq, data FROM cc_append_messages($1, $2, $3, $4, $5, $6, $7, $9)),
outbox AS (
  INSERT INTO cc_outbox (room_id, payload)
  SELECT ($1::text[])[a.idx], replace(e.value, chr(1) || 'seq' || chr(1), a.seq::text)
  FROM appended a
  JOIN unnest($8::text[]) WITH ORDINALITY AS ev(events, k) ON ev.k = a.idx
  CROSS JOIN LATERAL json_array_elements_text(ev.events::json) WITH ORDINALITY AS e(value, n)
  WHERE a.status = 'new'
  ORDER BY a.idx, e.n
)
SELECT idx, status, seq, data FROM appended`;

export interface Append { roomId: string; message: NewMessage; events: OutboxEvents; epoch?: number }

/** FNV-1a: a room's lane, stable for the life of the process. */
export function laneOf(roomId: string, lanes: number) {
  let h = 0x811c9dc5;
  for (let i = 0; i < roomId.length; i++) { h = Math.imul(h ^ roomId.charCodeAt(i), 0x01000193); }
  return (h >>> 0) % lanes;
}

/** One group commit. Sorted by room, so concurrent batches of two nodes lock rooms in the same order. */
export async function appendBatch(pool: pg.Pool, items: Append[]): Promise<Outcome<AppendResult>[]> {
  const order = items.map((_, i) => i).sort((a, b) => (items[a].roomId < items[b].roomId ? -1 : items[a].roomId > items[b].roomId ? 1 : a - b));
  const sorted = order.map((i) => items[i]);
  let outcomes: Outcome<AppendResult>[];
  try {
    outcomes = await appendCall(pool, sorted);
  } catch (err) {
    if (sorted.length === 1) { return [{ ok: false, error: unavailable(err) }]; }
    // one bad item (say, a value the server refuses) must not fail the others: retry them one by one
    outcomes = [];
    for (const item of sorted) {
      try { outcomes.push(...(await appendCall(pool, [item]))); } catch (e) { outcomes.push({ ok: false, error: unavailable(e) }); }
    }
  }
  const result: Outcome<AppendResult>[] = new Array(items.length);
  order.forEach((original, i) => { result[original] = outcomes[i]; });
  return result;
}

async function appendCall(pool: pg.Pool, items: Append[]): Promise<Outcome<AppendResult>[]> {
  const data = items.map((i) => encodeMessage(i.message));
  const { rows } = await pool.query<{ idx: number; status: string; seq: string | null; data: string | null }>(
    APPEND_WITH_EVENTS,
    [items.map((i) => i.roomId), items.map((i) => i.message.senderId), items.map((i) => i.message.id),
      items.map((i) => i.message.conversationId), items.map((i) => i.message.kind), items.map((i) => i.message.at), data,
      items.map((i) => JSON.stringify(i.events)), items.map((i) => i.epoch ?? null)]);
  return rows.map((row): Outcome<AppendResult> => {
    const k = row.idx - 1;
    switch (row.status) {
      case "new": return { ok: true, value: { message: decodeMessage(data[k], row.seq!), duplicate: false } };
      case "dup": return { ok: true, value: { message: decodeMessage(row.data!, row.seq!), duplicate: true } };
      case "no_room": return { ok: false, error: roomNotFound(items[k].roomId) };
      case "fenced": return { ok: false, error: fenced(items[k].roomId, items[k].epoch) };
      default: return { ok: false, error: conversationNotActive(items[k].message.conversationId) };
    }
  });
}
