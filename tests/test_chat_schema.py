"""The schema the agent is told about matches the database, and the chat migration holds."""

from __future__ import annotations

from typing import Any

from fretcoach_cli.chat.schema import TABLES, describe
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


def test_description_has_meanings_not_rows() -> None:
    text = describe(200, 3.0)
    assert "pitch_accuracy float: score 0-100" in text
    assert "At most 200 rows" in text
