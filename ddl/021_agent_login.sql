-- 021_agent_login.sql — a session user for the chat agent that cannot become anyone else.
--
-- Until now the agent's query connection logged in as the connecting (on the embedded server:
-- super)user and did SET ROLE fretcoach_reader, so SQL on it could RESET ROLE and be that user
-- again; only the SQL guard stopped it. With this file:
--
-- * fretcoach_agent is the agent's session user: NOSUPERUSER NOCREATEDB NOCREATEROLE
--   NOREPLICATION NOBYPASSRLS NOINHERIT, no privilege of its own, a member of fretcoach_reader
--   that does not inherit it (the session does SET ROLE fretcoach_reader). RESET ROLE leaves it
--   with no privilege at all (not even USAGE on schema fretcoach); SET ROLE works only back to
--   fretcoach_reader; SET SESSION AUTHORIZATION needs a superuser session. It is created
--   NOLOGIN: store/roles.py turns LOGIN on for the embedded server only (trust authentication
--   on a Unix socket in the data dir, no TCP). On an external server an administrator may run
--   ALTER ROLE fretcoach_agent LOGIN PASSWORD '...' and set FRETCOACH_AGENT_DATABASE_URL.
-- * The user scope fretcoach.user_id is a setting any session can change with set_config. For
--   reader sessions it is also pinned from outside the session: whoever opens the connection
--   registers (backend pid, backend start, user) in fretcoach.agent_scopes on an owner
--   connection, and a RESTRICTIVE policy on every table with a user_id requires, for the roles
--   fretcoach_reader/fretcoach_agent, user_id = fretcoach.agent_scope() — the user registered
--   for the calling backend (SECURITY DEFINER; the table itself is the owner's only).
--   A later migration adding a user table must add the same policy (`fretcoach db status`
--   reports a reader-visible table without it) and grant the reader, never fretcoach_agent.

CREATE TABLE IF NOT EXISTS fretcoach.agent_scopes (
    pid            integer PRIMARY KEY,
    backend_start  timestamptz,            -- NULL when the owner may not see it (pid only)
    scoped_user    text NOT NULL CHECK (scoped_user <> ''),
    registered_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON fretcoach.agent_scopes FROM PUBLIC;

-- EXECUTE stays granted to PUBLIC: every role's queries plan the policy's sub-select, and the
-- function only ever tells a backend its own registration (NULL when there is none).
CREATE OR REPLACE FUNCTION fretcoach.agent_scope() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.scoped_user
    FROM fretcoach.agent_scopes s
    WHERE s.pid = pg_backend_pid()
      AND s.backend_start IS NOT DISTINCT FROM
          (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid())
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_agent') THEN
        CREATE ROLE fretcoach_agent NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            NOBYPASSRLS NOINHERIT;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'fretcoach: cannot create role fretcoach_agent (%)', SQLERRM;
    WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another database of this cluster created it at the same moment
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_agent')
       AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') THEN
        IF current_setting('server_version_num')::int >= 160000 THEN
            EXECUTE 'GRANT fretcoach_reader TO fretcoach_agent WITH INHERIT FALSE, SET TRUE';
        ELSE
            GRANT fretcoach_reader TO fretcoach_agent;  -- NOINHERIT on the role: no inheritance
        END IF;
    END IF;
EXCEPTION
    WHEN insufficient_privilege OR invalid_grant_operation THEN
        RAISE NOTICE 'fretcoach: cannot make fretcoach_agent a member of fretcoach_reader (%)',
            SQLERRM;
END $$;

-- The scope pin: restrictive (ANDed with the *_own_rows policies), on every table with user_id.
-- TO PUBLIC with a current_user test rather than TO fretcoach_reader: a non-superuser owner
-- may be an inheriting member of fretcoach_reader (001) and must not be affected; for other
-- roles the sub-select is never evaluated.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'fretcoach' AND c.relkind IN ('r', 'p') AND c.relname <> 'agent_scopes'
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'user_id' AND NOT a.attisdropped)
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON fretcoach.%I', t || '_agent_scope', t);
        EXECUTE format(
            'CREATE POLICY %I ON fretcoach.%I AS RESTRICTIVE FOR ALL TO PUBLIC '
            'USING (current_user NOT IN (''fretcoach_reader'', ''fretcoach_agent'') '
            '       OR user_id = (SELECT fretcoach.agent_scope())) '
            'WITH CHECK (current_user NOT IN (''fretcoach_reader'', ''fretcoach_agent'') '
            '       OR user_id = (SELECT fretcoach.agent_scope()))',
            t || '_agent_scope', t);
    END LOOP;
END $$;
