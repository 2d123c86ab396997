-- 032_agent_temp_limit.sql — cap the chat agent's temporary files.
--
-- PostgreSQL does not cancel a statement in the middle of one huge string operation or while
-- it spills to temporary files, so a value bomb (recursive doubling, `s || s` chains) ran
-- 4–17 s past the 3 s statement timeout with gigabytes of temp files (bench/sql_attacks.py
-- --heavy). With temp_file_limit the same queries fail in a fraction of a second with a
-- clear error. temp_file_limit can only be set by a superuser: on a server where we are not
-- one, this is skipped with a notice (the parser, the read-only role, the statement timeout
-- and the row cap still hold).

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_agent') THEN
        ALTER ROLE fretcoach_agent SET temp_file_limit = '64MB';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'fretcoach: temp_file_limit for fretcoach_agent not set (needs a superuser)';
END $$;
