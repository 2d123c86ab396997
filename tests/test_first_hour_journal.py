"""Issue 16, first hour: a command that opens the database replays pending journals first.

Reported: with the database killed mid-session, `practice` journaled the session and
promised it "will be saved on the next run", but until `sessions recover` ran, `history` and
`stats` showed it as "interrupted, 0 notes". Here the journal is written by the real
recorder against a database that is down, and the next report command shows every note.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import psycopg
from typer.testing import CliRunner

from fretcoach_cli import config
from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.practice.recorder import SessionRecorder
from fretcoach_cli.practice.summary import session_meta, summary_fields
from test_practice_recorder import OPTIONS, events, rows

_register_commands()
runner = CliRunner()


def _database_down() -> Any:
    raise psycopg.OperationalError("connection refused (the server was killed)")


def journaled_session(user_id: str, notes: int) -> Any:
    """A session played while the database was down: everything is in the journal only."""
    data_dir = config.load().data_path
    rec = SessionRecorder(_database_down, data_dir, retry_s=0.05)
    rec.start(session_meta(replace(OPTIONS, user=user_id)), replay=False)
    evs = events(notes)
    for r in rows(evs):
        rec.add_note(r)
    outcome = rec.finish(summary_fields(OPTIONS, evs, 0.4 * notes), timeout=30)
    assert not outcome.saved and outcome.journal is not None and outcome.journal.exists()
    return outcome


def test_history_replays_a_pending_journal_first(database: Any, user_id: str) -> None:
    outcome = journaled_session(user_id, 12)
    out = runner.invoke(app, ["--user", user_id, "history", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (session,) = json.loads(out.stdout)["sessions"]
    assert session["session_id"] == str(outcome.session_id)
    assert session["status"] == "completed" and session["total_notes_played"] == 12
    assert not outcome.journal.exists()
    out = runner.invoke(app, ["--user", user_id, "stats", "--json"], catch_exceptions=False)
    assert json.loads(out.stdout)["totals"]["notes"] == 12


def test_stats_replays_too_and_a_live_journal_is_left_alone(database: Any,
                                                           user_id: str) -> None:
    outcome = journaled_session(user_id, 7)
    live = SessionRecorder(_database_down, config.load().data_path, retry_s=0.05)
    live.start(session_meta(replace(OPTIONS, user=user_id)), replay=False)
    try:
        out = runner.invoke(app, ["--user", user_id, "stats", "--json"],
                            catch_exceptions=False)
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout)["totals"]["notes"] == 7
        assert not outcome.journal.exists()
        assert live.journal is not None and live.journal.path.exists()  # still being played
    finally:
        live.abandon()
        assert live.journal is not None
        live.journal.path.unlink(missing_ok=True)


def test_a_journal_without_its_end_shows_its_notes_as_interrupted(database: Any,
                                                                  user_id: str) -> None:
    """Killed mid-session while the database was down: the journal has notes, no summary."""
    rec = SessionRecorder(_database_down, config.load().data_path, retry_s=0.05)
    rec.start(session_meta(replace(OPTIONS, user=user_id)), replay=False)
    for r in rows(events(9)):
        rec.add_note(r)
    rec.abandon()  # what a kill leaves: the journal, unlocked, without a finish record
    assert rec.journal is not None and rec.journal.path.exists()
    out = runner.invoke(app, ["--user", user_id, "history", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (session,) = json.loads(out.stdout)["sessions"]
    assert session["status"] == "interrupted" and session["total_notes_played"] == 9
    assert not rec.journal.path.exists()
