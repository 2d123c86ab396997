"""Export and import: JSON round trip with notes, replies and plans; idempotent re-import."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fretcoach_cli.errors import ExitCode
from fretcoach_cli.reports.seed import seed

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FRETCOACH, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def counts(database: Any, user: str) -> dict[str, int | None]:
    return database.row_counts(user)


def test_export_delete_import_twice(database: Any, conn: Any, user_id: str,
                                    tmp_path: Path) -> None:
    seed(conn, user=user_id, sessions=30, notes_per_session=12)
    before = counts(database, user_id)
    links = conn.execute("SELECT count(*) FROM fretcoach.sessions WHERE practice_id IS NOT NULL"
                         ).fetchone()[0]
    conn.commit()
    out = run("--user", user_id, "export")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["format"] == "fretcoach-export" and len(doc["sessions"]) == 30
    assert sum(len(s["notes"]) for s in doc["sessions"]) == before["session_notes"]
    path = tmp_path / "history.json"
    path.write_text(out.stdout)
    # lose some history (sessions with their notes and replies, and a plan)
    conn.execute("DELETE FROM fretcoach.ai_practice_plans WHERE practice_id = "
                 "(SELECT practice_id FROM fretcoach.sessions WHERE practice_id IS NOT NULL "
                 "ORDER BY start_time LIMIT 1)")
    conn.execute("DELETE FROM fretcoach.sessions WHERE session_id IN (SELECT session_id "
                 "FROM fretcoach.sessions ORDER BY start_time DESC LIMIT 7)")
    conn.commit()
    assert counts(database, user_id)["sessions"] == 23
    out = run("--user", user_id, "import", str(path), "--json")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["sessions_inserted"] == 7 and first["plans_inserted"] == 1
    assert counts(database, user_id) == before
    assert conn.execute("SELECT count(*) FROM fretcoach.sessions WHERE practice_id IS NOT NULL"
                        ).fetchone()[0] == links
    conn.commit()
    out = run("--user", user_id, "import", str(path), "--json")
    second = json.loads(out.stdout)
    assert second["sessions_inserted"] == second["sessions_updated"] == 0
    assert second["notes_inserted"] == second["coach_replies_inserted"] == 0
    assert second["plans_inserted"] == second["plans_updated"] == 0
    assert counts(database, user_id) == before


def test_export_csv_and_filters(conn: Any, user_id: str, tmp_path: Path) -> None:
    seed(conn, user=user_id, sessions=12, notes_per_session=5)
    out = run("--user", user_id, "export", "--format", "csv", "--scale", "A minor pentatonic",
              "-o", str(tmp_path / "s.csv"))
    assert out.returncode == 0 and out.stdout == ""
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    expected = conn.execute("SELECT count(*) FROM fretcoach.sessions "
                            "WHERE scale_chosen = 'A minor pentatonic'").fetchone()[0]
    assert len(rows) == expected and {r["scale_chosen"] for r in rows} <= {"A minor pentatonic"}
    assert not (tmp_path / "s.csv.part").exists()


def test_import_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    out = run("import", str(bad))
    assert out.returncode == ExitCode.USAGE and out.stderr.count("\n") == 1
    out = run("import", str(tmp_path / "missing.json"))
    assert out.returncode == ExitCode.NOT_FOUND
