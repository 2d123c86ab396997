"""Security suite: attacks on the agent's ``run_sql`` against a real PostgreSQL.

Two users have data (sessions, notes, plans, coach replies and report-cache rows); the
attacker's runner is what the agent would use. Every attack must be refused or harmless: no
row of any table changes (a checksum of every table of the fretcoach schemas, sequences,
advisory locks, relations, roles and extensions are compared before/after), nothing of the
victim's comes back, the connection keeps its role and user, and the database still answers.

``test_corpus_counts`` runs the whole corpus once more and prints the tally (refused / timed
out / other database error / harmless own-row reads); ``python bench/sql_attacks.py`` prints
the same on a throw-away server. ``test_layers_below_the_parser`` sends every query the
parser refuses *raw* to the reader connection: the role, row-level security and the read-only
transaction must hold on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fretcoach_cli.chat.sql_run import MAX_CELL_CHARS, QueryResult, ScopeViolation, SqlRunner

TIMEOUT_S = 1.0
MAX_ROWS = 50
#: every table of the fretcoach schema (test_write_corpus_covers_every_table keeps it whole)
WRITE_TABLES = ("sessions", "session_notes", "ai_practice_plans", "user_configs",
                "coach_replies", "chat_threads", "deleted_rows", "schema_migrations",
                "instance", "sync_marks", "report_zones", "report_days", "agent_scopes",
                "coach_memories", "coach_ratings", "exercise_verdicts", "input_latency")

# guard refused / reached the DB and failed / cancelled by a bound (the statement timeout, or
# the agent role's temp_file_limit that stops value and series bombs sooner) / ran
R, E, T, H = "refused", "error", "timed out", "harmless"
#: fails on a server limit or on the timeout, whichever comes first on this machine
E_OR_T = "error or timed out"

ATTACKS: list[tuple[str, str, str]] = [
    # -- several statements, transaction control -----------------------------------------
    ("multi-delete", "SELECT 1; DELETE FROM sessions", R),
    ("commit-delete", "COMMIT; DELETE FROM sessions", R),
    ("rollback-delete", "ROLLBACK; DELETE FROM sessions", R),
    ("end-delete-select", "END; DELETE FROM sessions; SELECT 1", R),
    ("commit-drop", "SELECT 1; COMMIT; DROP TABLE fretcoach.sessions", R),
    ("begin-delete-commit", "BEGIN; DELETE FROM sessions; COMMIT", R),
    ("delete", "DELETE FROM sessions", R),
    ("update", "UPDATE sessions SET pitch_accuracy = 0", R),
    ("insert", "INSERT INTO sessions (user_id) VALUES ('x')", R),
    ("truncate", "TRUNCATE sessions", R),
    ("drop", "DROP TABLE sessions", R),
    ("disable-rls", "ALTER TABLE sessions DISABLE ROW LEVEL SECURITY", R),
    ("merge", "MERGE INTO sessions s USING sessions t ON false WHEN NOT MATCHED THEN "
              "DO NOTHING", R),
    # -- comment tricks ------------------------------------------------------------------
    ("block-comment-delete", "/* SELECT */ DELETE FROM sessions", R),
    ("line-comment-delete", "-- SELECT 1\nDELETE FROM sessions", R),
    ("comment-hides-delete", "SELECT 1 /* ; DELETE FROM sessions */", H),
    ("line-comment-hides", "SELECT 1 -- ; DELETE FROM sessions", H),
    ("nested-comment", "SELECT 1 /* a /* b */ ; DELETE FROM sessions */", H),
    ("comment-as-space", "SELECT/**/count(*)/**/FROM/**/sessions", H),
    # -- changing the user scope or role ------------------------------------------------
    ("set-config-user", "SELECT set_config('fretcoach.user_id', '{victim}', false)", R),
    ("set-config-role", "SELECT set_config('role', 'postgres', false)", R),
    ("set-config-qualified", "SELECT pg_catalog.set_config('fretcoach.user_id', 'v', false)", R),
    ("set-config-in-where", "SELECT * FROM sessions WHERE set_config('fretcoach.user_id', "
                            "'{victim}', true) IS NOT NULL", R),
    ("set-config-quoted", "SELECT \"set_config\"('fretcoach.user_id', '{victim}', false)", R),
    ("set-user", "SET fretcoach.user_id = '{victim}'", R),
    ("set-role", "SET ROLE postgres", R),
    ("reset-role", "RESET ROLE", R),
    ("session-authorization", "SET SESSION AUTHORIZATION postgres", R),
    ("reset-all", "RESET ALL", R),
    ("set-local-timeout", "SET LOCAL statement_timeout = 0", R),
    ("current-setting", "SELECT current_setting('fretcoach.user_id')", R),
    # -- other users' rows -------------------------------------------------------------
    ("victim-by-user", "SELECT * FROM sessions WHERE user_id = '{victim}'", H),
    ("victim-by-id", "SELECT * FROM sessions WHERE session_id = '{victim_sid}'", H),
    ("victim-notes", "SELECT * FROM session_notes WHERE session_id = '{victim_sid}'", H),
    ("all-sessions", "SELECT session_id, user_id FROM fretcoach.sessions", H),
    ("plans-not-mine", "SELECT * FROM ai_practice_plans WHERE user_id <> '{attacker}'", H),
    ("user-configs", "SELECT * FROM user_configs", R),
    ("coach-replies", "SELECT * FROM coach_replies", R),
    ("chat-threads", "SELECT * FROM chat_threads", R),
    ("deleted-rows", "SELECT * FROM fretcoach.deleted_rows", R),
    # -- system catalogs -----------------------------------------------------------------
    ("pg-authid", "SELECT * FROM pg_authid", R),
    ("pg-user", "SELECT * FROM pg_catalog.pg_user", R),
    ("pg-stat-activity", "SELECT query FROM pg_stat_activity", R),
    ("information-schema", "SELECT * FROM information_schema.tables", R),
    ("pg-settings", "SELECT * FROM pg_settings", R),
    ("pg-roles", "SELECT rolname FROM pg_roles", R),
    ("cte-shadow", "WITH x AS (SELECT * FROM pg_stat_activity), pg_stat_activity AS "
                   "(SELECT 1) SELECT * FROM x", R),
    ("checkpoints", "SELECT * FROM fretcoach_chat.checkpoints", R),
    ("schema-migrations", "SELECT * FROM fretcoach.schema_migrations", R),
    ("regclass", "SELECT 'pg_authid'::regclass::oid", R),
    ("quoted-catalog", "SELECT * FROM \"pg_authid\"", R),
    ("unicode-ident", "SELECT * FROM U&\"pg\\0061uthid\"", R),
    # -- files, network, programs --------------------------------------------------------
    ("pg-read-file", "SELECT pg_read_file('/etc/passwd')", R),
    ("pg-read-file-qualified", "SELECT pg_catalog.pg_read_file('/etc/passwd')", R),
    ("pg-read-binary-file", "SELECT * FROM pg_read_binary_file('/etc/passwd')", R),
    ("pg-ls-dir", "SELECT pg_ls_dir('.')", R),
    ("lo-import", "SELECT lo_import('/etc/passwd')", R),
    ("dblink", "SELECT * FROM dblink('host=127.0.0.1', 'select 1') AS t(a int)", R),
    ("copy-to-file", "COPY sessions TO '/tmp/stolen'", R),
    ("copy-program", "COPY (SELECT 1) TO PROGRAM 'id'", R),
    ("create-extension", "CREATE EXTENSION dblink", R),
    ("do-block", "DO $$ BEGIN DELETE FROM fretcoach.sessions; END $$", R),
    ("query-to-xml", "SELECT query_to_xml('delete from fretcoach.sessions', true, false, '')",
     R),
    ("load", "LOAD 'plpgsql'", R),
    # -- writable CTEs, locking, INTO ------------------------------------------------------
    ("cte-delete", "WITH d AS (DELETE FROM sessions RETURNING *) SELECT * FROM d", R),
    ("cte-update", "WITH u AS (UPDATE sessions SET pitch_accuracy = 0 RETURNING 1) "
                   "SELECT count(*) FROM u", R),
    ("cte-insert", "WITH i AS (INSERT INTO ai_practice_plans (user_id, practice_plan) "
                   "VALUES ('x', '{{}}') RETURNING 1) SELECT * FROM i", R),
    ("for-update", "SELECT * FROM sessions FOR UPDATE", R),
    ("for-share", "SELECT * FROM sessions FOR SHARE", R),
    ("for-no-key-update", "SELECT * FROM sessions FOR NO KEY UPDATE SKIP LOCKED", R),
    ("nested-for-update", "SELECT * FROM (SELECT * FROM sessions FOR UPDATE) s", R),
    ("select-into", "SELECT * INTO TEMP stolen FROM sessions", R),
    ("create-table-as", "CREATE TABLE stolen AS SELECT * FROM sessions", R),
    ("explain-analyze", "EXPLAIN ANALYZE DELETE FROM sessions", R),
    ("prepare", "PREPARE p AS DELETE FROM sessions", R),
    ("execute", "EXECUTE p", R),
    ("listen", "LISTEN x", R),
    ("vacuum", "VACUUM sessions", R),
    # -- sleeping, huge work, huge results --------------------------------------------------
    ("pg-sleep", "SELECT pg_sleep(30)", R),
    ("pg-sleep-for", "SELECT pg_sleep_for('30 seconds')", R),
    ("sleep-in-exists", "SELECT * FROM sessions WHERE EXISTS (SELECT pg_sleep(5))", R),
    ("sleep-lateral", "SELECT * FROM sessions, LATERAL (SELECT pg_sleep(1)) x", R),
    ("huge-series", "SELECT count(*) FROM generate_series(1, 2000000000)", T),
    ("cross-join", "SELECT count(*) FROM session_notes a, session_notes b, session_notes c, "
                   "session_notes d", T),
    ("endless-recursion", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                          "SELECT count(*) FROM r", T),
    ("huge-result", "SELECT generate_series(1, 100000000)", H),  # streamed: capped
    ("huge-function-scan", "SELECT * FROM generate_series(1, 100000000)", T),  # materialised
    ("huge-notes-product", "SELECT a.seq, b.seq FROM session_notes a, session_notes b", H),
    ("repeat-bomb", "SELECT repeat('x', 500000000)", R),
    ("lpad-bomb", "SELECT lpad('x', 1000000000)", R),
    # -- functions with side effects -----------------------------------------------------
    ("nextval", "SELECT nextval('fretcoach.coach_replies_reply_id_seq')", R),
    ("setval", "SELECT setval('fretcoach.coach_replies_reply_id_seq', 1)", R),
    ("advisory-lock", "SELECT pg_advisory_lock(42)", R),
    ("try-advisory-lock", "SELECT pg_try_advisory_lock(42)", R),
    ("txid-current", "SELECT txid_current()", R),
    ("xact-id", "SELECT pg_current_xact_id()", R),
    ("notify", "SELECT pg_notify('x', 'y')", R),
    ("terminate", "SELECT pg_terminate_backend(pg_backend_pid())", R),
    ("cancel", "SELECT pg_cancel_backend(1)", R),
    ("reload-conf", "SELECT pg_reload_conf()", R),
    ("setseed", "SELECT setseed(0.5)", R),
    ("functional-notation", "SELECT s.to_json FROM sessions s", R),
    ("functional-indirection", "SELECT (s).to_jsonb FROM sessions s", R),
    # -- unicode and quoting tricks --------------------------------------------------------
    ("escaped-quote", "SELECT E'\\'; DELETE FROM sessions; --'", H),
    ("doubled-quote", "SELECT 'a''; DELETE FROM sessions; --'", H),
    ("unicode-escape-quote", "SELECT U&'\\0027; DELETE FROM sessions; --'", H),
    ("greek-question-mark", "SELECT 1\u037e DELETE FROM sessions", R),
    ("nul-byte", "SELECT 1\x00; DELETE FROM sessions", R),
    ("zero-width-space", "SEL\u200bECT 1", R),
    ("fullwidth-semicolon", "SELECT 1\uff1b DELETE FROM sessions", R),
    ("quoted-mixed-case", "SELECT * FROM \"Sessions\"", R),
    ("quoted-table", "SELECT count(*) FROM \"sessions\"", H),
    # -- dollar quoting ------------------------------------------------------------------
    ("dollar-hides-delete", "SELECT $$; DELETE FROM sessions; $$", H),
    ("tagged-dollar", "SELECT $a$ $$ ; DELETE FROM sessions $a$", H),
    ("dollar-then-delete", "SELECT $$x$$; DELETE FROM sessions", R),
    ("do-set-config", "DO $$ BEGIN PERFORM set_config('fretcoach.user_id', 'v', false); "
                      "END $$", R),
    ("unterminated-dollar", "SELECT $tag$unterminated", R),
    # -- odd but legal ---------------------------------------------------------------------
    ("table-statement", "TABLE sessions", H),
    ("only", "SELECT count(*) FROM ONLY sessions", H),
    ("operator-qualified", "SELECT 1 OPERATOR(pg_catalog.+) 1", R),
    ("param-ref", "SELECT $1", R),
    ("tablesample", "SELECT * FROM sessions TABLESAMPLE SYSTEM (50)", R),
    ("xmlparse", "SELECT xmlparse(document '<x/>')", R),
]


# -- issue 16: a larger corpus ---------------------------------------------------------------
ATTACKS += [
    # several statements and transaction control, more shapes
    ("select-commit-update", "SELECT 1; COMMIT; UPDATE sessions SET overall_score = 0", R),
    ("abort-insert", "ABORT; INSERT INTO ai_practice_plans (user_id) VALUES ('x')", R),
    ("savepoint", "SAVEPOINT s; DELETE FROM sessions; RELEASE s", R),
    ("start-transaction-rw", "START TRANSACTION READ WRITE", R),
    ("set-transaction-rw", "SET TRANSACTION READ WRITE", R),
    ("prepare-transaction", "PREPARE TRANSACTION 'x'", R),
    ("trailing-semicolons", "SELECT count(*) FROM sessions;;;", H),
    ("newline-delete", "SELECT 1\n;\nDELETE FROM sessions", R),
    ("semicolon-in-identifier", 'SELECT 1 AS "a; DELETE FROM sessions"', H),
    # comments hiding statements
    ("comment-splits-keyword", "DEL/**/ETE FROM sessions", R),
    ("comment-before-semicolon", "SELECT 1 /* x */; DELETE FROM sessions", R),
    ("comment-after-line", "SELECT 1 --\n; DELETE FROM sessions", R),
    ("unterminated-comment", "SELECT 1 /* ; DELETE FROM sessions", R),
    ("hint-comment", "/*+ SeqScan(sessions) */ SELECT count(*) FROM sessions", H),
    # the scope, the role, the settings
    ("set-config-cte", "WITH x AS (SELECT set_config('fretcoach.user_id', '{victim}', true)) "
                       "SELECT * FROM sessions, x", R),
    ("set-config-order-by", "SELECT * FROM sessions ORDER BY set_config('role', "
                            "'fretcoach_app', true)", R),
    ("set-config-case", "SELECT CASE WHEN true THEN set_config('fretcoach.user_id', "
                        "'{victim}', true) END", R),
    ("set-config-read-write", "SELECT set_config('transaction_read_only', 'off', true)", R),
    ("set-config-timeout", "SELECT set_config('statement_timeout', '0', true)", R),
    ("set-config-search-path", "SELECT set_config('search_path', 'public', false)", R),
    ("set-role-app", "SET ROLE fretcoach_app", R),
    ("set-role-none", "SET ROLE NONE", R),
    ("set-local-role", "SET LOCAL ROLE postgres", R),
    ("reset-session-authorization", "RESET SESSION AUTHORIZATION", R),
    ("session-authorization-default", "SET SESSION AUTHORIZATION DEFAULT", R),
    ("set-read-write", "SET transaction_read_only = off", R),
    ("set-timeout-then-sleep", "SET statement_timeout = 0; SELECT pg_sleep(30)", R),
    ("set-search-path", "SET search_path = public, fretcoach", R),
    ("set-user-dollar", "SET fretcoach.user_id = $${victim}$$", R),
    ("discard-all", "DISCARD ALL", R),
    ("alter-role-bypassrls", "ALTER ROLE fretcoach_reader BYPASSRLS", R),
    ("alter-system", "ALTER SYSTEM SET statement_timeout = 0", R),
    ("grant", "GRANT ALL ON fretcoach.sessions TO PUBLIC", R),
    ("drop-policy", "DROP POLICY sessions_own_rows ON fretcoach.sessions", R),
    ("create-policy", "CREATE POLICY p ON fretcoach.sessions USING (true)", R),
    ("session-user", "SELECT session_user, current_user, current_role", H),
    # files, programs, network, large objects
    ("pg-read-file-subquery", "SELECT * FROM sessions WHERE scale_chosen = "
                              "(SELECT pg_read_file('/etc/passwd'))", R),
    ("pg-read-file-cte", "WITH f AS (SELECT pg_read_file('postgresql.conf') AS t) "
                         "SELECT t FROM f", R),
    ("pg-read-file-quoted", "SELECT \"pg_read_file\"('/etc/passwd')", R),
    ("pg-read-file-catalog-quoted", "SELECT pg_catalog.\"pg_read_file\"('/etc/passwd')", R),
    ("pg-read-file-dollar-arg", "SELECT pg_read_file($p$/etc/passwd$p$)", R),
    ("pg-stat-file", "SELECT pg_stat_file('postgresql.conf')", R),
    ("pg-ls-logdir", "SELECT * FROM pg_ls_logdir()", R),
    ("copy-from-program", "COPY sessions FROM PROGRAM 'id'", R),
    ("copy-from-file", "COPY sessions FROM '/etc/passwd'", R),
    ("copy-to-program-touch", "COPY (SELECT * FROM sessions) TO PROGRAM 'touch /tmp/owned'", R),
    ("copy-to-stdout", "COPY (SELECT * FROM fretcoach.user_configs) TO STDOUT", R),
    ("dblink-exec", "SELECT dblink_exec('dbname=postgres', 'DELETE FROM fretcoach.sessions')",
     R),
    ("dblink-connect", "SELECT dblink_connect('c', 'dbname=postgres user=postgres')", R),
    ("create-server", "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", R),
    ("lo-export", "SELECT lo_export(1, '/tmp/x')", R),
    ("lo-from-bytea", "SELECT lo_from_bytea(0, 'x')", R),
    ("lo-unlink", "SELECT lo_unlink(1)", R),
    ("pg-largeobject", "SELECT * FROM pg_largeobject", R),
    # DO, CALL, functions, triggers
    ("do-language", "DO LANGUAGE plpgsql $x$ BEGIN UPDATE fretcoach.sessions "
                    "SET overall_score = 0; END $x$", R),
    ("do-plain-string", "DO 'BEGIN DELETE FROM fretcoach.ai_practice_plans; END'", R),
    ("call-report-refresh", "CALL fretcoach.report_days_refresh('{victim}', 'UTC', NULL)", R),
    ("call-procedure", "CALL p()", R),
    ("report-refresh-function", "SELECT fretcoach.report_days_refresh('{victim}', 'UTC', "
                                "NULL)", R),
    ("report-groups-victim", "SELECT * FROM fretcoach.report_groups('{victim}', 'UTC')", R),
    ("agent-scope-function", "SELECT fretcoach.agent_scope()", R),
    ("create-function", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", R),
    ("create-trigger", "CREATE TRIGGER t BEFORE INSERT ON fretcoach.sessions FOR EACH ROW "
                       "EXECUTE FUNCTION fretcoach.touch_updated_at()", R),
    ("version", "SELECT version()", R),
    ("inet-server-addr", "SELECT inet_server_addr()", R),
    # data-modifying CTEs, more shapes
    ("cte-delete-nested", "SELECT * FROM (WITH d AS (DELETE FROM sessions RETURNING 1) "
                          "SELECT * FROM d) x", R),
    ("cte-delete-materialized", "WITH d AS MATERIALIZED (DELETE FROM session_notes "
                                "RETURNING 1) SELECT 1", R),
    ("cte-recursive-delete", "WITH RECURSIVE d AS (DELETE FROM sessions RETURNING 1) "
                             "SELECT 1", R),
    ("cte-update-in-subquery", "SELECT (WITH u AS (UPDATE sessions SET overall_score = 0 "
                               "RETURNING 1) SELECT count(*) FROM u)", R),
    ("cte-merge", "WITH m AS (MERGE INTO sessions s USING sessions t ON false WHEN NOT "
                  "MATCHED THEN DO NOTHING) SELECT 1", R),
    ("cte-insert-report-zone", "WITH i AS (INSERT INTO fretcoach.report_zones (user_id, tz) "
                               "VALUES ('{victim}', 'UTC') RETURNING 1) SELECT * FROM i", R),
    # EXPLAIN of writes, PREPARE/EXECUTE
    ("explain-analyze-update", "EXPLAIN ANALYZE UPDATE sessions SET overall_score = 0", R),
    ("explain-options-delete", "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM session_notes", R),
    ("explain-analyze-cte", "EXPLAIN ANALYZE WITH d AS (DELETE FROM sessions RETURNING 1) "
                            "SELECT 1", R),
    ("explain-select", "EXPLAIN SELECT * FROM sessions", R),
    ("prepare-execute", "PREPARE p AS DELETE FROM sessions; EXECUTE p", R),
    ("prepare-select", "PREPARE q AS SELECT 1", R),
    ("execute-args", "EXECUTE p(1, 'x')", R),
    ("deallocate", "DEALLOCATE ALL", R),
    # sleeping, bombs
    ("pg-sleep-until", "SELECT pg_sleep_until(now() + interval '30 seconds')", R),
    ("sleep-quoted", "SELECT \"pg_sleep\"(30)", R),
    ("sleep-unicode-ident", "SELECT U&\"pg_sl\\0065ep\"(30)", R),
    ("series-cross-join", "SELECT count(*) FROM generate_series(1, 100000) a, "
                          "generate_series(1, 100000) b", T),
    ("series-bigint", "SELECT count(*) FROM generate_series(1, 9000000000000000000)", T),
    ("series-timestamps", "SELECT count(*) FROM generate_series(timestamp '2000-01-01', "
                          "timestamp '9999-01-01', interval '1 second')", T),
    ("recursive-no-stop", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                          "SELECT max(n) FROM r", T),
    ("recursive-fanout", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, "
                         "generate_series(1, 10) g WHERE n < 12) SELECT count(*) FROM r", T),
    ("array-bomb", "SELECT cardinality(ARRAY(SELECT generate_series(1, 300000000)))",
     E_OR_T),
    ("format-width-bomb", "SELECT format('%300000000s', 'x')", E),  # the row bound
    ("wide-row", "SELECT format('%60000s', 'a') AS a, format('%60000s', 'b') AS b", E),
    ("replace-amplifier", "SELECT length(replace(replace(replace('xxxxxxxxxx', 'x', "
                          "'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'))", H),
    ("regex-backtracking", "SELECT regexp_match(concat('aaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'b'), "
                           "'^(a|a)*(a|a)*(a|a)*c$')", H),
    ("many-columns", "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(300)), H),
    # U& and dollar-quoted names
    ("unicode-table-ok", "SELECT count(*) FROM U&\"sessio\\006es\"", H),
    ("unicode-uescape", "SELECT * FROM U&\"!0070g_user\" UESCAPE '!'", R),
    ("unicode-function", "SELECT U&\"set_confi\\0067\"('fretcoach.user_id', '{victim}', "
                         "false)", R),
    ("unicode-schema", "SELECT * FROM U&\"pg_c\\0061talog\".pg_authid", R),
    ("unicode-string-victim", "SELECT count(*) FROM sessions WHERE user_id = U&'{victim}'", H),
    ("dollar-as-table", "SELECT * FROM $$sessions$$", R),
    ("dollar-regclass", "SELECT $$pg_authid$$::regclass", R),
    ("dollar-victim", "SELECT * FROM sessions WHERE user_id = $q${victim}$q$", H),
    ("dollar-nested-tags", "SELECT $a$ $b$ ; DELETE FROM sessions $b$ $a$", H),
    ("dollar-unterminated-delete", "SELECT $a$; DELETE FROM sessions", R),
    # another user's rows, every way
    ("victim-or-true", "SELECT * FROM sessions WHERE user_id = '{victim}' OR true", H),
    ("victim-union", "SELECT session_id::text FROM sessions UNION SELECT '{victim_sid}' "
                     "WHERE EXISTS (SELECT 1 FROM sessions WHERE session_id = "
                     "'{victim_sid}')", H),
    ("victim-union-all-tables", "SELECT user_id FROM sessions UNION ALL SELECT user_id FROM "
                                "ai_practice_plans", H),
    ("victim-subquery-plans", "SELECT * FROM sessions WHERE user_id IN (SELECT user_id FROM "
                              "ai_practice_plans WHERE user_id <> '{attacker}')", H),
    ("victim-exists-notes", "SELECT * FROM session_notes n WHERE NOT EXISTS (SELECT 1 FROM "
                            "sessions s WHERE s.session_id = n.session_id)", H),
    ("victim-lateral", "SELECT x.* FROM sessions s, LATERAL (SELECT * FROM session_notes n "
                       "WHERE n.session_id <> s.session_id) x", H),
    ("victim-report-days", "SELECT * FROM fretcoach.report_days WHERE user_id = '{victim}'",
     R),
    ("victim-report-zones", "SELECT * FROM report_zones", R),
    ("victim-coach-replies", "SELECT * FROM fretcoach.coach_replies WHERE user_id = "
                             "'{victim}'", R),
    ("victim-user-configs-join", "SELECT c.* FROM sessions s JOIN user_configs c USING "
                                 "(user_id)", R),
    ("victim-sync-marks", "SELECT * FROM fretcoach.sync_marks", R),
    ("victim-agent-scopes", "SELECT * FROM fretcoach.agent_scopes", R),
    ("victim-instance", "SELECT * FROM fretcoach.instance", R),
    ("victim-qualified-other-schema", "SELECT * FROM public.sessions", R),
    ("victim-catalog-qualified", "SELECT * FROM postgres.fretcoach.sessions", R),
    ("victim-stats-view", "SELECT * FROM pg_stats WHERE tablename = 'sessions'", R),
    ("victim-plans-json", "SELECT practice_plan FROM ai_practice_plans WHERE practice_plan::text "
                          "LIKE '%{victim}%'", H),
    ("victim-window", "SELECT count(*) OVER () FROM sessions", H),
    # errors that quote a value: only ever the attacker's own (RLS filters first)
    ("victim-cast-error", "SELECT * FROM sessions WHERE (user_id || session_id::text)::integer "
                          "= 1", E),
    ("victim-cast-error-notes", "SELECT * FROM session_notes WHERE session_id::text::integer "
                                "= 1 AND session_id = '{victim_sid}'", H),
    ("victim-division-probe", "SELECT 1 / (SELECT count(*) - 6 FROM sessions)", H),
    ("victim-error-in-plan", "SELECT (practice_plan->>'x')::date FROM ai_practice_plans", H),
]

# writes to every table, each in four forms
for _table in WRITE_TABLES:
    ATTACKS += [
        (f"write-delete-{_table}", f"DELETE FROM fretcoach.{_table}", R),
        (f"write-update-{_table}", f"UPDATE fretcoach.{_table} SET user_id = '{{attacker}}'", R),
        (f"write-insert-{_table}", f"INSERT INTO fretcoach.{_table} DEFAULT VALUES", R),
        (f"write-cte-{_table}", f"WITH d AS (DELETE FROM fretcoach.{_table} RETURNING 1) "
                                "SELECT count(*) FROM d", R),
    ]
ATTACKS += [("write-truncate-all", "TRUNCATE " + ", ".join(f"fretcoach.{t}" for t in
                                                           WRITE_TABLES) + " CASCADE", R)]

#: queries that read "everything": the count must be the attacker's own
OWN_COUNTS: list[tuple[str, str, str]] = [
    ("no-where", "SELECT count(*) FROM sessions", "sessions"),
    ("or-true", "SELECT count(*) FROM sessions WHERE user_id = '{victim}' OR true", "sessions"),
    ("or-1-1", "SELECT count(*) FROM session_notes WHERE 1 = 1 OR session_id = "
               "'{victim_sid}'", "session_notes"),
    ("union-all", "SELECT count(*) FROM (SELECT session_id FROM sessions UNION ALL SELECT "
                  "session_id FROM sessions WHERE user_id = '{victim}') x", "sessions"),
    ("distinct-notes", "SELECT count(DISTINCT session_id) FROM session_notes", "sessions"),
    ("subquery-in", "SELECT count(*) FROM sessions WHERE session_id IN (SELECT session_id "
                    "FROM session_notes)", "sessions"),
    ("plans", "SELECT count(*) FROM ai_practice_plans WHERE true", "ai_practice_plans"),
    ("plans-not-mine", "SELECT count(*) + (SELECT count(*) FROM ai_practice_plans WHERE "
                       "user_id <> '{attacker}') FROM ai_practice_plans", "ai_practice_plans"),
    ("qualified", "SELECT count(*) FROM fretcoach.sessions", "sessions"),
    ("table-stmt", "SELECT count(*) FROM (TABLE session_notes) t", "session_notes"),
]


def _seed(database: Any, user: str, n: int) -> None:
    from fretcoach_cli.reports.seed import seed

    with database.connect(user) as conn:
        seed(conn, user=user, sessions=n, notes_per_session=30, random_seed=len(user))
        # rows in the report cache too (report_zones / report_days), as `stats` builds them
        conn.execute("INSERT INTO fretcoach.report_zones (user_id, tz) VALUES (%s, 'UTC') "
                     "ON CONFLICT DO NOTHING", (user,))
        conn.execute("SELECT fretcoach.report_days_refresh(%s, 'UTC', NULL)", (user,))
        conn.commit()


@pytest.fixture(scope="module")
def people(database: Any) -> dict[str, Any]:
    return make_people(database)


def make_people(database: Any) -> dict[str, Any]:
    """An attacker with 4 sessions and a victim with 6, and what identifies the victim's rows."""
    import uuid

    attacker = f"mallory-{uuid.uuid4().hex[:8]}"
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    _seed(database, attacker, 4)
    _seed(database, victim, 6)
    with database.admin() as conn:
        sids = [str(r[0]) for r in conn.execute(
            "SELECT session_id FROM fretcoach.sessions WHERE user_id = %s", (victim,))]
        own = {t: conn.execute(
            f"SELECT count(*) FROM fretcoach.{t} WHERE " + (
                "session_id IN (SELECT session_id FROM fretcoach.sessions WHERE user_id = %s)"
                if t == "session_notes" else "user_id = %s"), (attacker,)).fetchone()[0]
            for t in ("sessions", "session_notes", "ai_practice_plans")}
        victim_days = conn.execute("SELECT count(*) FROM fretcoach.report_days WHERE "
                                   "user_id = %s", (victim,)).fetchone()[0]
    assert victim_days > 0, "the victim has no report_days rows to steal"
    return {"attacker": attacker, "victim": victim, "victim_sids": sids, "own": own}


def make_runner(database: Any, people: dict[str, Any]) -> SqlRunner:
    r = SqlRunner(lambda: database.connect(people["attacker"], role="reader", autocommit=True),
                  max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
    r.conn  # noqa: B018 - opened (and its scope registered) before any snapshot
    return r


@pytest.fixture(scope="module")
def runner(database: Any, people: dict[str, Any]) -> Iterator[SqlRunner]:
    r = make_runner(database, people)
    yield r
    r.close()


def _fill(sql: str, people: dict[str, Any]) -> str:
    return sql.format(victim=people["victim"], victim_sid=people["victim_sids"][0],
                      attacker=people["attacker"])


def snapshot(database: Any) -> dict[str, Any]:
    """Everything an attack could change: a checksum of every table of the fretcoach schemas
    (all users' rows), sequences, advisory locks, relations, roles and extensions."""
    with database.admin() as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN "
            "('fretcoach', 'fretcoach_chat') ORDER BY 1, 2").fetchall()
        sums = {}
        for schema, table in tables:
            if (schema, table) == ("fretcoach", "agent_scopes"):
                # every new reader connection registers itself here: what an attack must
                # not change is whom they are pinned to
                query = ("SELECT count(DISTINCT scoped_user), md5(coalesce(string_agg("
                         "DISTINCT scoped_user, ',' ORDER BY scoped_user), '')) "
                         "FROM fretcoach.agent_scopes")
            else:
                query = (f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' "
                         f"ORDER BY t::text), '')) FROM \"{schema}\".\"{table}\" t")
            sums[f"{schema}.{table}"] = tuple(conn.execute(query).fetchone())
        sequences = conn.execute(
            "SELECT coalesce(json_object_agg(sequencename, last_value), '{}') "
            "FROM pg_sequences WHERE schemaname LIKE 'fretcoach%'").fetchone()[0]
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]
        relations = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchone()[0]
        roles = conn.execute(
            "SELECT md5(string_agg(concat_ws('|', rolname, rolsuper, rolbypassrls, rolcanlogin, "
            "rolconfig::text), ',' ORDER BY rolname)) FROM pg_roles").fetchone()[0]
        extensions = conn.execute(
            "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension").fetchone()[0]
    return {"tables": sums, "sequences": sequences, "advisory_locks": locks,
            "relations": relations, "roles": roles, "extensions": extensions}


def _leaks_in(rows: Any, people: dict[str, Any]) -> list[str]:
    text = json.dumps(rows, default=str)
    markers = [people["victim"], *people["victim_sids"]]
    return [m for m in markers if m in text]


def _leaks(result: QueryResult, people: dict[str, Any]) -> list[str]:
    """Victim data in the rows or in the error text (a failed cast quotes the value)."""
    return _leaks_in([result.rows, result.error], people)


def outcome(result: QueryResult) -> str:
    """Which of R/T/E/H a result is (how the corpus counts it)."""
    if result.refused:
        return R
    if "was cancelled" in result.error:
        return T
    return E if result.error else H


@pytest.mark.parametrize(("sql", "expect"), [(a[1], a[2]) for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])
def test_attack(database: Any, people: dict[str, Any], runner: SqlRunner, sql: str,
                expect: str) -> None:
    sql = _fill(sql, people)
    before = snapshot(database)
    result = runner.run(sql)
    after = snapshot(database)
    assert after == before, f"something changed: {before} -> {after}"
    assert not _leaks(result, people), "another user's data came back"
    if expect == R:
        assert result.refused and result.error.startswith("refused:"), result
    elif expect == T:
        assert outcome(result) == T, result
    elif expect == E_OR_T:
        assert outcome(result) in (E, T), result
    elif expect == E:
        assert not result.refused and result.error, result
    else:
        assert result.ok, result.error
    # every answer fits the bounds: at most MAX_ROWS rows of short cells
    assert result.row_count <= MAX_ROWS
    assert all(len(json.dumps(v, default=str)) <= 4 * MAX_CELL_CHARS for row in result.rows
               for v in row)
    # the connection is still the attacker's, read-only, and answers at once
    check = runner.run("SELECT current_user AS who, count(*) AS n FROM sessions")
    assert check.ok, check.error
    assert check.rows == [["fretcoach_reader", 4]]


@pytest.mark.parametrize(("sql", "table"), [(c[1], c[2]) for c in OWN_COUNTS],
                         ids=[c[0] for c in OWN_COUNTS])
def test_reading_everything_counts_only_own_rows(people: dict[str, Any], runner: SqlRunner,
                                                 sql: str, table: str) -> None:
    result = runner.run(_fill(sql, people))
    assert result.ok, result.error
    assert result.rows == [[people["own"][table]]]


def run_corpus(database: Any, people: dict[str, Any], runner: SqlRunner) -> dict[str, Any]:
    """Every attack once: the tally by outcome, and what must stay zero."""
    import time

    tally = {R: 0, T: 0, E: 0, H: 0, "writes": 0, "leaks": 0, "unanswered": 0,
             "slowest_s": 0.0, "most_rows": 0, "mismatched": []}
    before = snapshot(database)
    for name, sql, expect in ATTACKS:
        t0 = time.monotonic()
        result = runner.run(_fill(sql, people))
        tally["slowest_s"] = max(tally["slowest_s"], round(time.monotonic() - t0, 2))
        tally["most_rows"] = max(tally["most_rows"], result.row_count)
        got = outcome(result)
        tally[got] += 1
        if got != expect and not (expect == E_OR_T and got in (E, T)):
            tally["mismatched"].append((name, expect, got, result.error))
        if _leaks(result, people):
            tally["leaks"] += 1
        check = runner.run("SELECT count(*) FROM sessions")
        if check.rows != [[people["own"]["sessions"]]]:
            tally["unanswered"] += 1
    after = snapshot(database)
    tally["writes"] = sum(1 for k in before if before[k] != after[k])
    tally["queries"] = len(ATTACKS)
    return tally


def describe(tally: dict[str, Any]) -> str:
    return (f"{tally['queries']} hostile queries: {tally[R]} refused, {tally[T]} timed out, "
            f"{tally[E]} other database errors, {tally[H]} harmless own-row reads; "
            f"{tally['writes']} writes, {tally['leaks']} with another user's rows, "
            f"{tally['unanswered']} times the server did not answer after; slowest "
            f"{tally['slowest_s']} s (timeout {TIMEOUT_S:g} s), at most {tally['most_rows']} "
            f"rows (limit {MAX_ROWS})")


def test_corpus_counts(database: Any, people: dict[str, Any], runner: SqlRunner) -> None:
    tally = run_corpus(database, people, runner)
    print("\n" + describe(tally))
    assert (tally["writes"], tally["leaks"], tally["unanswered"]) == (0, 0, 0), describe(tally)
    assert not tally["mismatched"], tally["mismatched"]
    assert tally["most_rows"] <= MAX_ROWS


def test_suite_is_large_enough() -> None:
    assert len(ATTACKS) >= 60
    assert len({a[0] for a in ATTACKS}) == len(ATTACKS)


def test_timeout_message_is_useful(runner: SqlRunner) -> None:
    result = runner.run("SELECT count(*) FROM generate_series(1, 2000000000)")
    assert "cancelled" in result.error and "aggregate, filter or LIMIT" in result.error


def test_huge_result_is_capped_and_flagged(runner: SqlRunner) -> None:
    result = runner.run("SELECT generate_series(1, 100000000) AS g")
    assert result.row_count == MAX_ROWS and result.truncated
    assert result.rows[0] == [1]
    told = json.loads(result.for_model())
    assert told["truncated"] and told["note"].startswith(f"only the first {MAX_ROWS} rows")
    assert "note" not in json.loads(runner.run("SELECT 1 AS one").for_model())
    small = runner.run("SELECT g FROM generate_series(1, 3) g")  # function scan form
    assert small.rows == [[1], [2], [3]] and not small.truncated


def test_a_huge_value_never_reaches_us(runner: SqlRunner) -> None:
    """A 300 MB value built by one call fails on the server with a message the model can act
    on (before the row bound, all of it was shipped into this process)."""
    result = runner.run("SELECT format('%300000000s', 'x') AS big")
    assert result.error.startswith("a result row is 300000004 bytes long (at most 100000)")
    assert "left(text, 200)" in result.error and not result.rows
    ok = runner.run("SELECT length(format('%300000s', 'x')) AS n, 1 AS n")  # repeated names
    assert ok.ok and ok.columns == ["n", "n"] and ok.rows == [[300000, 1]]


def test_order_survives_the_row_bound(runner: SqlRunner) -> None:
    result = runner.run("SELECT g, format('%s!', g) AS s FROM generate_series(1, 120) g "
                        "ORDER BY g DESC")
    assert [r[0] for r in result.rows] == list(range(120, 70, -1)) and result.truncated
    empty = runner.run("SELECT FROM sessions")  # no columns at all
    assert empty.ok and empty.rows == [[]] * 4


def test_missing_column_suggestion(runner: SqlRunner) -> None:
    result = runner.run("SELECT pitch_acuracy FROM sessions")
    assert result.error.startswith("no column pitch_acuracy; did you mean pitch_accuracy")


def test_percent_signs_reach_the_server_intact(runner: SqlRunner) -> None:
    result = runner.run("SELECT 7 % 3 AS m, count(*) FILTER (WHERE scale_chosen LIKE "
                        "'%penta%') AS p, '%s %(x)s' AS t FROM sessions")
    assert result.ok, result.error
    assert result.rows[0][0] == 1 and result.rows[0][2] == "%s %(x)s"


def test_own_rows_are_readable(runner: SqlRunner, people: dict[str, Any]) -> None:
    result = runner.run("SELECT count(DISTINCT s.session_id), count(n.*) FROM sessions s "
                        "JOIN session_notes n USING (session_id)")
    assert result.ok and result.rows[0][0] == 4 and result.rows[0][1] > 0


# -- the layers under the parser hold on their own ------------------------------------------


def test_reader_role_cannot_write_or_see_others(database: Any, people: dict[str, Any]) -> None:
    import psycopg

    with database.connect(people["attacker"], role="reader", autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM fretcoach.sessions")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM fretcoach.coach_replies")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM fretcoach_chat.checkpoints")
        row = conn.execute("SELECT count(*) FROM fretcoach.sessions WHERE user_id = %s",
                           (people["victim"],)).fetchone()
        assert row == (0,)


def test_read_only_transaction_blocks_sequence_changes(database: Any,
                                                       people: dict[str, Any]) -> None:
    import psycopg

    with database.connect(people["attacker"], role="reader", autocommit=True) as conn:
        conn.execute("BEGIN READ ONLY")
        with pytest.raises(psycopg.errors.Error):
            conn.execute("SELECT nextval('fretcoach.coach_replies_reply_id_seq')")
        conn.execute("ROLLBACK")


def test_tripwire_catches_a_scope_change(database: Any, people: dict[str, Any]) -> None:
    """Were the parser bypassed, a changed user scope is caught before any result is used
    (and rolled back)."""
    r = SqlRunner(lambda: database.connect(people["attacker"], role="reader", autocommit=True))
    try:
        r.conn  # noqa: B018 - records the expected role and user
        with pytest.raises(ScopeViolation):
            r._execute(f"SELECT set_config('fretcoach.user_id', '{people['victim']}', false)",
                       QueryResult(sql="bypass"))
        after = r.run("SELECT count(*) FROM sessions")
        assert after.rows == [[4]]
    finally:
        r.close()


def test_write_corpus_covers_every_table(database: Any) -> None:
    with database.admin() as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'fretcoach'")}
    assert tables == set(WRITE_TABLES), "a table was added: list it in WRITE_TABLES"


# -- the layers under the parser, each query sent raw ----------------------------------------

#: refused by the parser and too heavy to send raw (a 500 MB value crossing to the test)
RAW_SKIP = frozenset({"repeat-bomb", "lpad-bomb"})


def run_raw(database: Any, people: dict[str, Any],
            sql: str) -> tuple[str, list[Any], list[Any], str]:
    """``sql`` as the model wrote it, straight to a fresh reader connection inside the same
    read-only, time-limited transaction the runner uses (no parser, no trip-wire; several
    statements allowed), then what that connection can still see of the fretcoach tables.
    Returns (outcome, the rows the statements returned, the rows read after, error)."""
    import contextlib
    import threading

    import psycopg

    seen: list[Any] = []
    after: list[Any] = []
    error = ""
    conn = database.connect(people["attacker"], role="reader", autocommit=True)
    # a client-side deadline too: raw SQL may switch the statement timeout off
    watchdog = threading.Timer(TIMEOUT_S * 5, conn.cancel)
    watchdog.start()
    try:
        conn.execute("BEGIN READ ONLY")
        conn.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT_S * 1000)}")
        conn.execute("SET LOCAL search_path = pg_catalog, fretcoach")
        try:
            cur = conn.cursor()
            cur.execute(sql)
            while True:
                if cur.description is not None:
                    seen.extend(cur.fetchmany(MAX_ROWS))
                if not cur.nextset():
                    break
        except psycopg.Error as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not conn.closed:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            # whatever the statements did to the session: what can it read now?
            for table in ("sessions", "session_notes", "ai_practice_plans", "report_days",
                          "report_zones"):
                # (an error: e.g. RESET ROLE left it with no privilege at all)
                with contextlib.suppress(psycopg.Error):
                    after.extend(conn.execute(f"SELECT * FROM fretcoach.{table}").fetchall())
    except psycopg.OperationalError as exc:  # e.g. the statements ended their own backend
        error = error or str(exc).strip().splitlines()[0]
    finally:
        watchdog.cancel()
        conn.close()
    return ("db refused" if error else "ran"), seen, after, error


RAW_ATTACKS = [(a[0], a[1]) for a in ATTACKS if a[2] == R and a[0] not in RAW_SKIP]


def test_layers_below_the_parser(database: Any, people: dict[str, Any]) -> None:
    """Were the parser bypassed, every query it refuses still writes nothing and reads
    nothing of the victim's: the reader role, RLS with the owner-pinned scope and the
    read-only transaction hold on their own."""
    counts = {"db refused": 0, "ran": 0}
    failures = []
    # one reader connection stays open throughout: the attacker's scope stays registered
    keep = database.connect(people["attacker"], role="reader", autocommit=True)
    before = snapshot(database)
    for name, sql in RAW_ATTACKS:
        sql = _fill(sql, people)
        kind, seen, read_after, error = run_raw(database, people, sql)
        counts[kind] += 1
        # (a victim id the query itself spells out may come back as a value: not a leak)
        leaks = [m for m in _leaks_in([seen, error], people) if m not in sql]
        leaks += _leaks_in(read_after, people)
        if leaks:
            failures.append(f"{name}: another user's rows ({leaks[0]}) after {error or 'success'}")
    after = snapshot(database)
    keep.close()
    changed = [k for k in before if before[k] != after[k]]
    if "tables" in changed:
        changed += [t for t in before["tables"] if before["tables"][t] != after["tables"][t]]
    print(f"\nraw, without the parser: {len(RAW_ATTACKS)} queries, {counts['db refused']} "
          f"refused by the database, {counts['ran']} ran harmlessly; {len(changed)} changes, "
          f"{len(failures)} leaks")
    assert not changed, changed
    assert not failures, failures
    # and the server still answers
    with database.admin() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
