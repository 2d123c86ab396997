"""`fretcoach history` and `sessions show|delete` as a user and a script see them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.reports.history import HISTORY_COLUMNS
from test_reports_stats import TZ, insert_dataset

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
_register_commands()
runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FRETCOACH_TIMEZONE": TZ}
    return subprocess.run([FRETCOACH, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def invoke(*args: str, tz: str = TZ) -> Any:
    return runner.invoke(app, list(args), env={"FRETCOACH_TIMEZONE": tz},
                         catch_exceptions=False)


@pytest.fixture
def data(conn: Any) -> dict[str, str]:
    ids = insert_dataset(conn)
    conn.execute(
        "INSERT INTO fretcoach.session_notes (session_id, seq, user_id, onset_s, offset_s, "
        "midi, cents, pitch_class, note_name, kind, in_scale, in_tune) VALUES "
        "(%(s)s, 0, %(u)s, 0.0, 0.4, 57.05, 5, 9, 'A3', 'note', true, true), "
        "(%(s)s, 1, %(u)s, 0.5, 0.9, 60.3, 30, 0, 'C4', 'note', true, false), "
        "(%(s)s, 2, %(u)s, 1.0, 1.4, 61.0, 0, 1, 'C#4', 'note', false, false), "
        "(%(s)s, 3, %(u)s, 1.5, 1.9, 62.0, -2, 2, 'D4', 'note', true, true), "
        "(%(s)s, 4, %(u)s, 3.5, 3.9, 64.0, 1, 4, 'E4', 'note', true, true)",
        {"s": ids["s5"], "u": conn.execute("SELECT current_setting('fretcoach.user_id')")
         .fetchone()[0]})
    conn.execute("INSERT INTO fretcoach.coach_replies (session_id, user_id, kind, text) "
                 "VALUES (%s, current_setting('fretcoach.user_id'), 'summary', "
                 "'Watch the C: it was sharp.')", (ids["s5"],))
    conn.commit()
    return ids


def test_history_json_is_clean_and_complete(user_id: str, data: dict[str, str]) -> None:
    out = run("--user", user_id, "history", "--json", "--status", "completed")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # nothing but JSON on stdout
    assert doc["count"] == 4 and doc["filter"]["timezone"] == TZ
    assert [s["session_id"] for s in doc["sessions"]] == [data[k] for k in ("s5", "s3", "s2",
                                                                            "s1")]
    assert set(doc["sessions"][0]) == set(HISTORY_COLUMNS)
    assert doc["sessions"][0]["start_time"] == "2026-01-14T09:00:00-05:00"


def test_history_csv_and_table(user_id: str, data: dict[str, str]) -> None:
    out = invoke("--user", user_id, "history", "--csv", "--until", "2026-01-06")
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["session_id"] for r in rows] == [data["s2"], data["s1"]]
    assert rows[0]["overall_score"] == "70.0"
    table = invoke("--user", user_id, "history", "-n", "3")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["date", "id", "scale"]
    assert data["s6"][:8] in lines[1] and "active" in lines[1]
    assert "\x1b[" not in table.stdout  # no colour when not a terminal
    assert "showing 3 of 6" in table.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("history", "--since", "lastweek"), "bad --since 'lastweek'"),
    (("history", "--until", "2026-13-01"), "bad --until"),
    (("stats", "--since", "7y"), "bad --since '7y'"),
    (("history", "--scale", "H dorian"), "unknown root note"),
    (("history", "--status", "done"), "unknown status"),
    (("stats", "--by", "year"), "unknown --by"),
    (("history", "--json", "--csv"), "--json and --csv"),
])
def test_bad_input_is_one_line_exit_2(user_id: str, args: tuple[str, ...], needle: str) -> None:
    out = run("--user", user_id, *args)
    assert out.returncode == ExitCode.USAGE, out.stderr
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and needle in out.stderr, out.stderr


def test_sessions_show_by_prefix(user_id: str, data: dict[str, str]) -> None:
    out = invoke("--user", user_id, "sessions", "show", data["s5"][:8], "--json", "--notes")
    assert out.exit_code == 0
    d = json.loads(out.stdout)
    assert d["session"]["session_id"] == data["s5"]
    degrees = {g["degree"]: g for g in d["degrees"]}
    assert degrees["1"]["count"] == 1 and degrees["b3"]["in_tune"] == 0  # C is b3 of A
    assert degrees["b7"]["count"] == 0                                    # G never played
    outside = [g for g in d["degrees"] if not g["in_scale"]]
    assert [(g["pitch_class"], g["note"], g["count"]) for g in outside] == [(1, "C#", 1)]
    assert [w["note"] for w in d["worst_notes"]] == ["C#4", "C4"]        # wrong, then sharp
    timing = d["timing"]
    assert timing["median_ioi_s"] == pytest.approx(0.5)
    counts = {b["label"]: b["count"] for b in timing["bins"]}
    assert counts["±10%"] == 3 and counts["pause (> 2×)"] == 1           # 3 × 0.5 s, 1 × 2 s
    assert d["coach_replies"][0]["text"].startswith("Watch the C")
    assert len(d["notes"]) == 5 and d["notes"][2]["note_name"] == "C#4"
    text = invoke("--user", user_id, "sessions", "show", data["s5"][:8])
    assert text.exit_code == 0
    for needle in ("A minor pentatonic", "pitch accuracy", "per scale degree", "worst notes",
                   "timing", "Watch the C"):
        assert needle in text.stdout


def test_sessions_show_unknown_and_delete(user_id: str, data: dict[str, str]) -> None:
    out = run("--user", user_id, "sessions", "show", "ffffffff")
    assert out.returncode == ExitCode.NOT_FOUND and out.stderr.count("\n") == 1
    out = run("--user", user_id, "sessions", "delete", data["s1"][:8])  # stdin closed: no
    assert out.returncode == 1 and "nothing deleted" in out.stderr
    out = run("--user", user_id, "sessions", "delete", data["s1"][:8], "--yes")
    assert out.returncode == 0, out.stderr
    out = run("--user", user_id, "history", "--json")
    ids = [s["session_id"] for s in json.loads(out.stdout)["sessions"]]
    assert data["s1"] not in ids and len(ids) == 5


def test_history_total_counts_every_status_from_the_day_groups(conn: Any, user_id: str,
                                                               data: dict[str, str]) -> None:
    """The "showing N of M" total comes from stats' per-day groups plus the active sessions;
    it equals counting the rows, for every filter, and follows a new session at once."""
    from fretcoach_cli.reports.filters import build_filter
    from fretcoach_cli.reports.history import count_sessions, list_sessions

    conn.execute(
        "INSERT INTO fretcoach.sessions (user_id, start_time, status, scale_chosen) VALUES "
        "(%s, '2026-01-07 20:00+00', 'active', 'A minor pentatonic')", (user_id,))
    conn.commit()
    for kw in ({}, {"since": "2026-01-06"}, {"until": "2026-01-06"},
               {"scale": "A minor pentatonic"}, {"status": "all"},
               {"status": "completed,interrupted"}, {"status": "active"},
               {"status": "completed"}, {"since": "2026-01-06T12:00"}):
        flt = build_filter(timezone=TZ, **kw)
        assert count_sessions(conn, flt) == len(list_sessions(conn, flt, limit=None)), kw
    registered = conn.execute("SELECT count(*) FROM fretcoach.report_zones").fetchone()[0]
    assert registered == 1  # the groups served the counts above
    before = count_sessions(conn, build_filter(timezone=TZ))
    conn.execute(
        "INSERT INTO fretcoach.sessions (user_id, start_time, status, total_notes_played) "
        "VALUES (%s, '2026-01-08 20:00+00', 'completed', 3)", (user_id,))
    conn.commit()
    assert count_sessions(conn, build_filter(timezone=TZ)) == before + 1


def test_session_prefixes_resolve_through_the_key_range(conn: Any, data: dict[str, str]) -> None:
    from fretcoach_cli.errors import NotFoundError
    from fretcoach_cli.store import Sessions

    repo = Sessions(conn)
    full = str(data["s5"])
    for n in (8, 9, 14, 23, 24, 36):
        assert str(repo.resolve(full[:n])) == full
    assert repo.resolve(full.upper()[:13]) == repo.resolve(full)
    for bad in (full[:4] + "-", full[:8] + full[9:13], full + "0"):
        with pytest.raises(NotFoundError):
            repo.resolve(bad)
