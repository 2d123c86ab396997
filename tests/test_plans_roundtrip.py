"""A practice plan end to end through the CLI and the real database: `recommend` stores it,
`practice --plan` plays it (its settings unless flags say otherwise), `plans` shows it in
progress (linked to the session) until its sessions meet its targets, then completed;
finished or dismissed plans are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.store import Sessions, SessionSummary

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
_register_commands()
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
                 "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
                 "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRETCOACH_LLM_RETRIES", "0")


def _json(user_id: str, *args: str):
    result = runner.invoke(app, ["--user", user_id, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _practise(user_id: str, *args: str) -> dict:
    return _json(user_id, "practice", "--input", str(EXAMPLE), "--fast", "--no-tui",
                 "--no-coach", *args)


def _fretcoach(user_id: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user_id,
                           *args], capture_output=True, text=True, timeout=120)


def _history(conn) -> None:
    """Sessions whose statistics make the offline plan differ from every default: timing is
    weakest, on C major; strictness 0.7 and sensitivity 0.35 last time, at 90 BPM."""
    sessions = Sessions(conn)
    start = datetime(2026, 11, 1, 18, tzinfo=UTC)
    for i, (scale, timing) in enumerate([("C major", 40.0), ("E minor pentatonic", 60.0),
                                         ("C major", 45.0)]):
        sid = sessions.create(scale_chosen=scale, strictness=0.7, sensitivity=0.35,
                              tempo_bpm=90.0, start_time=start + timedelta(days=i),
                              hold_writer_lock=False)
        sessions.finish(sid, SessionSummary(
            duration_seconds=600, pitch_accuracy=90, scale_conformity=95,
            timing_stability=timing, clean_playing=90, scale_coverage=80,
            total_notes_played=200, weakest_area="timing_stability"))


def test_recommend_then_practise_the_plan_until_it_is_completed(database, conn, user_id):
    _history(conn)
    plan = _json(user_id, "recommend")
    doc = plan["practice_plan"]
    assert plan["status"] == "pending" and plan["source"] == "offline"
    # the plan's values differ from the defaults, so the session shows where they came from
    assert doc["scale"] != "A minor pentatonic"
    assert doc["strictness"] != 0.5 and doc["sensitivity"] != 0.5 and doc["target_tempo_bpm"]

    row = _practise(user_id, "--plan", "latest")  # no --scale: the plan's
    assert row["status"] == "completed" and row["total_notes_played"] > 40
    assert row["practice_id"] == plan["practice_id"]
    assert row["scale_chosen"] == parse_scale(doc["scale"]).display_name
    assert row["strictness"] == doc["strictness"]
    assert row["sensitivity"] == doc["sensitivity"]
    assert row["tempo_bpm"] == doc["target_tempo_bpm"]

    listed = {p["practice_id"]: p for p in _json(user_id, "plans")}
    started = listed[plan["practice_id"]]  # a 39 s recording is not the plan's minutes
    assert started["status"] == "in_progress" and started["session_id"] == row["session_id"]
    minutes = doc["session_target"]["minutes"]
    assert started["progress"]["sessions"] == 1
    assert started["progress"]["text"].startswith(f"0 of {minutes} min")

    # the rest of the plan played (a session written directly, as a recovered one would be):
    # `plans` finds its targets met and completes it
    sessions = Sessions(conn)
    sid = sessions.create(scale_chosen=row["scale_chosen"], tempo_bpm=row["tempo_bpm"],
                          practice_id=plan["practice_id"], hold_writer_lock=False)
    sessions.finish(sid, SessionSummary(duration_seconds=minutes * 60, total_notes_played=400,
                                        timing_stability=95))
    listed = {p["practice_id"]: p for p in _json(user_id, "plans")}
    done = listed[plan["practice_id"]]
    assert done["status"] == "completed" and done["progress"]["met"] is True

    again = _fretcoach(user_id, "practice", "--plan", plan["practice_id"][:8],
                       "--input", str(EXAMPLE), "--fast", "--no-tui")
    assert again.returncode == ExitCode.USAGE
    assert again.stderr.count("\n") == 1
    assert f"plan {plan['practice_id'][:8]} is completed" in again.stderr
    assert again.stdout == ""


def test_flags_override_the_plan(database, conn, user_id):
    _history(conn)
    plan = _json(user_id, "recommend")
    doc = plan["practice_plan"]
    row = _practise(user_id, "--plan", plan["practice_id"][:8],  # a prefix, as shown
                    "--scale", "A minor pentatonic", "--strictness", "0.2", "--bpm", "100")
    assert row["scale_chosen"] == "A minor pentatonic"
    assert row["strictness"] == 0.2 and row["tempo_bpm"] == 100
    assert row["sensitivity"] == doc["sensitivity"]  # not given: the plan's
    assert row["practice_id"] == plan["practice_id"]
    assert _json(user_id, "plans", "--status", "in_progress")[0]["session_id"] == \
        row["session_id"]


def test_a_dismissed_plan_is_refused_in_one_line(database, conn, user_id):
    plan = _json(user_id, "recommend")
    short = plan["practice_id"][:8]
    assert runner.invoke(app, ["--user", user_id, "plans", "dismiss", short]).exit_code == 0
    refused = _fretcoach(user_id, "practice", "--plan", short, "--input", str(EXAMPLE),
                         "--fast", "--no-tui", "--json")
    assert refused.returncode == ExitCode.USAGE
    assert refused.stderr.startswith(f"fretcoach: error: plan {short} is dismissed")
    assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    nothing = _fretcoach(user_id, "practice", "--plan", "latest", "--input", str(EXAMPLE),
                         "--fast", "--no-tui")
    assert nothing.returncode == ExitCode.NOT_FOUND
    assert "no open practice plan" in nothing.stderr and nothing.stderr.count("\n") == 1
    assert Sessions(conn).list() == []  # refused before anything started


def test_no_scale_and_no_plan_is_a_usage_error(user_id):
    proc = _fretcoach(user_id, "practice", "--input", str(EXAMPLE), "--fast", "--no-tui")
    assert proc.returncode == ExitCode.USAGE and proc.stderr.count("\n") == 1
    assert "--scale" in proc.stderr and "--plan latest" in proc.stderr


def test_a_model_plan_with_an_invalid_scale_falls_back_to_a_valid_stored_plan(
        monkeypatch, database, user_id, fake_openai):
    monkeypatch.setenv("FRETCOACH_LLM_PROVIDER", "openai")
    monkeypatch.setenv("FRETCOACH_LLM_MODEL", "gpt-cli")
    monkeypatch.setenv("FRETCOACH_LLM_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("FRETCOACH_LLM_API_KEY", "sk-test")
    bad = {"scale": "Q hyperlydian", "focus_area": "timing_stability",
           "reasoning": "Because.", "target_tempo_bpm": 80, "strictness": 0.5,
           "sensitivity": 0.5, "session_target": {"minutes": 10},
           "exercises": ["Play it"]}
    fake_openai.push("tool_call", arguments=bad)
    fake_openai.push("tool_call", arguments=bad)  # the one retry is just as bad
    plan = _json(user_id, "recommend")
    assert len(fake_openai.chat_requests()) == 2
    assert plan["source"] == "offline" and plan["practice_plan"]["generated_by"] == "offline"
    stored = _json(user_id, "plans")
    assert [p["practice_id"] for p in stored] == [plan["practice_id"]]
    scale = stored[0]["practice_plan"]["scale"]
    assert parse_scale(scale).display_name == scale and "hyperlydian" not in json.dumps(stored)
    row = _practise(user_id, "--plan", "latest")  # and it can be played
    assert row["scale_chosen"] == scale and row["status"] == "completed"
