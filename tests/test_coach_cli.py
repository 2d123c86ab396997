"""`fretcoach coach status`, `recommend` and `plans` through the real CLI, the test PostgreSQL
and fake model servers."""

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
from fretcoach_cli.store import Plans, Sessions, SessionSummary

_register_commands()
runner = CliRunner()
FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))

PLAN = {"scale": "D dorian", "focus_area": "timing_stability",
        "reasoning": "Timing averaged 55 over 3 sessions.", "target_tempo_bpm": 66,
        "strictness": 0.5, "sensitivity": 0.5, "session_target": {"minutes": 15},
        "exercises": ["One note per click at 66 BPM", "Two notes per click"]}


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
                 "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
                 "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRETCOACH_LLM_RETRIES", "0")


def _use_model(monkeypatch, server, model="gpt-cli", fallbacks=""):
    monkeypatch.setenv("FRETCOACH_LLM_PROVIDER", "openai")
    monkeypatch.setenv("FRETCOACH_LLM_MODEL", model)
    monkeypatch.setenv("FRETCOACH_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("FRETCOACH_LLM_API_KEY", "sk-cli-secret")
    if fallbacks:
        monkeypatch.setenv("FRETCOACH_LLM_FALLBACKS", fallbacks)


def _run(user_id: str, *args: str):
    result = runner.invoke(app, ["--user", user_id, *args])
    return result


def _json(user_id: str, *args: str):
    result = _run(user_id, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _add_sessions(conn) -> None:
    sessions = Sessions(conn)
    start = datetime(2026, 11, 1, 18, tzinfo=UTC)
    for i, (scale, timing) in enumerate([("A minor pentatonic", 50.0), ("C major", 70.0),
                                         ("A minor pentatonic", 48.0)]):
        sid = sessions.create(scale_chosen=scale, strictness=0.5, sensitivity=0.5,
                              tempo_bpm=90.0, start_time=start + timedelta(days=i),
                              hold_writer_lock=False)
        sessions.finish(sid, SessionSummary(
            duration_seconds=600, pitch_accuracy=85, scale_conformity=95,
            timing_stability=timing, clean_playing=90, scale_coverage=80,
            total_notes_played=200, weakest_area="timing_stability"))


def test_coach_status_without_a_model_shows_the_offline_coach(user_id):
    data = _json(user_id, "coach", "status")
    assert [r["link"] for r in data["chain"]] == ["offline"]
    assert data["tracing"] == {"mode": "off"}
    text = _run(user_id, "coach", "status")
    assert text.exit_code == 0 and "No model configured" in text.stdout


def test_coach_status_ping_tests_each_link(monkeypatch, user_id, fake_openai, fake_gemini):
    _use_model(monkeypatch, fake_openai,
               fallbacks=f"gemini:gemini-test@{fake_gemini.base_url}#FAKE_GEMINI_KEY,"
                         "gemini:gemini-nokey")
    monkeypatch.setenv("FAKE_GEMINI_KEY", "g-key")
    fake_gemini.push("error", status=429)
    data = _json(user_id, "coach", "status", "--ping")
    chain = data["chain"]
    assert [(r["model"], r["ping"]) for r in chain] == [
        ("gpt-cli", "OK"), ("gemini-test", "FAIL"), ("gemini-nokey", "FAIL"), (None, "OK")]
    assert chain[0]["latency_ms"] is not None and chain[0]["key"] == "env:FRETCOACH_LLM_API_KEY"
    assert "429" in chain[1]["error"] and "no API key" in chain[2]["error"]
    assert "sk-cli-secret" not in json.dumps(data)


def test_recommend_offline_then_offers_the_pending_plan(database, user_id, conn):
    _add_sessions(conn)
    first = _json(user_id, "recommend")
    assert first["source"] == "offline" and first["status"] == "pending"
    doc = first["practice_plan"]
    assert doc["generated_by"] == "offline" and doc["focus_area"] == "timing_stability"
    assert doc["scale"] == "A minor pentatonic"  # timing is weakest there (49 vs 70)
    assert first["prompt_version"].startswith("fretcoach-prompts-")
    again = _json(user_id, "recommend")
    assert again["practice_id"] == first["practice_id"]  # offered, not regenerated
    stored = Plans(conn).require(first["practice_id"])
    assert stored.practice_plan == doc


def test_recommend_new_asks_the_model_and_avoids_the_last_scale(
        monkeypatch, database, user_id, conn, fake_openai):
    _add_sessions(conn)
    offline = _json(user_id, "recommend")
    _use_model(monkeypatch, fake_openai)
    fake_openai.push("tool_call", arguments=PLAN)
    plan = _json(user_id, "recommend", "--new")
    assert plan["practice_id"] != offline["practice_id"]
    assert plan["source"] == "model" and plan["practice_plan"]["generated_by"] == "gpt-cli"
    assert plan["practice_plan"]["scale"] == "D dorian"
    prompt = json.loads(fake_openai.chat_requests()[-1].body["messages"][-1]["content"]
                        .split("\n", 1)[1])
    assert prompt["avoid"] == ["A minor pentatonic"]
    assert prompt["statistics"]["sessions"] == 3
    assert prompt["statistics"]["weakest_area"] == "timing_stability"


def test_recommend_falls_back_to_offline_when_the_model_fails(
        monkeypatch, database, user_id, fake_openai):
    _use_model(monkeypatch, fake_openai)
    fake_openai.push("error", status=500)
    result = _run(user_id, "recommend")
    assert result.exit_code == 0, result.output
    assert "by offline" in result.stdout
    assert "server HTTP 500" in result.stderr


def test_plans_list_filter_and_dismiss(database, user_id):
    created = _json(user_id, "recommend")
    listed = _json(user_id, "plans")
    assert [p["practice_id"] for p in listed] == [created["practice_id"]]
    assert _json(user_id, "plans", "--status", "dismissed") == []
    short = created["practice_id"][:8]
    result = _run(user_id, "plans", "dismiss", short)
    assert result.exit_code == 0, result.output
    assert f"Dismissed plan {short}" in result.stdout
    assert [p["status"] for p in _json(user_id, "plans", "--status", "dismissed")] == [
        "dismissed"]
    table = _run(user_id, "plans")
    assert table.exit_code == 0 and short in table.stdout
    fresh = _json(user_id, "recommend")  # the dismissed plan is not offered again
    assert fresh["practice_id"] != created["practice_id"]


def test_plans_errors_are_one_line_with_exit_codes(database, user_id):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FRETCOACH, "--user", user_id, *args], capture_output=True,
                              text=True, timeout=120)

    missing = run("plans", "dismiss", "deadbeef")
    assert missing.returncode == 3
    assert missing.stderr == ("fretcoach: error: no practice plan deadbeef — "
                              "see 'fretcoach plans'\n")
    bad = run("plans", "--status", "someday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_coach_status_ping_exits_1_when_no_configured_model_answers(monkeypatch, user_id):
    monkeypatch.setenv("FRETCOACH_LLM_PROVIDER", "openai")
    monkeypatch.setenv("FRETCOACH_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens
    result = _run(user_id, "coach", "status", "--ping", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["answering"] is False and data["chain"][0]["ping"] == "FAIL"
    assert "connection" in data["chain"][0]["error"]
    assert "no configured model answered" in result.stderr


def test_doctor_fails_a_configured_model_that_does_not_answer(monkeypatch, user_id):
    monkeypatch.setenv("FRETCOACH_LLM_PROVIDER", "openai")
    monkeypatch.setenv("FRETCOACH_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    result = _run(user_id, "doctor", "--json")
    coach = [c for c in json.loads(result.stdout) if c["name"].startswith("coach")]
    assert coach[0]["status"] == "FAIL" and "does not answer" in coach[0]["detail"]
    assert result.exit_code == 1


def test_doctor_ok_names_the_latency_of_a_model_that_answers(monkeypatch, user_id,
                                                             fake_openai):
    _use_model(monkeypatch, fake_openai)
    result = _run(user_id, "doctor", "--json")
    coach = [c for c in json.loads(result.stdout) if c["name"].startswith("coach")]
    assert coach[0]["status"] == "OK" and "answers (" in coach[0]["detail"]
    assert fake_openai.chat_requests()[-1].body["max_completion_tokens"] == 8


def test_recommend_json_says_who_wrote_the_plan_and_why_not_the_model(
        monkeypatch, database, user_id, conn, fake_openai):
    _add_sessions(conn)
    _use_model(monkeypatch, fake_openai)
    fake_openai.push("text", content="Sure! Here is a plan: play scales.")
    fake_openai.push("text", content="I think you should practise more.")
    out = _json(user_id, "recommend", "--new")
    assert out["written_by"] == "offline" and out["model"] is None
    assert "no JSON object" in out["fallback"]
    fake_openai.push("text", content="```json\n" + json.dumps(PLAN) + "\n```")
    out = _json(user_id, "recommend", "--new")
    assert out["written_by"] == "model" and out["model"] == "gpt-cli"
    assert out["fallback"] is None
