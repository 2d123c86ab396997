"""The parser layer alone (no database): what passes, what is refused, and why."""

from __future__ import annotations

import pytest

from fretcoach_cli.chat.sql_guard import MAX_SQL_CHARS, SqlRejected, check_sql

ACCEPTED = [
    "SELECT count(*) FROM sessions",
    "select scale_chosen, avg(pitch_accuracy) from sessions group by 1 order by 2 desc limit 5",
    "SELECT * FROM fretcoach.sessions WHERE status IN ('completed', 'interrupted')",
    "SELECT date_trunc('week', start_time AT TIME ZONE 'Europe/Paris')::date AS w, count(*) "
    "FROM sessions GROUP BY 1 ORDER BY 1",
    "SELECT extract(epoch FROM end_time - start_time) FROM sessions",
    "WITH s AS (SELECT * FROM sessions) SELECT count(*) FROM s",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
    "SELECT * FROM r",
    "SELECT n.note_name, avg(abs(n.cents)) FROM session_notes n JOIN sessions s "
    "USING (session_id) WHERE n.kind = 'note' GROUP BY 1",
    "SELECT practice_plan->>'scale', status FROM ai_practice_plans",
    "SELECT rank() OVER (ORDER BY overall_score DESC), scale_chosen FROM sessions",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY overall_score) FROM sessions",
    "SELECT count(*) FILTER (WHERE in_tune) FROM session_notes",
    "SELECT CASE WHEN pitch_accuracy > 80 THEN 'good' ELSE 'work' END FROM sessions",
    "SELECT coalesce(tempo_bpm, 0), greatest(1, 2), nullif(1, 1) FROM sessions",
    "SELECT * FROM generate_series(1, 3) g",
    "SELECT interval '1 day', date '2026-01-01', now() - interval '7 days'",
    "SELECT scale_chosen FROM sessions WHERE scale_chosen ILIKE '%penta%'",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM sessions)",
    "SELECT * FROM sessions WHERE session_id = ANY (SELECT session_id FROM session_notes)",
    "VALUES (1), (2)",
    "TABLE sessions",
    "SELECT 1 UNION SELECT 2 EXCEPT SELECT 3",
    "SELECT x.* FROM (SELECT 1 AS a) x",
    "SELECT x.total FROM (SELECT count(*) AS total FROM sessions) x",
    "SELECT t.avg FROM (SELECT avg(overall_score) FROM sessions) t",
    "SELECT j.key, j.value FROM ai_practice_plans p, jsonb_each(p.practice_plan) j",
    "SELECT s.pitch_accuracy, (s).scale_chosen FROM sessions s",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepted(sql: str) -> None:
    checked = check_sql(sql)
    assert checked.sql
    # the canonical text is itself accepted and stable
    assert check_sql(checked.sql).sql == checked.sql


def test_relations_are_pinned_to_the_fretcoach_schema() -> None:
    checked = check_sql("SELECT * FROM sessions s JOIN session_notes USING (session_id)")
    assert "fretcoach.sessions" in checked.sql and "fretcoach.session_notes" in checked.sql
    assert checked.relations == {"sessions", "session_notes"}


def test_ctes_are_not_qualified() -> None:
    checked = check_sql("WITH sessions AS (SELECT 1 AS a) SELECT a FROM sessions")
    assert "fretcoach." not in checked.sql
    assert checked.relations == frozenset()


def test_comments_and_dollar_quotes_are_gone_from_what_runs() -> None:
    checked = check_sql("SELECT $$a; DELETE$$ /* x; DELETE FROM sessions */ -- ; DROP\n")
    assert checked.sql == "SELECT 'a; DELETE'"


REFUSED = [
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("COMMIT; DELETE FROM sessions", "exactly one statement"),
    ("DELETE FROM sessions", "only SELECT"),
    ("SET ROLE postgres", "only SELECT"),
    ("COPY sessions TO STDOUT", "COPY"),
    ("SELECT * FROM sessions FOR UPDATE", "FOR UPDATE"),
    ("SELECT * INTO t FROM sessions", "INTO"),
    ("WITH d AS (DELETE FROM sessions RETURNING *) SELECT * FROM d", "data-modifying"),
    ("SELECT pg_sleep(1)", "pg_sleep"),
    ("SELECT set_config('a.b', 'c', false)", "set_config"),
    ("SELECT * FROM pg_user", "pg_user"),
    ("SELECT * FROM user_configs", "user_configs"),
    ("WITH x AS (SELECT * FROM pg_roles), pg_roles AS (SELECT 1) SELECT * FROM x", "pg_roles"),
    ("SELECT 'x'::regclass", "regclass"),
    ("SELECT 1 OPERATOR(pg_catalog.+) 1", "operator"),
    ("SELECT $1", "parameter"),
    ("SELECT * FROM sessions TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"),
    ("SELECT * FROM jsonb_each('{}') AS t(a int)", "column definition"),
    ("SELECT public.count(*) FROM sessions", "public.count"),
    ("SELEC 1", "syntax error"),
    ("SELECT s.to_json FROM sessions s", "no column to_json"),
    ("SELECT (s).pg_sleep FROM sessions s", "no column pg_sleep"),
    ("", "empty"),
]


@pytest.mark.parametrize(("sql", "why"), REFUSED)
def test_refused(sql: str, why: str) -> None:
    with pytest.raises(SqlRejected) as info:
        check_sql(sql)
    assert why.lower() in str(info.value).lower()


def test_suggestions_for_typos() -> None:
    with pytest.raises(SqlRejected, match="did you mean sessions"):
        check_sql("SELECT * FROM sesions")
    with pytest.raises(SqlRejected, match="did you mean avg"):
        check_sql("SELECT avgg(pitch_accuracy) FROM sessions")


def test_too_long() -> None:
    with pytest.raises(SqlRejected, match="too long"):
        check_sql("SELECT " + " + ".join(["1"] * MAX_SQL_CHARS))
