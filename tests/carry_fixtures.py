"""Helpers for the round-trip tests of export/import and sync (test_carry_*.py): fresh
databases, the per-user tables and columns read from the catalogue, snapshots compared column
by column, and a seed that fills every table and column."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fretcoach_cli import config
from fretcoach_cli.reports import carry, remap
from fretcoach_cli.reports.seed import seed
from fretcoach_cli.reports.sync import open_peer
from fretcoach_cli.store import replies
from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts
from fretcoach_cli.store.latency import Latencies
from fretcoach_cli.store.users import Users

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
# Columns that deliberately stay behind (identity columns are local numbers and skipped too):
# embeddings are recomputed by the destination when a memory is first recalled.
LEFT_BEHIND = {("coach_memories", "embedding"), ("coach_memories", "embedding_model")}
SYNC_ONLY = {"deleted_rows"}  # tombstones travel by sync; an export is a snapshot


# -- databases ----------------------------------------------------------------------------
@pytest.fixture
def fresh_db(database: Any) -> Iterator[Callable[[], Any]]:
    """Makes empty, migrated databases on the test server (dropped after the test)."""
    made: list[tuple[str, Any]] = []

    def make() -> Any:
        name = f"carry_{uuid.uuid4().hex[:10]}"
        with database.admin() as admin:
            admin.execute(f"CREATE DATABASE {name}")
        url = database.url.replace("/postgres?", f"/{name}?")
        assert url != database.url
        db = open_peer(url, config.load())
        made.append((name, db))
        return db

    yield make
    for name, db in made:
        db.close()
        with database.admin() as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def cli(*args: str, url: str | None = None, stdin: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if url:
        env["FRETCOACH_DATABASE_URL"] = url
    return subprocess.run([FRETCOACH, *args], capture_output=True, text=True, env=env,
                          timeout=180, input=stdin)


# -- the catalogue ------------------------------------------------------------------------
def user_tables(conn: Any) -> set[str]:
    rows = conn.execute("""
        SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE c.relnamespace = 'fretcoach'::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attname = 'user_id' AND NOT a.attisdropped""").fetchall()
    conn.commit()
    return {r[0] for r in rows}


def compared_columns(conn: Any, table: str) -> list[str]:
    rows = conn.execute("""
        SELECT a.attname FROM pg_attribute a
         WHERE a.attrelid = ('fretcoach.' || %s)::regclass AND a.attnum > 0
           AND NOT a.attisdropped AND a.attidentity = '' AND a.attname <> 'user_id'
         ORDER BY a.attnum""", (table,)).fetchall()
    conn.commit()
    return [r[0] for r in rows if (table, r[0]) not in LEFT_BEHIND]


def id_columns(conn: Any, table: str) -> set[str]:
    """Columns holding ids that are keys of the whole database (an import by another user
    gives them new values): every uuid column, and the chat thread ids (text)."""
    rows = conn.execute("""
        SELECT a.attname FROM pg_attribute a
         WHERE a.attrelid = ('fretcoach.' || %s)::regclass AND a.attnum > 0
           AND NOT a.attisdropped AND (a.atttypid = 'uuid'::regtype OR a.attname = 'thread_id')
        """, (table,)).fetchall()
    conn.commit()
    return {r[0] for r in rows}


def snapshot(conn: Any, tables: set[str], *, ids_for: str | None = None,
             ) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each table the connection's user sees, every compared column as text;
    with ``ids_for``, ids as that user's import of them would have them."""
    out = {}
    for table in sorted(tables):
        cols = compared_columns(conn, table)
        ids = id_columns(conn, table) if ids_for else set()
        rows = conn.execute(f"SELECT {', '.join(c + '::text' for c in cols)} "
                            f"FROM fretcoach.{table}").fetchall()
        if ids_for:
            rows = [tuple(remap.new_id(ids_for, v) if c in ids and v is not None else v
                          for c, v in zip(cols, r, strict=True)) for r in rows]
        out[table] = sorted(rows, key=repr)
    conn.commit()
    return out


def assert_same(a: dict[str, list[Any]], b: dict[str, list[Any]], conn: Any) -> None:
    assert a.keys() == b.keys()
    for table in a:
        cols = compared_columns(conn, table)
        assert len(a[table]) == len(b[table]), (table, len(a[table]), len(b[table]))
        for x, y in zip(a[table], b[table], strict=True):
            diff = {c: (p, q) for c, p, q in zip(cols, x, y, strict=True) if p != q}
            assert not diff, (table, diff)


# -- a history that fills every table and column -------------------------------------------
def seed_everything(conn: Any, user: str, *, sessions: int = 8) -> dict[str, Any]:
    seed(conn, user=user, sessions=sessions, notes_per_session=6)
    sids = [r[0] for r in conn.execute(
        "SELECT session_id FROM fretcoach.sessions ORDER BY start_time, session_id")]
    ex, ex2 = sids[0], sids[1]
    conn.execute(
        """UPDATE fretcoach.sessions SET tuning = 'drop-d', exercise_name = 'scale-run',
               exercise_source = 'built-in', exercise_bpm = 90, ramp = '80:140:+4',
               max_clean_bpm = 120, tempo_curve = '[{"t": 1.5, "bpm": 80, "clean": true}]',
               tempo_bpm = 90, mean_abs_grid_dev_ms = 21.5, clean_ratio = 0.75
         WHERE session_id = ANY(%s)""", ([ex, ex2],))
    conn.execute("UPDATE fretcoach.ai_practice_plans SET prompt_version = 'v2'")
    conn.commit()
    verdicts = ExerciseVerdicts(conn)
    hit = {"index": 0, "verdict": "hit", "beat": 0.0, "string": 0, "fret": 5,
           "expected_midi": 45, "expected_s": 0.5, "played_midi": 45.08, "onset_s": 0.51,
           "offset_ms": 10.0}
    late = {**hit, "index": 1, "verdict": "late", "beat": 0.5, "fret": 8, "expected_midi": 48,
            "expected_s": 0.83, "played_midi": 47.9, "onset_s": 0.95, "offset_ms": 120.0}
    extra = {"index": None, "verdict": "extra", "beat": None, "string": None, "fret": None,
             "expected_midi": None, "expected_s": None, "played_midi": 50.2, "onset_s": 1.4,
             "offset_ms": None}
    verdicts.replace(ex, [hit, late, extra])
    verdicts.replace(ex2, [{**hit, "verdict": "missed", "played_midi": None,
                            "onset_s": None, "offset_ms": None}, late])
    thread = f"thread-{uuid.uuid4().hex[:8]}"
    conn.execute("INSERT INTO fretcoach.chat_threads (thread_id, user_id, title, model, turns) "
                 "VALUES (%s, current_setting('fretcoach.user_id'), 'my bends', 'smollm2', 3)",
                 (thread,))
    conn.commit()
    tip = replies.new_uuid()
    replies.record(conn, kind="live", text="Relax the fretting hand.", source="gpt-test",
                   prompt_name="live", prompt_version="v2", session_id=ex, trace_id="tr-1",
                   reply_uuid=tip)
    chat = replies.new_uuid()
    replies.record(conn, kind="chat", text="Your bends are flat by 20 cents.",
                   source="smollm2", prompt_name="chat", prompt_version="v1",
                   thread_id=thread, reply_uuid=chat, trace_id="tr-2")
    replies.record(conn, kind="plan", text="Ten minutes of A minor at 80 bpm.",
                   source="offline", prompt_name="plan", prompt_version="v1")
    replies.rate(conn, tip, 1, "spot on")
    replies.mark_sent(conn, tip)
    replies.rate(conn, chat, -1)
    replies.rate(conn, replies.new_uuid(), 1, "a tip still in a journal")  # no reply yet
    conn.execute("""INSERT INTO fretcoach.coach_memories (user_id, kind, text, norm, source,
                        last_recalled_at)
                    VALUES (current_setting('fretcoach.user_id'), 'goal', 'Play Sultans at 150',
                            'play sultans at 150', 'chat', now() - interval '1 hour'),
                           (current_setting('fretcoach.user_id'), 'limit', 'Sore left wrist',
                            'sore left wrist', 'user', NULL)""")
    conn.commit()
    Latencies(conn).save(device_key="alsa/usb audio", device_name="USB Audio", latency_ms=12.5,
                       spread_ms=1.25, hits=8, attempts=9, method="loopback",
                       output_device="hw:1,0", sample_rate=48000)
    Users(conn).set_settings({"metrics": ["pitch_accuracy", "timing_stability"]})
    return {"sessions": sids, "thread": thread, "tip": tip}


def carried(conn: Any, *, sync: bool) -> set[str]:
    tables = set(carry.CARRIED_TABLES) | (SYNC_ONLY if sync else set())
    return tables & user_tables(conn)


def check_filled(conn: Any, tables: set[str]) -> None:
    """Every compared column holds a value somewhere: a new column needs seed data here."""
    empty = [f"{table}.{col}" for table in sorted(tables)
             for col in compared_columns(conn, table)
             if not conn.execute(f"SELECT count({col}) FROM fretcoach.{table}").fetchone()[0]]
    conn.commit()
    assert not empty, f"seed_everything leaves these empty, give them a value: {empty}"
