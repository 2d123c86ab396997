"""The chat agent's connection holds by itself: raw SQL, no SQL guard, cannot escalate.

Every statement here is sent straight to the connection ``Database.connect(user,
role="reader")`` returns (what the agent's ``SqlRunner`` uses), bypassing ``sql_guard``: the
point is that the database layer alone keeps the agent a read-only reader of its user's rows.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fretcoach_cli.chat.sql_run import QueryResult, ScopeViolation, SqlRunner
from fretcoach_cli.errors import DatabaseError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.store import Database, NoteRecord, Plans, Sessions, Users, roles

NOTE = NoteEvent(0.1, 0.5, 57.05, 0.9)
READABLE = ("sessions", "session_notes", "ai_practice_plans", "user_configs", "report_days",
            "report_zones")


def _fill(db: Database, user: str) -> None:
    """A row in every user table (report_days follows from the session, via its trigger)."""
    with db.connect(user) as conn:
        sessions, plans = Sessions(conn), Plans(conn)
        sid = sessions.create(scale_chosen="A minor pentatonic", hold_writer_lock=False)
        sessions.add_notes(sid, [NoteRecord(0, NOTE, True, True)])
        plans.create({"steps": ["slow"]})
        Users(conn).set_settings({"enabled_metrics": ["pitch_accuracy"]})
        conn.execute("INSERT INTO fretcoach.coach_replies (session_id, user_id, text) "
                     "VALUES (%s, %s, 'nice')", (sid, user))
        conn.execute("INSERT INTO fretcoach.chat_threads (user_id, title) VALUES (%s, 't')",
                     (user,))
        conn.commit()


@pytest.fixture(scope="module")
def people(database: Database) -> dict[str, str]:
    me, other = f"agent-me-{uuid.uuid4().hex[:8]}", f"agent-other-{uuid.uuid4().hex[:8]}"
    _fill(database, me)
    _fill(database, other)
    return {"me": me, "other": other}


@pytest.fixture
def agent(database: Database, people: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    conn = database.connect(people["me"], role="reader", autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _one(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    return {t: _one(conn, f"SELECT count(*) FROM fretcoach.{t}") for t in READABLE}


def _fails(conn: psycopg.Connection[Any], sql: str) -> psycopg.Error:
    """Run ``sql`` raw; it must raise. The connection is usable again afterwards."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)  # type: ignore[arg-type]
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    return info.value


# -- who the session is -----------------------------------------------------------------------


def test_embedded_server_gives_the_agent_its_own_login(database: Database) -> None:
    assert database.kind == "embedded" and database.agent_url
    assert database.security.agent_login and database.security.ok, database.security.problems
    with database.admin() as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, "
            "rolreplication, rolinherit FROM pg_roles WHERE rolname = 'fretcoach_agent'"
        ).fetchone()
        assert row == (True, False, False, False, False, False, False)
        # members of nothing but the reader; no privilege of its own on any fretcoach table
        member_of = [r[0] for r in conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname <> 'fretcoach_agent' "
            "AND pg_has_role('fretcoach_agent', r.oid, 'MEMBER')")]
        assert member_of == ["fretcoach_reader"]
        own = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('fretcoach', 'fretcoach_chat') AND has_table_privilege("
            "'fretcoach_agent', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')").fetchone()
        assert own == (0,)
        assert _one(conn, "SELECT has_schema_privilege('fretcoach_agent', 'fretcoach', "
                          "'USAGE')") is False


def test_embedded_login_is_local_trust_only(database: Database) -> None:
    """Why a password-less LOGIN is acceptable there: no TCP listener; local trust lets anyone
    who reaches the socket be the superuser anyway, so the agent login opens nothing new."""
    assert database.data_dir is not None
    hba = [ln.split() for ln in (database.data_dir / "pg_hba.conf").read_text().splitlines()
           if ln.strip() and not ln.lstrip().startswith("#")]
    assert hba and all(fields[-1] == "trust" for fields in hba)
    with database.admin() as conn:
        assert _one(conn, "SHOW listen_addresses") == ""


def test_agent_session_user_is_the_agent(agent: psycopg.Connection[Any],
                                         people: dict[str, str]) -> None:
    row = agent.execute("SELECT session_user::text, current_user::text, "
                        "current_setting('fretcoach.user_id'), fretcoach.agent_scope()"
                        ).fetchone()
    assert row == ("fretcoach_agent", "fretcoach_reader", people["me"], people["me"])
    assert _counts(agent)["sessions"] == 1


def test_reset_role_leaves_it_unprivileged(agent: psycopg.Connection[Any]) -> None:
    for reset in ("RESET ROLE", "SET ROLE NONE", "SELECT set_config('role', 'none', false)",
                  "SET SESSION AUTHORIZATION DEFAULT"):
        agent.execute(reset)  # type: ignore[arg-type]
        assert _one(agent, "SELECT current_user::text") == "fretcoach_agent", reset
        assert _one(agent, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") \
            is False
        err = _fails(agent, "SELECT count(*) FROM fretcoach.sessions")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), reset
        agent.execute("SET ROLE fretcoach_reader")  # back where it was: still the reader


ESCALATIONS = [
    "SET ROLE postgres",
    "SET ROLE fretcoach_app",
    "SET ROLE pg_write_server_files",
    "SET ROLE pg_read_server_files",
    "SET ROLE pg_execute_server_program",
    "SELECT set_config('role', 'postgres', false)",
    "SET SESSION AUTHORIZATION postgres",
    "SET SESSION AUTHORIZATION fretcoach_app",
    "ALTER ROLE fretcoach_agent SUPERUSER",
    "ALTER ROLE fretcoach_agent BYPASSRLS",
    "ALTER ROLE fretcoach_agent INHERIT",
    "GRANT fretcoach_app TO fretcoach_agent",
    "GRANT pg_read_server_files TO fretcoach_agent",
    "CREATE ROLE fc_evil LOGIN SUPERUSER",
    "ALTER TABLE fretcoach.sessions DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE fretcoach.sessions NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY sessions_agent_scope ON fretcoach.sessions",
    "DROP POLICY sessions_own_rows ON fretcoach.sessions",
    "ALTER POLICY sessions_agent_scope ON fretcoach.sessions USING (true)",
    "CREATE OR REPLACE FUNCTION fretcoach.agent_scope() RETURNS text LANGUAGE sql "
    "AS $$ SELECT 'x' $$",
    "INSERT INTO fretcoach.agent_scopes (pid, scoped_user) VALUES (pg_backend_pid(), 'x') "
    "ON CONFLICT (pid) DO UPDATE SET scoped_user = 'x'",
    "UPDATE fretcoach.agent_scopes SET scoped_user = 'x'",
    "SELECT * FROM fretcoach.agent_scopes",
    "SELECT * FROM fretcoach.schema_migrations",
    "SELECT * FROM fretcoach.coach_replies",
    "SELECT * FROM fretcoach.chat_threads",
    "SELECT * FROM fretcoach_chat.checkpoints",
    "SELECT rolpassword FROM pg_authid",
    "SELECT * FROM pg_shadow",
    "SELECT pg_reload_conf()",
    "ALTER SYSTEM SET log_statement = 'all'",
    "SET session_preload_libraries = 'x'",
    "CREATE DATABASE fc_evil",
]


@pytest.mark.parametrize("sql", ESCALATIONS)
@pytest.mark.parametrize("state", ["reader", "after RESET ROLE"])
def test_escalation_fails(agent: psycopg.Connection[Any], people: dict[str, str], sql: str,
                          state: str) -> None:
    if state != "reader":
        agent.execute("RESET ROLE")
    _fails(agent, sql)
    agent.execute("RESET ROLE")
    assert _one(agent, "SELECT current_user::text") == "fretcoach_agent"
    agent.execute("SET ROLE fretcoach_reader")
    assert _one(agent, "SELECT fretcoach.agent_scope()") == people["me"]


FILES_AND_PROGRAMS = [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_read_file('pg_hba.conf')",
    "SELECT pg_ls_dir('.')",
    "SELECT pg_stat_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '{target}')",
    "COPY (SELECT 1) TO '{target}'",
    "COPY fretcoach.sessions TO '{target}'",
    "COPY (SELECT 1) TO PROGRAM 'touch {target}'",
    "COPY fretcoach.sessions FROM '/etc/passwd'",
    "CREATE EXTENSION dblink",
    "CREATE EXTENSION file_fdw",
    "CREATE EXTENSION plpython3u",
    "LOAD 'auto_explain'",
]


@pytest.mark.parametrize("sql", FILES_AND_PROGRAMS)
def test_server_files_and_programs_are_out_of_reach(agent: psycopg.Connection[Any],
                                                    tmp_path: Path, sql: str) -> None:
    target = Path("/tmp") / f"fc-agent-{uuid.uuid4().hex[:8]}"
    _fails(agent, sql.format(target=target))
    assert not target.exists()


def test_cannot_terminate_or_signal_the_owners_backends(database: Database,
                                                        agent: psycopg.Connection[Any]) -> None:
    with database.admin() as admin:
        pid = _one(admin, "SELECT pg_backend_pid()")
        for fn in ("pg_terminate_backend", "pg_cancel_backend"):
            _fails(agent, f"SELECT {fn}({int(pid)})")
        assert _one(admin, "SELECT 1") == 1


@pytest.mark.parametrize("sql", [
    "CREATE TABLE fretcoach.evil (x int)",
    "CREATE TABLE public.evil (x int)",
    "CREATE TABLE evil (x int)",
    "CREATE TABLE fretcoach.evil AS SELECT * FROM fretcoach.sessions",
    "SELECT * INTO fretcoach.evil FROM fretcoach.sessions",
    "CREATE VIEW fretcoach.evil AS SELECT 1",
    "CREATE FUNCTION fretcoach.evil() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE SCHEMA evil",
    "CREATE INDEX evil ON fretcoach.sessions (user_id)",
    "ALTER TABLE fretcoach.sessions ADD COLUMN evil int",
    "COMMENT ON TABLE fretcoach.sessions IS 'evil'",
    "SELECT nextval('fretcoach.coach_replies_reply_id_seq')",
    "SELECT * FROM fretcoach.sessions FOR UPDATE",
    "LOCK TABLE fretcoach.sessions IN ACCESS EXCLUSIVE MODE",
])
def test_cannot_create_or_alter_objects(agent: psycopg.Connection[Any], sql: str) -> None:
    agent.execute("SET default_transaction_read_only = off")  # privileges alone must hold
    _fails(agent, sql)


def _tables(database: Database) -> list[tuple[str, str]]:
    with database.admin() as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT c.relname, (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid "
            "  AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = '' "
            "  AND a.attgenerated = '' ORDER BY a.attnum LIMIT 1) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'fretcoach' AND c.relkind IN ('r', 'p') ORDER BY 1")]


def test_no_write_reaches_any_table(database: Database, agent: psycopg.Connection[Any],
                                    people: dict[str, str]) -> None:
    tables = _tables(database)
    assert {"sessions", "session_notes", "agent_scopes", "report_days"} <= {t for t, _ in tables}
    with database.admin() as admin:
        before = {t: _one(admin, f"SELECT count(*) FROM fretcoach.{t}") for t, _ in tables}
    agent.execute("SET default_transaction_read_only = off")
    tried = 0
    for table, column in tables:
        for sql in (f"INSERT INTO fretcoach.{table} DEFAULT VALUES",
                    f"INSERT INTO fretcoach.{table} OVERRIDING SYSTEM VALUE "
                    f"SELECT * FROM fretcoach.{table}",
                    f"UPDATE fretcoach.{table} SET {column} = {column}",
                    f"DELETE FROM fretcoach.{table}",
                    f"TRUNCATE fretcoach.{table}",
                    f"MERGE INTO fretcoach.{table} t USING (SELECT 1) s ON false "
                    "WHEN NOT MATCHED THEN INSERT DEFAULT VALUES"):
            err = _fails(agent, sql)
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (sql, err)
            tried += 1
    assert tried == 6 * len(tables)
    with database.admin() as admin:
        after = {t: _one(admin, f"SELECT count(*) FROM fretcoach.{t}") for t, _ in tables}
    # agent_scopes may gain rows from other connections opened meanwhile, never lose ours
    before.pop("agent_scopes")
    after.pop("agent_scopes")
    assert after == before


# -- whose rows ---------------------------------------------------------------------------------


def test_other_users_rows_stay_invisible_whatever_the_setting(
        agent: psycopg.Connection[Any], people: dict[str, str]) -> None:
    mine = _counts(agent)
    assert mine["sessions"] == 1 and mine["session_notes"] == 1
    # the raw bypass the SQL guard forbids: change the user scope setting
    agent.execute("SELECT set_config('fretcoach.user_id', %s, false)", (people["other"],))
    assert _counts(agent) == dict.fromkeys(READABLE, 0)
    assert _one(agent, f"SELECT count(*) FROM fretcoach.sessions WHERE user_id = "
                       f"'{people['other']}'") == 0
    agent.execute("SET fretcoach.user_id = ''")
    assert _counts(agent) == dict.fromkeys(READABLE, 0)
    # and re-entering the reader role does not reset the pin
    agent.execute("RESET ROLE")
    agent.execute("SET ROLE fretcoach_reader")
    agent.execute("SELECT set_config('fretcoach.user_id', %s, false)", (people["other"],))
    assert _counts(agent)["sessions"] == 0
    assert _one(agent, "SELECT fretcoach.agent_scope()") == people["me"]
    agent.execute("SELECT set_config('fretcoach.user_id', %s, false)", (people["me"],))
    assert _counts(agent) == mine


def test_report_functions_see_only_the_pinned_user(agent: psycopg.Connection[Any],
                                                   people: dict[str, str]) -> None:
    agent.execute("SELECT set_config('fretcoach.user_id', %s, false)", (people["other"],))
    rows = agent.execute("SELECT count(*) FROM fretcoach.report_days WHERE user_id = %s",
                         (people["other"],)).fetchone()
    assert rows == (0,)


def test_scopes_of_ended_backends_are_dropped(database: Database, people: dict[str, str]) -> None:
    with database.admin() as admin:
        admin.execute("INSERT INTO fretcoach.agent_scopes (pid, scoped_user) VALUES "
                      "(2147483000, 'ghost') ON CONFLICT DO NOTHING")
    with database.connect(people["me"], role="reader") as conn:
        assert _one(conn, "SELECT fretcoach.agent_scope()") == people["me"]
    with database.admin() as admin:
        assert _one(admin, "SELECT count(*) FROM fretcoach.agent_scopes "
                           "WHERE pid = 2147483000") == 0


def test_app_connections_are_not_pinned(database: Database, people: dict[str, str]) -> None:
    with database.connect(people["me"]) as conn:
        assert _one(conn, "SELECT current_user::text") == "fretcoach_app"
        assert _one(conn, "SELECT fretcoach.agent_scope()") is None
        assert _counts(conn)["sessions"] == 1


# -- the runner's trip-wire on the agent login -------------------------------------------------


def test_tripwire_fires_on_a_role_reset_and_the_runner_recovers(
        database: Database, people: dict[str, str]) -> None:
    runner = SqlRunner(lambda: database.connect(people["me"], role="reader", autocommit=True))
    try:
        assert runner.conn.execute("SELECT session_user::text").fetchone() == ("fretcoach_agent",)
        with pytest.raises(ScopeViolation):
            runner._execute("SELECT set_config('role', 'none', false)",
                            QueryResult(sql="bypass"))
        runner.close()
        again = runner.run("SELECT count(*) AS n FROM sessions")
        assert again.ok and again.rows == [[1]], again.error
    finally:
        runner.close()


def test_chat_service_queries_on_the_agent_login(database: Database,
                                                 people: dict[str, str]) -> None:
    from fretcoach_cli import config
    from fretcoach_cli.chat.agent import ChatService

    service = ChatService(database, config.load(), user=people["me"], force_offline=True)
    try:
        row = service.runner.conn.execute("SELECT session_user::text, current_user::text"
                                          ).fetchone()
        assert row == ("fretcoach_agent", "fretcoach_reader")
    finally:
        service.runner.close()


# -- external servers ---------------------------------------------------------------------------


def _external(database: Database, agent_url: str) -> Database:
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database

    settings = config.load(env={"FRETCOACH_DATABASE_URL": database.url,
                                "FRETCOACH_CONFIG": "/nonexistent.toml"})
    return open_database(settings, agent_url=agent_url)


def test_external_without_agent_login_warns_and_still_pins(database: Database,
                                                           people: dict[str, str]) -> None:
    db = _external(database, "")
    assert db.kind == "external" and db.agent_url is None
    assert not db.security.agent_login and not db.security.ok
    assert roles.SHARED_SESSION_WARNING in db.security.problems
    with db.connect(people["me"], role="reader", autocommit=True) as conn:
        assert _one(conn, "SELECT session_user::text") == "postgres"  # the shared session
        conn.execute("SELECT set_config('fretcoach.user_id', %s, false)", (people["other"],))
        assert _counts(conn)["sessions"] == 0  # the owner's pin holds while in the role


def test_external_with_agent_url_uses_it(database: Database, people: dict[str, str]) -> None:
    assert database.agent_url
    db = _external(database, database.agent_url)
    assert db.security.agent_login and db.security.ok, db.security.problems
    with db.connect(people["me"], role="reader", autocommit=True) as conn:
        assert _one(conn, "SELECT session_user::text") == "fretcoach_agent"


def test_agent_url_naming_a_privileged_login_is_refused(database: Database,
                                                        people: dict[str, str]) -> None:
    db = _external(database, database.url)  # the superuser
    with pytest.raises(DatabaseError, match=r"superuser.*refusing"):
        db.connect(people["me"], role="reader")


def test_agent_url_naming_a_non_reader_is_refused(database: Database,
                                                  people: dict[str, str]) -> None:
    name = f"fc_plain_{uuid.uuid4().hex[:8]}"
    with database.admin() as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    try:
        url = re.sub(r"postgresql://postgres:", f"postgresql://{name}:", database.url)
        db = _external(database, url)
        with pytest.raises(DatabaseError, match="not a member of fretcoach_reader"):
            db.connect(people["me"], role="reader")
        with database.admin() as conn:
            conn.execute(f"GRANT fretcoach_reader, fretcoach_app TO {name}")
        with pytest.raises(DatabaseError, match="member of fretcoach_app"):
            db.connect(people["me"], role="reader")
    finally:
        with database.admin() as conn:
            conn.execute(f"DROP ROLE {name}")


def test_agent_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(roles.AGENT_URL_ENV, " postgresql://fretcoach_agent:pw@db/x ")
    assert roles.configured_agent_url() == "postgresql://fretcoach_agent:pw@db/x"
    assert roles.configured_agent_url({}) == ""
    assert os.environ[roles.AGENT_URL_ENV]


def test_db_status_warns_about_a_shared_agent_session(database: Database) -> None:
    from typer.testing import CliRunner

    from fretcoach_cli.cli.main import _register_commands, app

    _register_commands()
    env = {"FRETCOACH_DATABASE_URL": database.url, roles.AGENT_URL_ENV: ""}
    out = CliRunner().invoke(app, ["db", "status"], env=env, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    flat = " ".join(out.stdout.split())
    assert "WARN the chat agent's queries run on a session that could switch role" in flat
    assert "only the SQL guard protects it" in flat
    ok = CliRunner().invoke(app, ["db", "status"], catch_exceptions=False)
    assert "could switch role" not in ok.stdout and "OK" in ok.stdout


def test_status_reports_a_reader_table_without_the_agent_policy(database: Database) -> None:
    from fretcoach_cli.store import migrations
    from fretcoach_cli.store.db import inspect_security

    name = f"agentpol_{uuid.uuid4().hex[:8]}"
    with database.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = re.sub(r"/postgres\?", f"/{name}?", database.url, count=1)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.migrate(conn)
            assert inspect_security(conn).ok
            conn.execute("DROP POLICY sessions_agent_scope ON fretcoach.sessions")
            problems = inspect_security(conn).problems
        assert problems == ["the chat agent's rows in sessions are scoped only by the "
                            "fretcoach.user_id setting (no restrictive agent_scope policy)"]
    finally:
        with database.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- the first version of this file's checks (kept): raw statement, then the victim's view ------

RAW_THEN_CHECK = [
    "RESET ROLE",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/fretcoach-agent-copy'",
    "CREATE TABLE fretcoach.agent_owned (x int)",
    "DELETE FROM fretcoach.sessions",
    "UPDATE fretcoach.sessions SET scale_chosen = 'x'",
    "INSERT INTO fretcoach.ai_practice_plans (user_id, practice_plan) VALUES ('x', '{}')",
]


@pytest.fixture
def victim(database: Database, user_id: str) -> str:
    other = user_id + "-victim"
    with database.connect(other) as conn:
        Sessions(conn).create(scale_chosen="A minor pentatonic", scale_type="minor_pentatonic")
    return other


@pytest.mark.parametrize("sql", RAW_THEN_CHECK)
def test_raw_statement_leaves_the_session_unprivileged(database: Database, user_id: str,
                                                       victim: str, sql: str) -> None:
    with database.connect(user_id, role="reader", autocommit=True) as conn:
        with contextlib.suppress(psycopg.Error):  # refused is what we want
            conn.execute(sql)  # type: ignore[arg-type]
        assert _one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") \
            is False
        try:
            rows = conn.execute("SELECT user_id FROM fretcoach.sessions").fetchall()
        except psycopg.Error:
            rows = []  # after RESET ROLE it cannot even read the schema: also fine
        assert all(r[0] != victim for r in rows)
    assert not Path("/tmp/fretcoach-agent-copy").exists()
    with database.connect(victim) as owner:
        listed = Sessions(owner).list()
        assert len(listed) == 1 and listed[0].scale_chosen == "A minor pentatonic"
