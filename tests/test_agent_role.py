"""The chat agent's database session holds by itself, without the SQL guard in front of it.

Raw statements are sent straight to the reader connection (no pglast guard): escalation,
file access, writes and other users' rows must all fail or come back empty.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import pytest

from fretcoach_cli.store import Sessions

ESCALATIONS = [
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
def victim(database: Any, user_id: str) -> str:
    other = user_id + "-victim"
    with database.connect(other) as conn:
        Sessions(conn).create(scale_chosen="A minor pentatonic", scale_type="minor_pentatonic")
    return other


def test_the_agent_session_user_is_not_privileged(database: Any, user_id: str) -> None:
    assert database.agent_url is not None, "the embedded server should give the agent a login"
    with database.connect(user_id, role="reader") as conn:
        session_user, superuser = conn.execute(
            "SELECT session_user, (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)"
        ).fetchone()
        assert session_user == "fretcoach_agent" and superuser is False


@pytest.mark.parametrize("sql", ESCALATIONS)
def test_raw_escalation_fails(database: Any, user_id: str, victim: str, sql: str) -> None:
    with database.connect(user_id, role="reader") as conn:
        conn.autocommit = True
        with contextlib.suppress(psycopg.Error):  # refused is what we want
            conn.execute(sql)
        # whatever happened, the session is still unprivileged and sees no victim row
        row = conn.execute(
            "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)").fetchone()
        assert not row[0]
        try:
            rows = conn.execute("SELECT user_id FROM fretcoach.sessions").fetchall()
        except psycopg.Error:
            rows = []  # after RESET ROLE it may not even read the schema: also fine
        assert all(r[0] != victim for r in rows)
    with database.connect(victim) as owner:
        assert len(Sessions(owner).list()) == 1  # nothing deleted or changed
        assert Sessions(owner).list()[0].scale_chosen == "A minor pentatonic"


def test_changing_the_user_scope_does_not_reveal_other_rows(database: Any, user_id: str,
                                                            victim: str) -> None:
    with database.connect(user_id, role="reader") as conn:
        conn.autocommit = True
        conn.execute("SELECT set_config('fretcoach.user_id', %s, false)", (victim,))
        rows = conn.execute("SELECT user_id FROM fretcoach.sessions").fetchall()
        assert rows == []
