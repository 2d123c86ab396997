"""Coach replies shown in a practice session are stored with it (journal first, like notes):
headless through the CLI, in the practice room, through a database outage, and never after
the session ended."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fretcoach_cli import config
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.coach_link import CoachLink
from fretcoach_cli.practice.journal import journal_dir
from fretcoach_cli.practice.recorder import SessionRecorder, replay_journals
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.screens.summary import SummaryScreen
from fretcoach_cli.tui.widgets import CoachPane

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
SCALE = parse_scale("A minor pentatonic")
_register_commands()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _offline_coach(monkeypatch):
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
                 "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
                 "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING"):
        monkeypatch.delenv(name, raising=False)


def _replies(conn, session_id) -> list[tuple]:
    rows = conn.execute("SELECT at, source, kind, text FROM fretcoach.coach_replies "
                        "WHERE session_id = %s ORDER BY at", (session_id,)).fetchall()
    conn.commit()
    return rows


def _session(user: str, data_dir: Path, settings: config.Settings | None = None
             ) -> PracticeSession:
    settings = settings or config.load().with_overrides(user=user)
    options = PracticeOptions(scale=SCALE, user=user, source_kind="file",
                              source_label=EXAMPLE.name)
    recorder = SessionRecorder(sink_factory(settings), data_dir)
    return PracticeSession(options, FileSource(EXAMPLE, realtime=False), recorder=recorder)


def test_headless_session_stores_its_replies_and_sessions_show_lists_them(database, user_id):
    played = runner.invoke(app, ["--user", user_id, "practice", "--input", str(EXAMPLE),
                                 "--fast", "--no-tui", "--json", "--coach-every", "5s",
                                 "--scale", "A minor pentatonic"])
    assert played.exit_code == 0, played.output
    row = json.loads(played.stdout)
    shown = runner.invoke(app, ["--user", user_id, "sessions", "show", row["session_id"],
                                "--json"])
    assert shown.exit_code == 0, shown.output
    replies = json.loads(shown.stdout)["coach_replies"]
    kinds = [r["kind"] for r in replies]
    assert kinds.count("summary") == 1 and kinds[-1] == "summary"  # the closing words, last
    assert kinds.count("live") >= 1
    assert {r["source"] for r in replies} == {"offline"}
    assert all(r["text"].strip() for r in replies)
    # the live tips stored are the ones printed during the session
    printed = [line.split(": ", 1)[1] for line in played.stderr.splitlines()
               if line.startswith("coach (offline): ")]
    assert printed == [r["text"] for r in replies if r["kind"] == "live"]
    # each reply lies inside its session (the row keeps the real start time)
    start = datetime.fromisoformat(row["start_time"])
    end = datetime.fromisoformat(row["end_time"])
    assert all(start <= datetime.fromisoformat(r["at"]) <= end for r in replies)


def test_no_coach_stores_no_replies(database, conn, user_id):
    played = runner.invoke(app, ["--user", user_id, "practice", "--input", str(EXAMPLE),
                                 "--fast", "--no-tui", "--json", "--no-coach",
                                 "--scale", "A minor pentatonic"])
    assert played.exit_code == 0, played.output
    assert _replies(conn, json.loads(played.stdout)["session_id"]) == []
    assert "coach (" not in played.stderr


async def test_practice_room_stores_what_the_coach_pane_showed(database, conn, user_id,
                                                               tmp_path):
    session = _session(user_id, tmp_path)
    app_ = PracticeApp(session, coach=True, coach_every_s=5.0, coach_link=CoachLink())
    async with app_.run_test(size=(120, 40)) as pilot:
        for _ in range(2400):
            if isinstance(app_.screen, SummaryScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app_.screen, SummaryScreen)
        pane_replies = [r.strip() for r in app_.query_one(CoachPane).replies]
        await pilot.press("q")
    result = app_.return_value
    assert result.saved
    stored = _replies(conn, result.session_id)
    live = [text for _, _, kind, text in stored if kind == "live"]
    summaries = [text for _, _, kind, text in stored if kind == "summary"]
    assert live and set(pane_replies) <= set(live)  # the pane keeps the newest three
    assert summaries == [result.extra["tip"]]
    assert stored[-1][2] == "summary"


def test_a_reply_after_the_session_ended_is_dropped(database, conn, user_id, tmp_path):
    session = _session(user_id, tmp_path)
    session.start()
    assert session.wait(120)
    assert session.record_reply("offline", "live", "Keep the thumb relaxed.")
    result = session.finish()
    assert result.saved
    assert not session.record_reply("offline", "live", "Too late: the session is over.")
    assert [text for *_, text in _replies(conn, result.session_id)] == [
        "Keep the thumb relaxed."]


def test_replies_reach_the_database_through_the_journal_after_an_outage(database, conn,
                                                                         user_id, tmp_path):
    down = config.load().with_overrides(user=user_id,
                                        database_url="postgresql://nobody@127.0.0.1:1/none")
    session = _session(user_id, tmp_path, down)
    session.start()
    assert session.wait(120)
    assert session.record_reply("gpt-test", "live", "Slow down the descending run.")
    result = session.finish(before_end=lambda r: r.extra.update(tip="Well played.") or
                            session.record_reply("offline", "summary", "Well played."))
    assert not result.saved  # the database was unreachable: everything is in the journal
    journals = list(journal_dir(tmp_path).glob("*.jsonl"))
    assert len(journals) == 1
    kept = tmp_path / "copy.jsonl"
    shutil.copy(journals[0], kept)

    real = sink_factory(config.load())
    report = replay_journals(tmp_path, real)  # the next run
    assert report.sessions_finished == 1
    expected = [("gpt-test", "live", "Slow down the descending run."),
                ("offline", "summary", "Well played.")]
    assert [r[1:] for r in _replies(conn, result.session_id)] == expected
    shutil.copy(kept, journals[0])  # a replay of what already arrived adds nothing
    kept.unlink()
    replay_journals(tmp_path, real)
    assert [r[1:] for r in _replies(conn, result.session_id)] == expected
