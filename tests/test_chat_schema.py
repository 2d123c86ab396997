"""The schema the agent is told about matches the database, its meanings come from the
database's comments, and the chat migration holds."""

from __future__ import annotations

from typing import Any

import pytest

from fretcoach_cli.chat.schema import (
    COLUMNS,
    TABLES,
    SchemaCommentsMissing,
    describe,
    read_tables,
)
from fretcoach_cli.chat.sql_guard import ALLOWED_RELATIONS


def test_described_columns_exist(database: Any) -> None:
    with database.admin() as conn:
        for table in TABLES:
            real = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'fretcoach' AND table_name = %s", (table.name,))}
            missing = {c.name for c in table.columns} - real
            assert not missing, f"{table.name}: {missing}"
    assert {t.name for t in TABLES} == set(ALLOWED_RELATIONS)


def test_every_exposed_table_and_column_has_a_comment(database: Any) -> None:
    with database.admin() as conn:
        tables = read_tables(conn)
    assert [(t.name, [c.name for c in t.columns]) for t in tables] == [
        (name, list(cols)) for name, cols in COLUMNS.items()]
    assert all(t.meaning and all(c.meaning and c.type for c in t.columns) for t in tables)
    notes = {c.name: c for c in tables[1].columns}
    assert (notes["pitch_class"].type, notes["midi"].type) == ("smallint", "float")
    assert notes["midi"].meaning.startswith("pitch as a fractional MIDI number")


def test_the_agent_reads_the_meanings_on_its_own_connection(database: Any,
                                                            user_id: str) -> None:
    """The read-only reader/agent session sees the catalog comments (no schema privilege
    needed): the text it gets is the one the prompt was written with."""
    with database.connect(user_id, role="reader", autocommit=True) as conn:
        text = describe(200, 3.0, conn)
    assert "unavailable" not in text
    assert "TABLE sessions — one practice session (live playing or an analysed file)" in text
    assert "  pitch_accuracy float: score 0-100 (higher is better): in-scale notes played " \
           "in tune" in text
    assert "  start_time timestamptz: when the session started (UTC;" in text
    assert "  practice_plan jsonb: the plan: keys scale" in text
    assert text.count("\n  ") == sum(len(c) for c in COLUMNS.values())


def test_a_column_without_a_comment_is_reported_not_described(database: Any) -> None:
    with database.admin() as conn, conn.transaction(force_rollback=True):
        conn.execute("COMMENT ON COLUMN fretcoach.session_notes.cents IS NULL")
        with pytest.raises(SchemaCommentsMissing, match=r"session_notes\.cents"):
            read_tables(conn)
        text = describe(200, 3.0, conn)
    assert "(column meanings unavailable: no comment in the database for " \
           "session_notes.cents" in text
    assert "\n  cents\n" in text  # still listed, by name only


def test_reader_can_select_every_allowed_table(database: Any, user_id: str) -> None:
    with database.connect(user_id, role="reader", autocommit=True) as conn:
        for table in TABLES:
            cols = ", ".join(c.name for c in table.columns)
            conn.execute(f"SELECT {cols} FROM fretcoach.{table.name} LIMIT 0")


def test_checkpoint_schema_is_closed_to_the_roles(database: Any) -> None:
    with database.admin() as conn:
        rows = conn.execute(
            "SELECT r.rolname, has_schema_privilege(r.rolname, 'fretcoach_chat', 'USAGE') "
            "FROM pg_roles r WHERE r.rolname IN ('fretcoach_app', 'fretcoach_reader')"
        ).fetchall()
    assert rows and all(not usage for _name, usage in rows)


def test_description_has_meanings_not_rows(database: Any) -> None:
    with database.admin() as conn:
        text = describe(200, 3.0, conn)
    assert "pitch_accuracy float: score 0-100" in text
    assert "At most 200 rows" in text
    assert "no database connection" in describe(200, 3.0)
