"""Nothing is lost: export → import and sync --to → --from carry every row of every per-user
table, column by column, into fresh databases; twice changes nothing; one user's rows never
move with another's; a bad file imports nothing.

The tables and columns compared come from the catalogue, not from a list here: a per-user
table added later that neither path carries (nor reports/carry.py NOT_CARRIED names) fails
``test_every_user_table_is_carried_or_named``, and a column added later fails the round trips
(the seed must give it a value: ``test`` checks every compared column is non-NULL somewhere).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from carry_fixtures import (
    assert_same,
    carried,
    check_filled,
    cli,
    fresh_db,
    seed_everything,
    snapshot,
    user_tables,
)
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.reports import carry

__all__ = ["fresh_db"]  # a fixture


# -- tests ----------------------------------------------------------------------------------
def test_every_user_table_is_carried_or_named(conn: Any) -> None:
    tables = user_tables(conn)
    assert tables, "no per-user tables found"
    unknown = tables - set(carry.CARRIED_TABLES) - set(carry.NOT_CARRIED)
    assert not unknown, f"per-user tables export/sync do not carry: {sorted(unknown)}"
    assert set(carry.CARRIED_TABLES) <= tables  # the list names no table that is gone


@pytest.mark.parametrize("where", ["fresh database", "fresh database, another user",
                                   "same database, another user"])
def test_export_import_roundtrip(database: Any, conn: Any, user_id: str,
                                 fresh_db: Callable[[], Any], tmp_path: Path,
                                 where: str) -> None:
    seed_everything(conn, user_id)
    tables = carried(conn, sync=False)
    check_filled(conn, tables)
    out = cli("--user", user_id, "export", "-o", str(tmp_path / "all.json"))
    assert out.returncode == 0, out.stderr
    assert "exercise verdicts" in out.stderr and "coach memories" in out.stderr
    target = database if where.startswith("same") else fresh_db()
    who = f"moved-{uuid.uuid4().hex[:8]}" if where.endswith("another user") else user_id
    # another user's copy gets ids of its own (ids are keys of the whole database)
    before = snapshot(conn, tables, ids_for=None if who == user_id else who)
    for attempt in (1, 2):
        out = cli("--user", who, "import", str(tmp_path / "all.json"), "--json",
                  url=None if target is database else target.url)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["ids_remapped"] == (who != user_id)
        if attempt == 1:
            assert report["sessions_inserted"] == 8 and report["exercise_verdicts_inserted"] == 5
        else:  # idempotent: nothing written the second time
            assert report["sessions_inserted"] == report["sessions_updated"] == 0
            assert report["notes_inserted"] == report["coach_replies_inserted"] == 0
            assert report["exercise_verdicts_inserted"] == 0
            assert set(report["other"].values()) == {0}, report["other"]
        with target.connect(who) as moved:
            assert_same(before, snapshot(moved, tables), moved)
    if target is not database:
        with target.admin() as admin:  # nothing under the exporter's name or any other
            for table in tables:
                users = {r[0] for r in admin.execute(f"SELECT DISTINCT user_id FROM "
                                                     f"fretcoach.{table}")}
                assert users == {who}, (table, users)
    else:  # the exporter's own rows are untouched
        assert_same(snapshot(conn, tables, ids_for=who), before, conn)


def test_sync_to_then_from_into_a_fresh_database(database: Any, conn: Any, user_id: str,
                                                 fresh_db: Callable[[], Any]) -> None:
    made = seed_everything(conn, user_id)
    conn.execute("DELETE FROM fretcoach.sessions WHERE session_id = %s",
                 (made["sessions"][-1],))  # a tombstone travels too
    conn.execute("INSERT INTO fretcoach.coach_memories (user_id, text, norm) VALUES "
                 "(current_setting('fretcoach.user_id'), 'Uses a capo', 'uses a capo')")
    conn.commit()
    conn.execute("DELETE FROM fretcoach.coach_memories WHERE norm = 'uses a capo'")
    conn.commit()  # ... and one keyed by a natural key (ddl/075)
    # another user of the same database: their rows must never move with ours
    stranger = f"stranger-{uuid.uuid4().hex[:8]}"
    with database.connect(stranger) as theirs:
        seed_everything(theirs, stranger, sessions=3)
    tables = carried(conn, sync=True)
    check_filled(conn, tables)
    before = snapshot(conn, tables)
    shared, laptop = fresh_db(), fresh_db()
    for attempt in (1, 2):
        out = cli("--user", user_id, "sync", "--to", shared.url, "--json")
        assert out.returncode == 0, out.stderr
        (push,) = json.loads(out.stdout)
        out = cli("--user", user_id, "sync", "--from", shared.url, "--json", url=laptop.url)
        assert out.returncode == 0, out.stderr
        (pull,) = json.loads(out.stdout)
        for rep in (push, pull):
            assert rep["complete"]
            if attempt == 2:
                assert rep["sessions"]["inserted"] == rep["sessions"]["updated"] == 0
                assert rep["sessions"]["exercise_verdicts"] == 0
                assert {o["inserted"] for o in rep["other"].values()} == {0}, rep["other"]
        assert pull["sessions"]["exercise_verdicts"] == (5 if attempt == 1 else 0)
        for db in (shared, laptop):
            with db.connect(user_id) as there:
                assert_same(before, snapshot(there, tables), there)
    for db in (shared, laptop):
        with db.admin() as admin:
            for table in tables:
                users = {r[0] for r in admin.execute(
                    f"SELECT DISTINCT user_id FROM fretcoach.{table}")}
                assert users == {user_id}, (table, users)


def test_a_format_1_file_still_imports(conn: Any, user_id: str, fresh_db: Callable[[], Any],
                                       tmp_path: Path) -> None:
    seed_everything(conn, user_id, sessions=4)
    out = cli("--user", user_id, "export")
    assert out.returncode == 0, out.stderr
    new = json.loads(out.stdout)
    old = {k: v for k, v in new.items() if k in ("format", "exported_at", "user", "filter",
                                                 "note_columns", "plans", "sessions")}
    old["version"] = 1
    old["sessions"] = [
        {**{k: v for k, v in s.items() if k not in ("exercise_verdicts", "coach_replies")},
         "coach_replies": [{k: r[k] for k in ("at", "source", "kind", "text")}
                           for r in s["coach_replies"]]}
        for s in new["sessions"]]
    (tmp_path / "v1.json").write_text(json.dumps(old))
    (tmp_path / "v2.json").write_text(out.stdout)
    target = fresh_db()
    out = cli("--user", user_id, "import", str(tmp_path / "v1.json"), "--json", url=target.url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sessions_inserted"] == 4
    # the format 2 file on top adds what format 1 lacked, and no reply twice:
    out = cli("--user", user_id, "import", str(tmp_path / "v2.json"), "--json", url=target.url)
    assert out.returncode == 0, out.stderr
    # the replies format 1 brought in without uuids adopt theirs: the copy is exact
    tables = carried(conn, sync=False)
    with target.connect(user_id) as there:
        assert_same(snapshot(conn, tables), snapshot(there, tables), there)


@pytest.mark.parametrize("damage", ["truncated", "bad_verdict", "bad_latency", "newer",
                                    "not_a_list", "claimed"])
def test_a_bad_file_imports_nothing(database: Any, conn: Any, user_id: str,
                                    fresh_db: Callable[[], Any], tmp_path: Path,
                                    damage: str) -> None:
    seed_everything(conn, user_id, sessions=3)
    out = cli("--user", user_id, "export")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    doc = json.loads(text)
    if damage == "truncated":
        text = text[: len(text) * 2 // 3]
    else:
        if damage == "bad_verdict":  # a verdict breaks a CHECK
            doc["sessions"][0]["exercise_verdicts"][0]["verdict"] = "great"
        elif damage == "bad_latency":  # applied after every session: all must roll back
            doc["input_latency"][0]["latency_ms"] = 9999
        elif damage == "newer":
            doc["version"] = 99
        elif damage == "claimed":  # another user's file passed off as ours, same database
            doc["user"] = "claimant"
        else:
            doc["coach_memories"] = "forget it"
        text = json.dumps(doc)
    path = tmp_path / "bad.json"
    path.write_text(text)
    target = database if damage == "claimed" else fresh_db()
    who = "claimant" if damage == "claimed" else user_id
    out = cli("--user", who, "import", str(path),
              url=None if target is database else target.url)
    assert out.returncode == ExitCode.USAGE, (out.returncode, out.stderr)
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert str(path) in out.stderr
    if damage == "newer":
        assert "newer fretcoach" in out.stderr
    with target.admin() as admin:
        for table in carry.CARRIED_TABLES:
            n = admin.execute(f"SELECT count(*) FROM fretcoach.{table} WHERE user_id = %s",
                              (who,)).fetchone()[0]
            assert n == 0, (damage, table, n)
