-- 001_init.sql — the fretcoach schema.
--
-- Table and column names of sessions, ai_practice_plans and user_configs follow the upstream
-- schema that existing dashboards query (scale_chosen, pitch_accuracy, duration_seconds, ...):
-- never rename them. Every table carries user_id and is protected by row-level security keyed
-- on the per-connection setting fretcoach.user_id (see store/db.py). The runner applies this
-- file once, inside one transaction, under an advisory lock.

CREATE SCHEMA IF NOT EXISTS fretcoach;

-- Practice plans produced by the coach (a model or the offline coach).
CREATE TABLE IF NOT EXISTS fretcoach.ai_practice_plans (
    practice_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         text NOT NULL CHECK (user_id <> ''),
    generated_at    timestamptz NOT NULL DEFAULT now(),
    practice_plan   jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'in_progress', 'completed', 'dismissed')),
    session_id      uuid,
    source          text NOT NULL DEFAULT 'offline' CHECK (source IN ('model', 'offline')),
    prompt_version  text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One practice session (live or analysed file). Written as it happens: a row at start
-- (status active), the summary at the end (status completed); a writer that died leaves an
-- active row that mark_interrupted turns into 'interrupted'.
CREATE TABLE IF NOT EXISTS fretcoach.sessions (
    session_id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               text NOT NULL CHECK (user_id <> ''),
    start_time            timestamptz NOT NULL DEFAULT now(),
    end_time              timestamptz,
    duration_seconds      double precision,
    scale_chosen          text,              -- e.g. 'A minor pentatonic'
    scale_type            text,              -- e.g. 'minor pentatonic'
    pitch_accuracy        double precision,  -- 0..100
    scale_conformity      double precision,  -- 0..100
    timing_stability      double precision,  -- 0..100
    total_notes_played    integer NOT NULL DEFAULT 0,
    correct_notes_played  integer NOT NULL DEFAULT 0,
    bad_notes_played      integer NOT NULL DEFAULT 0,
    sensitivity           double precision,
    strictness            double precision,
    -- ours
    status                text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'completed', 'interrupted')),
    tempo_bpm             double precision,
    input_source          text,              -- 'mic:2', 'file:examples/x.flac', 'demo'
    pitch_model           text,
    a4_hz                 double precision,
    scale_root            text,
    clean_playing         double precision,  -- 0..100
    scale_coverage        double precision,  -- 0..100
    overall_score         double precision,  -- 0..100
    mean_abs_cents        double precision,  -- raw figures the scores derive from
    in_scale_ratio        double precision,
    in_tune_ratio         double precision,
    ioi_cv                double precision,
    mean_abs_grid_dev_ms  double precision,
    clean_ratio           double precision,
    weakest_area          text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    practice_id           uuid REFERENCES fretcoach.ai_practice_plans (practice_id)
                          ON DELETE SET NULL,
    metrics               jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- lets child tables reference (session_id, user_id) so a note can never point at
    -- another user's session
    UNIQUE (session_id, user_id)
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conname = 'ai_practice_plans_session_id_fkey'
                     AND conrelid = 'fretcoach.ai_practice_plans'::regclass) THEN
        ALTER TABLE fretcoach.ai_practice_plans
            ADD CONSTRAINT ai_practice_plans_session_id_fkey FOREIGN KEY (session_id)
            REFERENCES fretcoach.sessions (session_id) ON DELETE SET NULL;
    END IF;
END $$;

-- Every detected note of a session, in order. (session_id, seq) is the key so a replayed
-- batch is inserted with ON CONFLICT DO NOTHING and never duplicates.
CREATE TABLE IF NOT EXISTS fretcoach.session_notes (
    session_id   uuid NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 0),
    user_id      text NOT NULL,
    onset_s      double precision NOT NULL,
    offset_s     double precision NOT NULL,
    midi         double precision,           -- fractional MIDI number, NULL unless kind='note'
    cents        double precision,
    pitch_class  smallint CHECK (pitch_class BETWEEN 0 AND 11),
    note_name    text,
    kind         text NOT NULL DEFAULT 'note' CHECK (kind IN ('note', 'polyphonic', 'unclear')),
    in_scale     boolean,
    in_tune      boolean,
    confidence   double precision,
    level_db     double precision,
    PRIMARY KEY (session_id, seq),
    FOREIGN KEY (session_id, user_id) REFERENCES fretcoach.sessions (session_id, user_id)
        ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS fretcoach.user_configs (
    user_id     text PRIMARY KEY CHECK (user_id <> ''),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,  -- includes enabled metrics
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What the coach said (live tips, session summaries); session_id NULL for replies outside
-- a session.
CREATE TABLE IF NOT EXISTS fretcoach.coach_replies (
    reply_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  uuid,
    user_id     text NOT NULL CHECK (user_id <> ''),
    at          timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL DEFAULT 'offline',
    kind        text NOT NULL DEFAULT 'live',
    text        text NOT NULL,
    FOREIGN KEY (session_id, user_id) REFERENCES fretcoach.sessions (session_id, user_id)
        ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS fretcoach.chat_threads (
    thread_id   text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    user_id     text NOT NULL CHECK (user_id <> ''),
    title       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-user time-range queries (history, stats, streaks) and common lookups.
CREATE INDEX IF NOT EXISTS sessions_user_start_idx
    ON fretcoach.sessions (user_id, start_time DESC);
CREATE INDEX IF NOT EXISTS sessions_user_scale_start_idx
    ON fretcoach.sessions (user_id, scale_chosen, start_time DESC);
CREATE INDEX IF NOT EXISTS sessions_active_idx
    ON fretcoach.sessions (user_id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS sessions_practice_idx
    ON fretcoach.sessions (practice_id) WHERE practice_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS plans_user_generated_idx
    ON fretcoach.ai_practice_plans (user_id, generated_at DESC);
CREATE INDEX IF NOT EXISTS plans_user_pending_idx
    ON fretcoach.ai_practice_plans (user_id, generated_at DESC) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS plans_session_idx
    ON fretcoach.ai_practice_plans (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS coach_replies_session_idx
    ON fretcoach.coach_replies (session_id, at);
CREATE INDEX IF NOT EXISTS coach_replies_user_at_idx
    ON fretcoach.coach_replies (user_id, at DESC);
CREATE INDEX IF NOT EXISTS chat_threads_user_updated_idx
    ON fretcoach.chat_threads (user_id, updated_at DESC);

-- Row-level security: a row is visible and writable only when its user_id equals the
-- connection's fretcoach.user_id setting. FORCE applies the policies to the table owner too,
-- so an external server where we cannot create roles still scopes rows (unless the owner is a
-- superuser or has BYPASSRLS — `fretcoach db status` warns about that).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sessions', 'session_notes', 'ai_practice_plans', 'user_configs',
                             'coach_replies', 'chat_threads']
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

-- Roles (cluster-wide, NOLOGIN): fretcoach_app is what a user-scoped connection switches to
-- (SET ROLE), because superusers — the embedded server connects as one — bypass RLS;
-- fretcoach_reader is the read-only role for the chat agent's SQL. Creating roles needs
-- CREATEROLE: without it we only leave a notice, and `fretcoach db status` reports a WARN.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
        CREATE ROLE fretcoach_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
        CREATE ROLE fretcoach_reader NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'fretcoach: cannot create roles (%); row scoping relies on FORCE RLS', SQLERRM;
    WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database of this cluster created them at the same moment
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
        GRANT USAGE ON SCHEMA fretcoach TO fretcoach_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            fretcoach.sessions, fretcoach.session_notes, fretcoach.ai_practice_plans,
            fretcoach.user_configs, fretcoach.coach_replies, fretcoach.chat_threads
            TO fretcoach_app;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA fretcoach TO fretcoach_app;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
        GRANT USAGE ON SCHEMA fretcoach TO fretcoach_reader;
        GRANT SELECT ON
            fretcoach.sessions, fretcoach.session_notes, fretcoach.ai_practice_plans,
            fretcoach.user_configs
            TO fretcoach_reader;
    END IF;
END $$;

-- A non-superuser that created the roles holds ADMIN on them but (PostgreSQL 16+) may not be
-- able to SET ROLE to them until it grants itself membership.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
            EXECUTE format('GRANT fretcoach_app TO %I', current_user);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
            EXECUTE format('GRANT fretcoach_reader TO %I', current_user);
        END IF;
    END IF;
EXCEPTION
    WHEN insufficient_privilege OR invalid_grant_operation THEN
        RAISE NOTICE 'fretcoach: cannot join the fretcoach roles (%)', SQLERRM;
END $$;
