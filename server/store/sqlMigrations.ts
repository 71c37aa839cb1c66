/*
 * The versioned schema of the SQL stores. A migration is applied once, in order, and
 * recorded in `schema_migrations`; an applied migration is never edited: a change is a
 * new version. The two dialects differ only where they must (types, identity columns,
 * the PostgreSQL append function).
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Tables shared by both dialects; `$ID` and `$BIG` are the dialect's identity and integer types. */
const tables = (big: string, id: string) => `
CREATE TABLE cc_rooms (
  room_id text PRIMARY KEY,
  kind text NOT NULL,
  members text NOT NULL,
  customers text NOT NULL,
  team_id text,
  subject text,
  created_at ${big} NOT NULL,
  last_activity_at ${big} NOT NULL,
  active_conversation_id text,
  last_seq ${big} NOT NULL,
  past_conversations integer NOT NULL
);
CREATE TABLE cc_conversations (
  room_id text NOT NULL,
  id text NOT NULL,
  state text NOT NULL,
  started_at ${big} NOT NULL,
  ended_at ${big} NOT NULL,
  end_reason text NOT NULL,
  ended_by text NOT NULL,
  first_seq ${big} NOT NULL,
  last_seq ${big} NOT NULL,
  message_count integer NOT NULL,
  participants text NOT NULL,
  channel_sessions text NOT NULL,
  -- order in the room's history (1 = first ended); 0 while active
  past_index integer NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, id)
);
CREATE INDEX cc_conversations_past ON cc_conversations (room_id, started_at) WHERE state = 'ended';
-- the message row is its own idempotency key: (room, sender, client id) is unique
CREATE TABLE cc_messages (
  room_id text NOT NULL,
  seq ${big} NOT NULL,
  conversation_id text NOT NULL,
  sender_id text NOT NULL,
  client_id text NOT NULL,
  kind text NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (room_id, seq),
  UNIQUE (room_id, sender_id, client_id)
);
CREATE INDEX cc_messages_conversation ON cc_messages (room_id, conversation_id, seq);
CREATE TABLE cc_idle_deadlines (
  room_id text PRIMARY KEY,
  deadline ${big} NOT NULL
);
CREATE INDEX cc_idle_deadlines_due ON cc_idle_deadlines (deadline);
CREATE TABLE cc_leases (
  name text PRIMARY KEY,
  until ${big} NOT NULL
);
CREATE TABLE cc_outbox (
  id ${id},
  room_id text NOT NULL,
  payload text NOT NULL
);
CREATE INDEX cc_outbox_room ON cc_outbox (room_id, id);
CREATE TABLE cc_outbox_leases (
  room_id text PRIMARY KEY,
  owner text NOT NULL,
  until ${big} NOT NULL
);
CREATE TABLE cc_team_queues (
  team_id text PRIMARY KEY,
  requests text NOT NULL
);
`;

/** Shared by both dialects: erasure finds a customer's messages by sender, the purge finds old ended conversations. */
const recordTables = (big: string, id: string) => `
CREATE INDEX cc_messages_sender ON cc_messages (sender_id);
CREATE INDEX cc_conversations_ended ON cc_conversations (ended_at) WHERE state = 'ended';
CREATE TABLE cc_audit (
  id ${id},
  at ${big} NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX cc_audit_subject ON cc_audit (subject, id);
`;

/*
 * SQLite search: an FTS5 table kept in step with cc_messages by triggers, so it is
 * written in the append's own transaction. Its rowid comes from cc_message_search_ids
 * (an INTEGER PRIMARY KEY, which VACUUM never renumbers, unlike cc_messages' implicit rowid).
 */
const SQLITE_RECORDS = recordTables("integer", "integer PRIMARY KEY AUTOINCREMENT") + `
CREATE TABLE cc_message_search_ids (
  id integer PRIMARY KEY AUTOINCREMENT,
  room_id text NOT NULL,
  seq integer NOT NULL,
  UNIQUE (room_id, seq)
);
CREATE VIRTUAL TABLE cc_message_search USING fts5(text, at UNINDEXED, tokenize = 'unicode61 remove_diacritics 0');
CREATE TRIGGER cc_messages_search_insert AFTER INSERT ON cc_messages BEGIN
  INSERT INTO cc_message_search_ids (room_id, seq) VALUES (new.room_id, new.seq);
  INSERT INTO cc_message_search (rowid, text, at) VALUES (last_insert_rowid(), json_extract(new.data, '$.text'), json_extract(new.data, '$.at'));
END;
CREATE TRIGGER cc_messages_search_delete AFTER DELETE ON cc_messages BEGIN
  DELETE FROM cc_message_search WHERE rowid = (SELECT id FROM cc_message_search_ids WHERE room_id = old.room_id AND seq = old.seq);
  DELETE FROM cc_message_search_ids WHERE room_id = old.room_id AND seq = old.seq;
END;
CREATE TRIGGER cc_messages_search_update AFTER UPDATE OF data ON cc_messages BEGIN
  UPDATE cc_message_search SET text = json_extract(new.data, '$.text'), at = json_extract(new.data, '$.at')
    WHERE rowid = (SELECT id FROM cc_message_search_ids WHERE room_id = new.room_id AND seq = new.seq);
END;
INSERT INTO cc_message_search_ids (room_id, seq) SELECT room_id, seq FROM cc_messages ORDER BY room_id, seq;
INSERT INTO cc_message_search (rowid, text, at)
  SELECT k.id, json_extract(m.data, '$.text'), json_extract(m.data, '$.at') FROM cc_messages m JOIN cc_message_search_ids k ON k.room_id = m.room_id AND k.seq = m.seq;
`;

/*
 * PostgreSQL search: a tsvector column (config 'simple': no stemming, any language)
 * and the send time, both filled by a BEFORE trigger from the JSON body in the
 * append's own statement, with a GIN index. jsonb refuses the escape \u0000 that our
 * JSON text may hold (a NUL in a text), so the trigger reads a copy with \ufffd in
 * its place: the stored body stays byte for byte.
 */
const POSTGRES_RECORDS = recordTables("bigint", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY") + `
ALTER TABLE cc_messages ADD COLUMN search tsvector, ADD COLUMN sent_at bigint;
CREATE FUNCTION cc_messages_search() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  body jsonb;
BEGIN
  body := replace(NEW.data, '\\u0000', '\\ufffd')::jsonb;
  NEW.search := to_tsvector('simple', coalesce(body->>'text', ''));
  NEW.sent_at := floor((body->>'at')::double precision)::bigint;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER cc_messages_search BEFORE INSERT OR UPDATE OF data ON cc_messages FOR EACH ROW EXECUTE FUNCTION cc_messages_search();
UPDATE cc_messages SET data = data;
CREATE INDEX cc_messages_search_gin ON cc_messages USING gin (search);
CREATE INDEX cc_messages_sent_at ON cc_messages (sent_at);
`;

/*
 * Fencing (docs/cluster.md): the epoch of the actor that owns a room, which every
 * fenced write checks in its own transaction, and on each message the epoch that
 * wrote it (NULL for messages stored before). Epochs come from one counter for all
 * rooms, so a room deleted and created again never hands out an old epoch.
 */
const OWNER_EPOCHS = `
ALTER TABLE cc_rooms ADD COLUMN owner_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE cc_messages ADD COLUMN owner_epoch bigint;
`;

const SQLITE_OWNER_EPOCHS = OWNER_EPOCHS + `
CREATE TABLE cc_owner_epochs (id integer PRIMARY KEY CHECK (id = 1), last integer NOT NULL);
INSERT INTO cc_owner_epochs (id, last) VALUES (1, 0);
`;

/** Channel addresses (server/channels/): which customer writes from an email address, a phone number. */
const CHANNEL_ADDRESSES = `
CREATE TABLE cc_channel_addresses (
  type text NOT NULL,
  address text NOT NULL,
  customer_id text NOT NULL,
  PRIMARY KEY (type, address)
);
CREATE INDEX cc_channel_addresses_customer ON cc_channel_addresses (customer_id);
`;

/** A team's live conversations, whole, as its actor keeps them (desk/TeamDesk.ts). */
const TEAM_LIVE = `
CREATE TABLE cc_team_live (
  team_id text PRIMARY KEY,
  live text NOT NULL
);
`;

/** What the pages need: a conversation's CSAT answer (JSON), a team's canned replies (JSON list). */
const WEB_TABLES = `
ALTER TABLE cc_conversations ADD COLUMN csat text;
CREATE TABLE cc_team_canned (team_id text PRIMARY KEY, replies text NOT NULL);
`;

/** The statuses of a team's agents that are not available, whole, as its actor keeps them. */
const TEAM_AGENTS = `
CREATE TABLE cc_team_agents (team_id text PRIMARY KEY, agents text NOT NULL);
`;

export const SQLITE_MIGRATIONS: Migration[] = [
  { version: 1, name: "rooms, conversations, messages, deadlines, leases, outbox, queues", sql: tables("integer", "integer PRIMARY KEY AUTOINCREMENT") },
  { version: 2, name: "records: sender index, FTS5 search, audit, ended index", sql: SQLITE_RECORDS },
  { version: 3, name: "fencing: owner epochs of rooms and messages", sql: SQLITE_OWNER_EPOCHS },
  { version: 4, name: "channel addresses", sql: CHANNEL_ADDRESSES },
  { version: 5, name: "team live conversations", sql: TEAM_LIVE },
  { version: 6, name: "conversation ratings (csat), team canned replies", sql: WEB_TABLES },
  { version: 7, name: "team agent statuses", sql: TEAM_AGENTS },
];

/**
 * cc_append_messages appends a batch in ONE statement (one round trip, one commit):
 * each item locks its room row first, so a concurrent retry of the same message on
 * another node waits and then finds the stored one; a refused item answers a status
 * instead of raising, so it never fails the others. Callers sort a batch by room id,
 * so two nodes' batches lock rooms in the same order and cannot deadlock.
 */
const APPEND_FUNCTION = `
CREATE FUNCTION cc_append_messages(p_rooms text[], p_senders text[], p_ids text[], p_convs text[],
                                   p_kinds text[], p_ats bigint[], p_data text[])
RETURNS TABLE (idx integer, status text, seq bigint, data text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_seq bigint;
  v_data text;
BEGIN
  FOR k IN 1 .. coalesce(array_length(p_rooms, 1), 0) LOOP
    idx := k; seq := NULL; data := NULL;
    PERFORM 1 FROM cc_rooms r WHERE r.room_id = p_rooms[k] FOR UPDATE;
    IF NOT FOUND THEN status := 'no_room'; RETURN NEXT; CONTINUE; END IF;
    SELECT m.seq, m.data INTO v_seq, v_data FROM cc_messages m
      WHERE m.room_id = p_rooms[k] AND m.sender_id = p_senders[k] AND m.client_id = p_ids[k];
    IF FOUND THEN status := 'dup'; seq := v_seq; data := v_data; RETURN NEXT; CONTINUE; END IF;
    PERFORM 1 FROM cc_conversations c WHERE c.room_id = p_rooms[k] AND c.id = p_convs[k] AND c.state = 'active';
    IF NOT FOUND THEN status := 'not_active'; RETURN NEXT; CONTINUE; END IF;
    UPDATE cc_rooms r SET last_seq = r.last_seq + 1, last_activity_at = greatest(r.last_activity_at, p_ats[k])
      WHERE r.room_id = p_rooms[k] RETURNING r.last_seq INTO v_seq;
    UPDATE cc_conversations c SET first_seq = CASE WHEN c.first_seq = 0 THEN v_seq ELSE c.first_seq END,
        last_seq = v_seq, message_count = c.message_count + 1
      WHERE c.room_id = p_rooms[k] AND c.id = p_convs[k];
    INSERT INTO cc_messages (room_id, seq, conversation_id, sender_id, client_id, kind, data)
      VALUES (p_rooms[k], v_seq, p_convs[k], p_senders[k], p_ids[k], p_kinds[k], p_data[k]);
    status := 'new'; seq := v_seq; RETURN NEXT;
  END LOOP;
END
$fn$;
`;

/**
 * The fenced group commit: cc_append_messages with each item's owner epoch (NULL:
 * not fenced). The item's room row is locked first, so the epoch check and the
 * append are one step against a concurrent activation (status 'fenced'). The
 * version without epochs stays for nodes of the previous release during a rolling
 * deploy.
 */
const FENCED_APPEND_FUNCTION = `
CREATE SEQUENCE cc_owner_epochs;
CREATE FUNCTION cc_append_messages(p_rooms text[], p_senders text[], p_ids text[], p_convs text[],
                                   p_kinds text[], p_ats bigint[], p_data text[], p_epochs bigint[])
RETURNS TABLE (idx integer, status text, seq bigint, data text)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_seq bigint;
  v_data text;
  v_owner bigint;
BEGIN
  FOR k IN 1 .. coalesce(array_length(p_rooms, 1), 0) LOOP
    idx := k; seq := NULL; data := NULL;
    SELECT r.owner_epoch INTO v_owner FROM cc_rooms r WHERE r.room_id = p_rooms[k] FOR UPDATE;
    IF NOT FOUND THEN status := 'no_room'; RETURN NEXT; CONTINUE; END IF;
    IF p_epochs[k] IS NOT NULL AND p_epochs[k] <> v_owner THEN status := 'fenced'; RETURN NEXT; CONTINUE; END IF;
    SELECT m.seq, m.data INTO v_seq, v_data FROM cc_messages m
      WHERE m.room_id = p_rooms[k] AND m.sender_id = p_senders[k] AND m.client_id = p_ids[k];
    IF FOUND THEN status := 'dup'; seq := v_seq; data := v_data; RETURN NEXT; CONTINUE; END IF;
    PERFORM 1 FROM cc_conversations c WHERE c.room_id = p_rooms[k] AND c.id = p_convs[k] AND c.state = 'active';
    IF NOT FOUND THEN status := 'not_active'; RETURN NEXT; CONTINUE; END IF;
    UPDATE cc_rooms r SET last_seq = r.last_seq + 1, last_activity_at = greatest(r.last_activity_at, p_ats[k])
      WHERE r.room_id = p_rooms[k] RETURNING r.last_seq INTO v_seq;
    UPDATE cc_conversations c SET first_seq = CASE WHEN c.first_seq = 0 THEN v_seq ELSE c.first_seq END,
        last_seq = v_seq, message_count = c.message_count + 1
      WHERE c.room_id = p_rooms[k] AND c.id = p_convs[k];
    INSERT INTO cc_messages (room_id, seq, conversation_id, sender_id, client_id, kind, data, owner_epoch)
      VALUES (p_rooms[k], v_seq, p_convs[k], p_senders[k], p_ids[k], p_kinds[k], p_data[k], v_owner);
    status := 'new'; seq := v_seq; RETURN NEXT;
  END LOOP;
END
$fn$;
`;

export const POSTGRES_MIGRATIONS: Migration[] = [
  { version: 1, name: "rooms, conversations, messages, deadlines, leases, outbox, queues", sql: tables("bigint", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY") + APPEND_FUNCTION },
  { version: 2, name: "records: sender index, tsvector search, audit, ended index", sql: POSTGRES_RECORDS },
  { version: 3, name: "fencing: owner epochs of rooms and messages, fenced group commit", sql: OWNER_EPOCHS + FENCED_APPEND_FUNCTION },
  { version: 4, name: "channel addresses", sql: CHANNEL_ADDRESSES },
  { version: 5, name: "team live conversations", sql: TEAM_LIVE },
  { version: 6, name: "conversation ratings (csat), team canned replies", sql: WEB_TABLES },
  { version: 7, name: "team agent statuses", sql: TEAM_AGENTS },
];
