-- 075_keyed_tombstones.sql — deletions of the per-user tables with a natural key travel too.
--
-- Until now only sessions and plans left a tombstone (010), so a memory forgotten, a chat
-- thread or a rating removed, or a calibration cleared on one machine came back from the other
-- on the next two-way sync. Now coach_ratings (reply_uuid), coach_memories (norm),
-- input_latency (device_key), user_configs (user_id) and chat_threads (thread_id) leave one
-- too, and sync applies it last-writer-wins against the row's own stamp (reports/carry.py).
--
-- Shape: the natural key (text) goes to the new column row_key; row_id (uuid, the primary key
-- with table_name) becomes fretcoach.tombstone_id(table, user, key), an md5 uuid of the three.
-- Existing tombstones, the primary key and every query on (table_name, row_id) stay as they
-- are (no data change, nothing to backfill under FORCE RLS); the user is part of the hash
-- because these keys are only unique per user (two players may both remember "sore wrist").
-- A memory whose text is edited changes its key: the old key is tombstoned as well, so the
-- old wording does not come back from the other side.

ALTER TABLE fretcoach.deleted_rows ADD COLUMN IF NOT EXISTS row_key text;

ALTER TABLE fretcoach.deleted_rows DROP CONSTRAINT IF EXISTS deleted_rows_table_name_check;
ALTER TABLE fretcoach.deleted_rows ADD CONSTRAINT deleted_rows_table_name_check
    CHECK (table_name IN ('sessions', 'ai_practice_plans', 'coach_ratings', 'coach_memories',
                          'input_latency', 'user_configs', 'chat_threads'));
ALTER TABLE fretcoach.deleted_rows DROP CONSTRAINT IF EXISTS deleted_rows_row_key_check;
ALTER TABLE fretcoach.deleted_rows ADD CONSTRAINT deleted_rows_row_key_check
    CHECK (row_key IS NOT NULL OR table_name IN ('sessions', 'ai_practice_plans'));

COMMENT ON COLUMN fretcoach.deleted_rows.row_key IS
    'natural key of the deleted row as text for tables keyed by something other than a '
    'uuid of their own (reply_uuid, norm, device_key, user_id, thread_id); NULL for sessions '
    'and plans, whose row_id is the key';
COMMENT ON COLUMN fretcoach.deleted_rows.row_id IS
    'session_id or practice_id; for the other tables fretcoach.tombstone_id(table_name, '
    'user_id, row_key)';

CREATE OR REPLACE FUNCTION fretcoach.tombstone_id(tbl text, usr text, row_key text)
RETURNS uuid LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT md5(tbl || ':' || length(usr) || ':' || usr || ':' || row_key)::uuid
$$;
COMMENT ON FUNCTION fretcoach.tombstone_id(text, text, text) IS
    'row_id of the tombstone of a row known by a natural key (row_key) of one user';

-- AFTER DELETE (and, for a key change, AFTER UPDATE OF the key): TG_ARGV[0] names the key
-- column, TG_ARGV[1] the column last writer wins on. Sync sets fretcoach.sync = on and
-- fretcoach.sync_deleted_at to keep the source's deletion time, as record_deletion (010).
CREATE OR REPLACE FUNCTION fretcoach.record_keyed_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    key text := old_row ->> TG_ARGV[0];
BEGIN
    IF TG_OP = 'UPDATE' AND key IS NOT DISTINCT FROM (to_jsonb(NEW) ->> TG_ARGV[0]) THEN
        RETURN NULL;
    END IF;
    INSERT INTO fretcoach.deleted_rows (table_name, row_id, row_key, user_id, deleted_at)
    VALUES (TG_TABLE_NAME, fretcoach.tombstone_id(TG_TABLE_NAME, OLD.user_id, key), key,
            OLD.user_id,
            CASE WHEN coalesce(current_setting('fretcoach.sync', true), '') = 'on'
                      AND current_setting('fretcoach.sync_deleted_at', true) <> ''
                 THEN current_setting('fretcoach.sync_deleted_at', true)::timestamptz
                 ELSE greatest(now(), (old_row ->> TG_ARGV[1])::timestamptz) END)
    ON CONFLICT (table_name, row_id) DO UPDATE SET deleted_at = excluded.deleted_at;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION fretcoach.record_keyed_deletion() IS
    'trigger: tombstone (deleted_rows) for a deleted row of a table with a natural key; '
    'arguments: key column, last-writer-wins stamp column';

-- A row that comes back (sync of a copy changed after the deletion, import, re-insert).
CREATE OR REPLACE FUNCTION fretcoach.clear_keyed_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fretcoach.deleted_rows
     WHERE table_name = TG_TABLE_NAME
       AND row_id = fretcoach.tombstone_id(TG_TABLE_NAME, NEW.user_id,
                                           to_jsonb(NEW) ->> TG_ARGV[0]);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION fretcoach.clear_keyed_deletion() IS
    'trigger: a row inserted again (or renamed to a deleted key) is no longer deleted; '
    'argument: key column';

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('coach_ratings', 'reply_uuid', 'rated_at'),
                                   ('coach_memories', 'norm', 'updated_at'),
                                   ('input_latency', 'device_key', 'measured_at'),
                                   ('user_configs', 'user_id', 'updated_at'),
                                   ('chat_threads', 'thread_id', 'updated_at'))
                           AS v(tbl, key, stamp)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON fretcoach.%I',
                       t.tbl || '_record_deletion', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON fretcoach.%I FOR EACH ROW '
                       'EXECUTE FUNCTION fretcoach.record_keyed_deletion(%L, %L)',
                       t.tbl || '_record_deletion', t.tbl, t.key, t.stamp);
        EXECUTE format('COMMENT ON TRIGGER %I ON fretcoach.%I IS %L',
                       t.tbl || '_record_deletion', t.tbl,
                       'a deletion leaves a tombstone in deleted_rows, so sync carries it');
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON fretcoach.%I',
                       t.tbl || '_clear_deletion', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON fretcoach.%I FOR EACH ROW '
                       'EXECUTE FUNCTION fretcoach.clear_keyed_deletion(%L)',
                       t.tbl || '_clear_deletion', t.tbl, t.key);
        EXECUTE format('COMMENT ON TRIGGER %I ON fretcoach.%I IS %L',
                       t.tbl || '_clear_deletion', t.tbl,
                       'a row that comes back clears its tombstone');
    END LOOP;
END $$;

-- A memory's key is its normalised text, which `memory edit` changes.
DROP TRIGGER IF EXISTS coach_memories_record_rekey ON fretcoach.coach_memories;
CREATE TRIGGER coach_memories_record_rekey AFTER UPDATE OF norm ON fretcoach.coach_memories
    FOR EACH ROW WHEN (OLD.norm IS DISTINCT FROM NEW.norm)
    EXECUTE FUNCTION fretcoach.record_keyed_deletion('norm', 'updated_at');
COMMENT ON TRIGGER coach_memories_record_rekey ON fretcoach.coach_memories IS
    'an edited memory tombstones its old wording, so sync does not bring it back';
DROP TRIGGER IF EXISTS coach_memories_clear_rekey ON fretcoach.coach_memories;
CREATE TRIGGER coach_memories_clear_rekey AFTER UPDATE OF norm ON fretcoach.coach_memories
    FOR EACH ROW WHEN (OLD.norm IS DISTINCT FROM NEW.norm)
    EXECUTE FUNCTION fretcoach.clear_keyed_deletion('norm');
COMMENT ON TRIGGER coach_memories_clear_rekey ON fretcoach.coach_memories IS
    'a memory edited to a wording deleted before clears that tombstone';

