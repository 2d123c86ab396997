"""Security suite: attacks on the agent's ``run_sql`` against a real PostgreSQL.

Two users have data; the attacker's runner is what the agent would use. Every attack must be
refused or harmless: no row of any table changes (counts, sequences, advisory locks are
compared before/after), nothing of the victim's comes back, the connection keeps its role and
user, and the database still answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fretcoach_cli.chat.sql_run import QueryResult, ScopeViolation, SqlRunner

TIMEOUT_S = 1.0
MAX_ROWS = 50
TABLES = ("sessions", "session_notes", "ai_practice_plans", "user_configs", "coach_replies",
          "chat_threads", "deleted_rows", "schema_migrations")

R, E, H = "refused", "error", "harmless"  # guard refused / reached the DB and failed / ran

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
    ("huge-series", "SELECT count(*) FROM generate_series(1, 2000000000)", E),
    ("cross-join", "SELECT count(*) FROM session_notes a, session_notes b, session_notes c, "
                   "session_notes d", E),
    ("endless-recursion", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                          "SELECT count(*) FROM r", E),
    ("huge-result", "SELECT generate_series(1, 100000000)", H),  # streamed: capped
    ("huge-function-scan", "SELECT * FROM generate_series(1, 100000000)", E),  # materialised
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


def _seed(database: Any, user: str, n: int) -> None:
    from fretcoach_cli.reports.seed import seed

    with database.connect(user) as conn:
        seed(conn, user=user, sessions=n, notes_per_session=30, random_seed=len(user))


@pytest.fixture(scope="module")
def people(database: Any) -> dict[str, Any]:
    import uuid

    attacker = f"mallory-{uuid.uuid4().hex[:8]}"
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    _seed(database, attacker, 4)
    _seed(database, victim, 6)
    with database.admin() as conn:
        sids = [str(r[0]) for r in conn.execute(
            "SELECT session_id FROM fretcoach.sessions WHERE user_id = %s", (victim,))]
    return {"attacker": attacker, "victim": victim, "victim_sids": sids}


@pytest.fixture(scope="module")
def runner(database: Any, people: dict[str, Any]) -> Iterator[SqlRunner]:
    r = SqlRunner(lambda: database.connect(people["attacker"], role="reader", autocommit=True),
                  max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
    yield r
    r.close()


def snapshot(database: Any) -> dict[str, Any]:
    """Everything an attack could change: all users' row counts, sequences, advisory locks."""
    with database.admin() as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM fretcoach.{t}").fetchone()[0]
                  for t in TABLES}
        sequences = conn.execute(
            "SELECT coalesce(json_object_agg(sequencename, last_value), '{}') "
            "FROM pg_sequences WHERE schemaname = 'fretcoach'").fetchone()[0]
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchone()[0]
    return {"counts": counts, "sequences": sequences, "advisory_locks": locks,
            "relations": tables}


def _leaks(result: QueryResult, people: dict[str, Any]) -> list[str]:
    text = json.dumps(result.rows, default=str)
    markers = [people["victim"], *people["victim_sids"]]
    return [m for m in markers if m in text]


@pytest.mark.parametrize(("sql", "expect"), [(a[1], a[2]) for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])
def test_attack(database: Any, people: dict[str, Any], runner: SqlRunner, sql: str,
                expect: str) -> None:
    sql = sql.format(victim=people["victim"], victim_sid=people["victim_sids"][0],
                     attacker=people["attacker"])
    before = snapshot(database)
    result = runner.run(sql)
    after = snapshot(database)
    assert after == before, f"something changed: {before} -> {after}"
    assert not _leaks(result, people), "another user's data came back"
    if expect == R:
        assert result.refused and result.error.startswith("refused:"), result
    elif expect == E:
        assert not result.refused and result.error, result
    else:
        assert result.ok, result.error
    # the connection is still the attacker's, read-only, and answers at once
    check = runner.run("SELECT current_user AS who, count(*) AS n FROM sessions")
    assert check.ok, check.error
    assert check.rows == [["fretcoach_reader", 4]]


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
    small = runner.run("SELECT g FROM generate_series(1, 3) g")  # function scan form
    assert small.rows == [[1], [2], [3]] and not small.truncated


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
