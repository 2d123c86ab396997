"""Row-level security: a connection scoped to user A never sees or writes user B's rows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from fretcoach_cli.errors import DatabaseError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.store import NoteRecord, Plans, Sessions, Users
from fretcoach_cli.store.db import USER_TABLES, Database, inspect_security

NOTE = NoteEvent(0.1, 0.5, 57.05, 0.9)


def _fill(db: Database, user: str) -> None:
    """One row in every user table for ``user``, through the repositories and plain SQL."""
    with db.connect(user) as conn:
        sessions, plans = Sessions(conn), Plans(conn)
        sid = sessions.create(scale_chosen="A minor pentatonic", hold_writer_lock=False)
        sessions.add_notes(sid, [NoteRecord(0, NOTE, True, True)])
        pid = plans.create({"steps": ["slow"]})
        plans.link_session(pid, sid)
        Users(conn).set_settings({"enabled_metrics": ["pitch_accuracy"]})
        conn.execute("INSERT INTO fretcoach.coach_replies (session_id, user_id, text) "
                     "VALUES (%s, %s, 'nice')", (sid, user))
        conn.execute("INSERT INTO fretcoach.chat_threads (user_id, title) VALUES (%s, 't')",
                     (user,))
        conn.commit()


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM fretcoach.{t}").fetchone()[0]  # type: ignore[index]
            for t in USER_TABLES}


def test_each_user_sees_only_own_rows_in_every_table(database: Database) -> None:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    _fill(database, a)
    _fill(database, b)
    for user in (a, b):
        with database.connect(user) as conn:
            assert _counts(conn) == dict.fromkeys(USER_TABLES, 1)
            for table in USER_TABLES:
                owners = conn.execute(f"SELECT DISTINCT user_id FROM fretcoach.{table}")
                assert [r[0] for r in owners] == [user], table
        with database.connect(user, role="reader") as conn:
            assert conn.execute("SELECT count(*) FROM fretcoach.sessions").fetchone() == (1,)
    # the admin (superuser) connection sees both — the protection is the role switch
    with database.admin() as conn:
        n = conn.execute("SELECT count(*) FROM fretcoach.sessions WHERE user_id = ANY(%s)",
                         ([a, b],)).fetchone()
    assert n == (2,)


@pytest.mark.parametrize("table", USER_TABLES)
def test_cannot_write_rows_for_another_user(database: Database, table: str) -> None:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    _fill(database, b)
    with database.connect(b) as conn:
        b_session = Sessions(conn).list()[0].session_id
    inserts = {
        "sessions": ("INSERT INTO fretcoach.sessions (user_id) VALUES (%s)", (b,)),
        "session_notes": ("INSERT INTO fretcoach.session_notes (session_id, seq, user_id, "
                          "onset_s, offset_s) VALUES (%s, 99, %s, 0, 1)", (b_session, b)),
        "ai_practice_plans": ("INSERT INTO fretcoach.ai_practice_plans (user_id, "
                              "practice_plan) VALUES (%s, '{}')", (b,)),
        "user_configs": ("INSERT INTO fretcoach.user_configs (user_id) VALUES (%s)", (b,)),
        "coach_replies": ("INSERT INTO fretcoach.coach_replies (user_id, text) "
                          "VALUES (%s, 'x')", (b,)),
        "chat_threads": ("INSERT INTO fretcoach.chat_threads (user_id) VALUES (%s)", (b,)),
    }
    sql, params = inserts[table]
    with database.connect(a) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql, params)
        conn.rollback()
        # nor update/delete B's rows: they are invisible, so nothing matches
        assert conn.execute(f"UPDATE fretcoach.{table} SET user_id = user_id").rowcount == 0
        assert conn.execute(f"DELETE FROM fretcoach.{table}").rowcount == 0
        conn.commit()
    with database.connect(b) as conn:
        assert _counts(conn)[table] == 1


def test_notes_cannot_point_at_another_users_session(database: Database) -> None:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    _fill(database, b)
    with database.connect(b) as conn:
        b_session = Sessions(conn).list()[0].session_id
    with database.connect(a) as conn, pytest.raises(DatabaseError) as info:
        Sessions(conn).add_notes(b_session, [NoteRecord(5, NOTE)])
    assert isinstance(info.value.__cause__, psycopg.errors.ForeignKeyViolation)
    assert str(info.value).startswith("sessions add_notes failed: ")
    with database.connect(a) as conn:
        assert Sessions(conn).get(b_session) is None
        assert Sessions(conn).delete(b_session) is False


def test_reader_role_cannot_write(database: Database, user_id: str) -> None:
    with database.connect(user_id, role="reader") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO fretcoach.sessions (user_id) VALUES (%s)", (user_id,))
        conn.rollback()
        # and sees no other user's rows (or private tables)
        assert conn.execute("SELECT count(*) FROM fretcoach.sessions").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM fretcoach.schema_migrations")


@pytest.fixture
def login_role(database: Database) -> Iterator[tuple[str, str]]:
    """A non-superuser login role owning a fresh database; yields (role, url)."""
    role = f"fc_owner_{uuid.uuid4().hex[:8]}"
    dbname = f"owned_{uuid.uuid4().hex[:8]}"
    with database.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEROLE")
        conn.execute(f"CREATE DATABASE {dbname} OWNER {role}")
    url = re.sub(r"postgresql://postgres:@/postgres\?", f"postgresql://{role}:@/{dbname}?",
                 database.url)
    yield role, url
    with database.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {role}")


def _external(url: str) -> Database:
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database

    return open_database(config.load(env={"FRETCOACH_DATABASE_URL": url,
                                          "FRETCOACH_CONFIG": "/nonexistent.toml"}))


def test_external_owner_without_role_rights_is_still_scoped(login_role: tuple[str, str]) -> None:
    """No CREATEROLE and not a member of fretcoach_app: FORCE RLS on the owner still scopes
    rows, and the degraded mode is reported, not hidden."""
    _role, url = login_role
    db = _external(url)
    assert db.kind == "external"
    assert db.security.mode == "owner" and not db.security.ok
    assert any("fretcoach_app" in p for p in db.security.problems)
    _fill(db, "alice")
    _fill(db, "bob")
    with db.connect("alice") as conn:
        assert _counts(conn) == dict.fromkeys(USER_TABLES, 1)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO fretcoach.sessions (user_id) VALUES ('bob')")


def test_user_connections_refused_when_rls_cannot_apply(database: Database,
                                                       login_role: tuple[str, str]) -> None:
    role, url = login_role
    db = _external(url)  # migrate while still an ordinary owner
    with database.admin() as conn:
        conn.execute(f"ALTER ROLE {role} BYPASSRLS")
    with psycopg.connect(url, autocommit=True) as conn:
        security = inspect_security(conn)
    assert security.mode == "none" and not security.ok
    db.security = security
    with pytest.raises(DatabaseError, match="row-level security cannot be enforced"):
        db.connect("alice")


def test_status_warns_about_a_user_table_without_rls(database: Database) -> None:
    """A later migration that forgets RLS on a table with user_id is reported, not hidden."""
    from fretcoach_cli.store import migrations

    name = f"rls_{uuid.uuid4().hex[:8]}"
    with database.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = re.sub(r"/postgres\?", f"/{name}?", database.url, count=1)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.migrate(conn)
            assert inspect_security(conn).ok
            conn.execute("CREATE TABLE fretcoach.forgotten (user_id text, x int)")
            security = inspect_security(conn)
        assert not security.ok
        assert security.problems == ["row-level security is not enabled+forced on forgotten"]
    finally:
        with database.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
