-- 010_reports.sql — what history, export/import and sync need on top of 001_init.
--
-- * updated_at is kept by a trigger on sessions and ai_practice_plans so last-writer-wins
--   sync can trust it; sync and import set the transaction-local setting fretcoach.sync = 'on'
--   to keep the source's timestamp instead.
-- * deleted_rows records deletions (tombstones) so a delete can travel to another database.
-- * sync_marks holds the per-peer, per-table high-water marks that make sync resumable.
-- * instance gives each database a stable identity to key those marks on.

CREATE TABLE IF NOT EXISTS fretcoach.instance (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    instance_id uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fretcoach.instance DEFAULT VALUES ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS fretcoach.deleted_rows (
    table_name  text NOT NULL CHECK (table_name IN ('sessions', 'ai_practice_plans')),
    row_id      uuid NOT NULL,
    user_id     text NOT NULL CHECK (user_id <> ''),
    deleted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, row_id)
);
CREATE INDEX IF NOT EXISTS deleted_rows_user_deleted_idx
    ON fretcoach.deleted_rows (user_id, deleted_at, row_id);

CREATE TABLE IF NOT EXISTS fretcoach.sync_marks (
    user_id     text NOT NULL CHECK (user_id <> ''),
    peer        uuid NOT NULL,                 -- the other database's instance_id
    direction   text NOT NULL CHECK (direction IN ('push', 'pull')),
    table_name  text NOT NULL,
    mark_time   timestamptz NOT NULL,          -- last (updated_at, key) fully copied
    mark_key    text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, peer, direction, table_name)
);

-- Sync reads each user's rows in (updated_at, key) order from a high-water mark.
CREATE INDEX IF NOT EXISTS sessions_user_updated_idx
    ON fretcoach.sessions (user_id, updated_at, session_id);
CREATE INDEX IF NOT EXISTS plans_user_updated_idx
    ON fretcoach.ai_practice_plans (user_id, updated_at, practice_id);

CREATE OR REPLACE FUNCTION fretcoach.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('fretcoach.sync', true), '') = 'on' THEN
        RETURN NEW;  -- sync/import: keep the timestamp of the copy being applied
    END IF;
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := greatest(now(), OLD.updated_at);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION fretcoach.record_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key uuid;
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        key := OLD.session_id;
    ELSE
        key := OLD.practice_id;
    END IF;
    INSERT INTO fretcoach.deleted_rows (table_name, row_id, user_id, deleted_at)
    VALUES (TG_TABLE_NAME, key, OLD.user_id,
            CASE WHEN coalesce(current_setting('fretcoach.sync', true), '') = 'on'
                      AND current_setting('fretcoach.sync_deleted_at', true) <> ''
                 THEN current_setting('fretcoach.sync_deleted_at', true)::timestamptz
                 ELSE greatest(now(), OLD.updated_at) END)
    ON CONFLICT (table_name, row_id) DO UPDATE SET deleted_at = excluded.deleted_at;
    RETURN OLD;
END $$;

-- A row that comes back (import, sync, re-insert) is no longer deleted.
CREATE OR REPLACE FUNCTION fretcoach.clear_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fretcoach.deleted_rows
    WHERE table_name = TG_TABLE_NAME
      AND row_id = CASE WHEN TG_TABLE_NAME = 'sessions' THEN NEW.session_id
                        ELSE NEW.practice_id END;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS sessions_touch_updated_at ON fretcoach.sessions;
CREATE TRIGGER sessions_touch_updated_at BEFORE UPDATE ON fretcoach.sessions
    FOR EACH ROW EXECUTE FUNCTION fretcoach.touch_updated_at();
DROP TRIGGER IF EXISTS plans_touch_updated_at ON fretcoach.ai_practice_plans;
CREATE TRIGGER plans_touch_updated_at BEFORE UPDATE ON fretcoach.ai_practice_plans
    FOR EACH ROW EXECUTE FUNCTION fretcoach.touch_updated_at();
DROP TRIGGER IF EXISTS sessions_record_deletion ON fretcoach.sessions;
CREATE TRIGGER sessions_record_deletion AFTER DELETE ON fretcoach.sessions
    FOR EACH ROW EXECUTE FUNCTION fretcoach.record_deletion();
DROP TRIGGER IF EXISTS plans_record_deletion ON fretcoach.ai_practice_plans;
CREATE TRIGGER plans_record_deletion AFTER DELETE ON fretcoach.ai_practice_plans
    FOR EACH ROW EXECUTE FUNCTION fretcoach.record_deletion();

DROP TRIGGER IF EXISTS sessions_clear_deletion ON fretcoach.sessions;
CREATE TRIGGER sessions_clear_deletion AFTER INSERT ON fretcoach.sessions
    FOR EACH ROW EXECUTE FUNCTION fretcoach.clear_deletion();
DROP TRIGGER IF EXISTS plans_clear_deletion ON fretcoach.ai_practice_plans;
CREATE TRIGGER plans_clear_deletion AFTER INSERT ON fretcoach.ai_practice_plans
    FOR EACH ROW EXECUTE FUNCTION fretcoach.clear_deletion();

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['deleted_rows', 'sync_marks']
    LOOP
        EXECUTE format('ALTER TABLE fretcoach.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE fretcoach.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS %I ON fretcoach.%I', t || '_own_rows', t);
        EXECUTE format(
            'CREATE POLICY %I ON fretcoach.%I '
            'USING (user_id = current_setting(''fretcoach.user_id'', true)) '
            'WITH CHECK (user_id = current_setting(''fretcoach.user_id'', true))',
            t || '_own_rows', t);
    END LOOP;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
        GRANT SELECT ON fretcoach.instance TO fretcoach_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON fretcoach.deleted_rows, fretcoach.sync_marks
            TO fretcoach_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
        GRANT SELECT ON fretcoach.instance TO fretcoach_reader;
    END IF;
END $$;
