-- One place for what every per-user table needs (README "Rules for a new migration"):
-- RLS enabled and forced, the own-rows policy, the agent login's restrictive scope (the one
-- 021 gives every user_id table, so re-running 021 changes nothing), and the app role's DML.
-- Later migrations call it after CREATE TABLE; it is idempotent like the statements it runs.
CREATE OR REPLACE FUNCTION fretcoach.secure_user_table(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE fretcoach.%I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE fretcoach.%I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS %I ON fretcoach.%I', tbl || '_own_rows', tbl);
    EXECUTE format(
        'CREATE POLICY %I ON fretcoach.%I '
        'USING (user_id = current_setting(''fretcoach.user_id'', true)) '
        'WITH CHECK (user_id = current_setting(''fretcoach.user_id'', true))',
        tbl || '_own_rows', tbl);
    EXECUTE format('DROP POLICY IF EXISTS %I ON fretcoach.%I', tbl || '_agent_scope', tbl);
    EXECUTE format(
        'CREATE POLICY %I ON fretcoach.%I AS RESTRICTIVE FOR ALL TO PUBLIC '
        'USING (current_user NOT IN (''fretcoach_reader'', ''fretcoach_agent'') '
        '       OR user_id = (SELECT fretcoach.agent_scope())) '
        'WITH CHECK (current_user NOT IN (''fretcoach_reader'', ''fretcoach_agent'') '
        '       OR user_id = (SELECT fretcoach.agent_scope()))',
        tbl || '_agent_scope', tbl);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_app') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON fretcoach.%I TO fretcoach_app',
                       tbl);
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA fretcoach TO fretcoach_app;
    END IF;
END
$fn$;
-- Only migrations (the owner) call it: no other role may run DDL through it.
REVOKE ALL ON FUNCTION fretcoach.secure_user_table(text) FROM PUBLIC;
