"""Issue 16, first hour: a session with no notes is not practice.

Reported: a session ended before any note was played was stored as "completed, 0 notes" and
counted in stats (streaks, totals). Now it is dropped when it finishes (the recorder says
"no notes heard — session not saved"), a journal of one is dropped on replay, `sessions
recover` discards interrupted sessions that hold no notes, and every report leaves out any
0-note completed row that is still stored (history, stats, the chat's figures, recommend).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.coach.plans import recommendation_input
from fretcoach_cli.practice.journal import Journal, journal_dir
from fretcoach_cli.practice.recorder import SessionRecorder, replay_journals
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.practice.summary import session_meta, summary_fields
from fretcoach_cli.reports.filters import build_filter
from fretcoach_cli.reports.stats import practice_stats
from fretcoach_cli.store import Sessions
from test_first_hour_stats import insert
from test_practice_recorder import OPTIONS, settings_for

TZ = "UTC"
_register_commands()
runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"FRETCOACH_TIMEZONE": TZ},
                         catch_exceptions=False)


def test_a_session_finished_before_any_note_is_not_saved(database: Any, conn: Any,
                                                          user_id: str, tmp_path: Any) -> None:
    rec = SessionRecorder(sink_factory(settings_for(user_id)), tmp_path)
    rec.start(session_meta(replace(OPTIONS, user=user_id)), replay=False)
    outcome = rec.finish(summary_fields(OPTIONS, [], 3.0))
    assert not outcome.saved and outcome.discarded
    assert outcome.message == "no notes heard — session not saved"
    assert Sessions(conn).list() == []
    assert not list(journal_dir(tmp_path).glob("*.jsonl"))


def test_a_journal_of_an_empty_session_is_dropped_on_replay(database: Any, conn: Any,
                                                            user_id: str, tmp_path: Any) -> None:
    journal = Journal.create(tmp_path, "5a1d4c57-0000-4000-8000-000000000001")
    journal.append({"op": "start", "uuid": "5a1d4c57-0000-4000-8000-000000000001",
                    "meta": {**session_meta(replace(OPTIONS, user=user_id)),
                             "started_at": datetime.now(UTC)}})
    journal.append({"op": "finish", "summary": summary_fields(OPTIONS, [], 2.0)})
    journal.close()
    report = replay_journals(tmp_path, sink_factory(settings_for(user_id)))
    assert report.journals == 1 and report.sessions_discarded == 1
    assert report.sessions_finished == 0
    assert Sessions(conn).list() == []
    assert not list(journal_dir(tmp_path).glob("*.jsonl"))


def test_recover_discards_interrupted_sessions_without_notes(conn: Any, user_id: str) -> None:
    sessions = Sessions(conn)
    empty = sessions.create(scale_chosen="A minor pentatonic", hold_writer_lock=False)
    sessions.interrupt(empty)
    out = invoke("--user", user_id, "sessions", "recover", "--finish", "--yes", "--json")
    assert out.exit_code == 0, out.stdout
    report = json.loads(out.stdout)
    assert report["discarded"] == [str(empty)] and report["finished"] == []
    assert sessions.get(empty) is None


def _history_with_an_empty_session(conn: Any) -> str:
    day = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for i in range(3):
        insert(conn, day + timedelta(days=i), score=70 + i)
    # the next day: a session stopped before any note (completed, 0 notes, no scores)
    return insert(conn, day + timedelta(days=3), score=None, notes=0)


def test_reports_leave_out_completed_sessions_without_notes(conn: Any, user_id: str) -> None:
    empty = _history_with_an_empty_session(conn)
    today = date(2026, 3, 13)
    for use_rollup in (True, False):
        st = practice_stats(conn, build_filter(timezone=TZ), today=today,
                            use_rollup=use_rollup)
        assert st.totals.sessions == 3 and st.totals.days_practised == 3
        assert st.longest_streak.days == 3 and st.longest_streak.last == date(2026, 3, 12)
    out = invoke("--user", user_id, "history", "--json")
    assert out.exit_code == 0
    listed = [s["session_id"] for s in json.loads(out.stdout)["sessions"]]
    assert empty not in listed and len(listed) == 3
    out = invoke("--user", user_id, "stats", "--json", "--by", "day")
    doc = json.loads(out.stdout)
    assert doc["totals"]["sessions"] == 3 and len(doc["buckets"]) == 3
    # recommend's statistics (rows as `recommend` and the chat agent read them)
    rows = Sessions(conn).list(status="completed", limit=20)
    assert len(rows) == 4
    assert recommendation_input(rows).sessions == 3


@pytest.mark.parametrize("status", ["interrupted"])
def test_interrupted_sessions_still_count(conn: Any, status: str) -> None:
    """Only completed sessions with no notes are left out: an interrupted one counts (its
    notes are counted when it is recovered)."""
    insert(conn, datetime(2026, 3, 10, 12, tzinfo=UTC), score=None, notes=0, status=status)
    st = practice_stats(conn, build_filter(timezone=TZ), today=date(2026, 3, 13))
    assert st.totals.sessions == 1
