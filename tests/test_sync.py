"""Sync between two real PostgreSQL databases: delta, resumable, last writer wins, deletions.

The peer is a second database created on the test server (its own schema, migrations and
instance id, reached through its own URL like any shared server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fretcoach_cli import config
from fretcoach_cli.reports.seed import seed
from fretcoach_cli.reports.sync import open_peer, sync

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
TABLES = ("sessions", "session_notes", "ai_practice_plans", "coach_replies")


class Stop(Exception):
    pass


@pytest.fixture
def peer_db(database: Any) -> Iterator[Any]:
    name = f"peer_{uuid.uuid4().hex[:10]}"
    with database.admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = database.url.replace("/postgres?", f"/{name}?")
    assert url != database.url
    db = open_peer(url, config.load())
    yield db
    with database.admin() as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def peer(peer_db: Any, user_id: str) -> Iterator[Any]:
    conn = peer_db.connect(user_id)
    yield conn
    conn.close()


def counts(db: Any, user: str) -> dict[str, int | None]:
    c = db.row_counts(user)
    return {t: c[t] for t in TABLES}


def score(conn: Any, sid: Any) -> float:
    value = conn.execute("SELECT overall_score FROM fretcoach.sessions WHERE session_id = %s",
                         (sid,)).fetchone()[0]
    conn.commit()
    return value


def edit(conn: Any, sid: Any, value: float) -> None:
    conn.execute("UPDATE fretcoach.sessions SET overall_score = %s WHERE session_id = %s",
                 (value, sid))
    conn.commit()
    time.sleep(0.01)  # the next edit (elsewhere) gets a strictly later transaction time


def test_push_copies_everything_once(database: Any, peer_db: Any, conn: Any, peer: Any,
                                     user_id: str) -> None:
    seed(conn, user=user_id, sessions=25, notes_per_session=8)
    first = sync(conn, peer, "push", batch_size=10)
    assert first.complete and first.sessions.inserted == 25 and first.plans.inserted == 3
    assert counts(peer_db, user_id) == counts(database, user_id)
    linked = "SELECT count(*) FROM fretcoach.sessions WHERE practice_id IS NOT NULL"
    assert peer.execute(linked).fetchone() == conn.execute(linked).fetchone()
    plan_links = ("SELECT count(*) FROM fretcoach.ai_practice_plans "
                  "WHERE session_id IS NOT NULL")
    assert peer.execute(plan_links).fetchone() == conn.execute(plan_links).fetchone() == (3,)
    peer.commit()
    conn.commit()
    again = sync(conn, peer, "push", batch_size=10)
    assert again.moved == 0 and again.sessions.notes == 0
    back = sync(conn, peer, "pull", batch_size=10)
    assert back.moved == 0 and back.sessions.scanned == 25  # first pull reads all, moves none
    # now the mark is past them: only the look-back window is re-read, and moves nothing
    later = sync(conn, peer, "pull")
    assert later.moved == 0 and later.sessions.scanned < 5


def test_interrupted_sync_resumes_where_it_stopped(database: Any, peer_db: Any, conn: Any,
                                                   peer: Any, user_id: str) -> None:
    seed(conn, user=user_id, sessions=30, notes_per_session=6)

    def crash(table: str, report: Any) -> None:
        if table == "sessions":
            raise Stop

    with pytest.raises(Stop):
        sync(conn, peer, "push", batch_size=10, on_batch=crash)
    conn.rollback()
    peer.rollback()
    partial = counts(peer_db, user_id)
    assert partial["sessions"] == 10 and partial["ai_practice_plans"] == 3
    resumed = sync(conn, peer, "push", batch_size=10)
    assert resumed.sessions.inserted == 20 and resumed.plans.inserted == 0
    assert counts(peer_db, user_id) == counts(database, user_id)


def test_conflicting_edits_last_writer_wins(conn: Any, peer: Any, user_id: str) -> None:
    seed(conn, user=user_id, sessions=4, notes_per_session=4)
    sync(conn, peer, "push")
    sid = conn.execute("SELECT session_id FROM fretcoach.sessions LIMIT 1").fetchone()[0]
    conn.commit()
    # edited on the peer, then (later) here: our edit is newer and wins on push
    edit(peer, sid, 11.0)
    edit(conn, sid, 22.0)
    pushed = sync(conn, peer, "push")
    assert pushed.sessions.updated == 1 and score(peer, sid) == 22.0
    # edited here, then (later) on the peer: the peer's copy wins both ways
    edit(conn, sid, 33.0)
    edit(peer, sid, 44.0)
    pushed = sync(conn, peer, "push")
    assert pushed.sessions.kept_newer == 1 and pushed.sessions.updated == 0
    assert score(peer, sid) == 44.0
    pulled = sync(conn, peer, "pull")
    assert pulled.sessions.updated == 1 and score(conn, sid) == 44.0
    assert sync(conn, peer, "push").moved == 0


def test_deletions_travel_unless_edited_later(conn: Any, peer: Any, user_id: str) -> None:
    seed(conn, user=user_id, sessions=5, notes_per_session=4)
    sync(conn, peer, "push")
    gone, kept = [r[0] for r in conn.execute(
        "SELECT session_id FROM fretcoach.sessions ORDER BY start_time LIMIT 2")]
    conn.commit()
    conn.execute("DELETE FROM fretcoach.sessions WHERE session_id = ANY(%s)", ([gone, kept],))
    conn.commit()
    time.sleep(0.01)
    edit(peer, kept, 99.0)  # changed on the peer after our deletion: it survives
    pushed = sync(conn, peer, "push")
    assert pushed.deletions.deleted == 1
    left = {r[0] for r in peer.execute("SELECT session_id FROM fretcoach.sessions")}
    peer.commit()
    assert gone not in left and kept in left
    pulled = sync(conn, peer, "pull")
    assert pulled.sessions.inserted == 1 and score(conn, kept) == 99.0
    mine = {r[0] for r in conn.execute("SELECT session_id FROM fretcoach.sessions")}
    conn.commit()
    assert gone not in mine and len(mine) == 4
    notes = conn.execute("SELECT count(*) FROM fretcoach.session_notes WHERE session_id = %s",
                         (kept,)).fetchone()[0]
    assert notes > 0


def test_sync_command(database: Any, peer_db: Any, conn: Any, user_id: str) -> None:
    seed(conn, user=user_id, sessions=6, notes_per_session=3)
    out = subprocess.run([FRETCOACH, "--user", user_id, "sync", "--to", peer_db.url, "--json"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)
    assert report["direction"] == "push" and report["sessions"]["inserted"] == 6
    assert report["complete"] is True
    out = subprocess.run([FRETCOACH, "--user", user_id, "sync", "--from", peer_db.url,
                          "--to", peer_db.url],
                         capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("pull") and lines[1].startswith("push")
    assert "0 new, 0 updated" in lines[1]
    out = subprocess.run([FRETCOACH, "sync"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    assert out.returncode == 2 and "nothing to do" in out.stderr
