"""`fretcoach chat` through the CLI: offline answers, -m/--json, the REPL's slash commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli.chat.offline import intent_of
from fretcoach_cli.cli.main import _register_commands, app

_register_commands()


def _seed(database: Any, user: str, n: int) -> None:
    from fretcoach_cli.reports.seed import seed

    with database.connect(user) as conn:
        seed(conn, user=user, sessions=n, notes_per_session=20)


def _invoke(args: list[str], user: str, input: str | None = None,
            env: dict[str, str] | None = None) -> Any:
    runner = CliRunner()
    return runner.invoke(app, ["--user", user, "chat", *args], input=input,
                         env={"FRETCOACH_LLM_PROVIDER": "", **(env or {})})


@pytest.mark.parametrize(("question", "intent"), [
    ("How am I doing?", "progress"),
    ("am I getting better at timing", "progress"),
    ("What is my weakest area?", "weakest"),
    ("what should I practise next?", "plan"),
    ("recommend something", "plan"),
    ("how was my last session", "last"),
    ("how many hours have I played", "totals"),
    ("what's my streak", "totals"),
    ("help", "help"),
    ("write me a poem", "unknown"),
])
def test_offline_intents(question: str, intent: str) -> None:
    assert intent_of(question) == intent


def test_offline_json_answers_from_stats(database, user_id):
    _seed(database, user_id, 8)
    res = _invoke(["-m", "what is my weakest area?", "--json"], user_id)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["offline"] is True and out["model"] == "offline"
    assert "Your weakest area is **" in out["answer"]
    assert out["tool_calls"][0] == {"name": "practice_stats", "args": {}, "sql": None,
                                    "rows": 8, "truncated": False, "error": None}
    assert set(out) >= {"answer", "thread_id", "tool_calls", "model", "plan"}


def test_offline_progress_and_last_session(database, user_id):
    _seed(database, user_id, 6)
    res = _invoke(["-m", "how am I doing?"], user_id)
    assert res.exit_code == 0, res.output
    assert "Over 6 sessions" in res.stdout and "| pitch accuracy |" in res.stdout
    res = _invoke(["-m", "tell me about my last session"], user_id)
    assert "Your last session:" in res.stdout


def test_offline_says_what_it_cannot_do(database, user_id):
    res = _invoke(["-m", "which notes do I play flat on the G string?"], user_id)
    assert res.exit_code == 0
    assert "can't answer that offline" in res.stdout and "configure a model" in res.stdout


def test_offline_with_no_sessions(database, user_id):
    res = _invoke(["-m", "how am I doing?"], user_id)
    assert "no recorded sessions yet" in res.stdout


def test_repl_plan_save_threads_and_resume(database, user_id):
    _seed(database, user_id, 5)
    script = "\n".join(["/help", "what should I practise next?", "/save", "/save", "/threads",
                        "/sql", "/model", "/bogus", "/exit"]) + "\n"
    res = _invoke([], user_id, input=script)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "offline mode" in out and "/resume ID" in out
    assert "Type `/save` to save this plan." in out or "Type /save to save this plan." in out
    assert out.count("saved plan") == 1 and "no practice plan to save" in out
    assert "what should I practise next?" in out  # the /threads title
    assert "SQL display on" in out and "unknown command /bogus" in out
    with database.connect(user_id) as conn:
        plans = conn.execute("SELECT source, practice_plan->>'title' FROM "
                             "fretcoach.ai_practice_plans WHERE source = 'offline' AND "
                             "prompt_version LIKE 'chat-%'").fetchall()
    assert len(plans) == 1
    # resume that thread in a new REPL: the transcript comes back
    tid = _only_thread(database, user_id)
    res = _invoke([], user_id, input=f"/resume {tid[:6]}\n/exit\n")
    assert res.exit_code == 0, res.output
    assert f"resumed {tid}" in res.stdout and "Saved the plan" in res.stdout


def _only_thread(database: Any, user: str) -> str:
    with database.connect(user) as conn:
        rows = conn.execute("SELECT thread_id FROM fretcoach.chat_threads").fetchall()
    assert len(rows) == 1
    return rows[0][0]


def test_multiline_input_with_backslash(database, user_id):
    res = _invoke([], user_id, input="how am I \\\ndoing?\n/exit\n")
    assert res.exit_code == 0
    with database.connect(user_id) as conn:
        title = conn.execute("SELECT title FROM fretcoach.chat_threads").fetchone()
    assert title == ("how am I doing?",)


def test_usage_errors_exit_codes(database, user_id):
    import os
    import subprocess

    env = {**os.environ, "FRETCOACH_USER": user_id, "FRETCOACH_LLM_PROVIDER": ""}
    cmd = [sys.executable, "-m", "fretcoach_cli.cli.main", "chat"]
    out = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and out.stderr == "fretcoach: error: --json needs -m/--message\n"
    out = subprocess.run([*cmd, "-m", "hi", "--thread", "deadbeef"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 3 and "no chat thread 'deadbeef'" in out.stderr
    assert out.stderr.count("\n") == 1


def test_model_json_through_the_cli(database, user_id, fake_openai):
    _seed(database, user_id, 2)
    fake_openai.push("tool_call", name="run_sql",
                     arguments={"sql": "SELECT scale_chosen FROM sessions"})
    fake_openai.push("text", content="Two sessions.")
    env = {"FRETCOACH_LLM_PROVIDER": "openai", "FRETCOACH_LLM_MODEL": "fake-9",
           "FRETCOACH_LLM_BASE_URL": fake_openai.base_url, "FRETCOACH_LLM_RETRIES": "0",
           "FRETCOACH_LLM_TOOL_MODE": "native"}
    res = _invoke(["-m", "which scales?", "--json"], user_id, env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["model"] == "fake-9" and out["answer"] == "Two sessions."
    call = out["tool_calls"][0]
    assert call["name"] == "run_sql" and call["rows"] == 2
    assert call["sql"] == "SELECT scale_chosen FROM fretcoach.sessions"


def test_show_sql_in_a_one_shot_answer(database, user_id, fake_openai):
    fake_openai.push("tool_call", name="run_sql",
                     arguments={"sql": "SELECT count(*) FROM session_notes"})
    fake_openai.push("text", content="None.")
    env = {"FRETCOACH_LLM_PROVIDER": "openai", "FRETCOACH_LLM_MODEL": "fake-9",
           "FRETCOACH_LLM_BASE_URL": fake_openai.base_url, "FRETCOACH_LLM_RETRIES": "0",
           "FRETCOACH_LLM_TOOL_MODE": "native"}
    res = _invoke(["-m", "notes?", "--show-sql"], user_id, env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "None."
    assert "SELECT count(*) FROM session_notes" in res.stderr
    assert "✓ run_sql: 1 rows" in res.stderr
