"""Chat with models that write tool calls as text, invent figures or pick badly (fake
servers for exact replies; tests/test_chat_local_model.py has the real llama.cpp server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli import config
from fretcoach_cli.chat.agent import ChatService, Done, Reset, Token, TurnResult

SEEN_SQL = "SELECT count(*) AS n FROM sessions"


def _settings(fake: Any, mode: str) -> config.Settings:
    return config.load().with_overrides(llm_provider="openai", llm_model="weak-1",
                                        llm_base_url=fake.base_url, llm_retries=0,
                                        llm_timeout=30, llm_tool_mode=mode)


def _seed(database: Any, user: str, n: int) -> None:
    from fretcoach_cli.reports.seed import seed

    with database.connect(user) as conn:
        seed(conn, user=user, sessions=n, notes_per_session=20)


@pytest.fixture
def chat_for(database: Any) -> Iterator[Any]:
    opened: list[ChatService] = []

    def make(settings: config.Settings, user: str) -> ChatService:
        service = ChatService.open(database, settings, user=user)
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()


def _run(chat: ChatService, question: str) -> tuple[TurnResult, list[Any]]:
    events = list(chat.ask(question, threading.Event()))
    assert isinstance(events[-1], Done)
    return events[-1].result, events


def _shown(events: list[Any]) -> str:
    """What the screen shows at the end: tokens since the last reset."""
    text = ""
    for e in events:
        if isinstance(e, Reset):
            text = ""
        elif isinstance(e, Token):
            text += e.text
    return text


@pytest.mark.parametrize("written", [
    '<tool_call>\n{"name": "run_sql", "arguments": {"sql": "%s"}}\n</tool_call>',
    '```json\n{"name": "run_sql", "arguments": {"sql": "%s"}}\n```',
    '{"name": "run_sql", "parameters": {"sql": "%s"}}',
])
def test_a_tool_call_written_as_text_is_run_and_never_shown(database, user_id, chat_for,
                                                            fake_openai, written):
    _seed(database, user_id, 3)
    fake_openai.push("text", content=written % SEEN_SQL)
    fake_openai.push("text", content="You have 3 sessions in total.")
    chat = chat_for(_settings(fake_openai, "native"), user_id)
    result, events = _run(chat, "how many sessions?")
    assert [c.name for c in result.tool_calls] == ["run_sql"]
    assert result.answer == "You have 3 sessions in total." == _shown(events)
    assert "tool_call" not in "".join(e.text for e in events if isinstance(e, Token))
    assert result.grounded and result.author == "model:weak-1"


def test_a_call_to_an_unknown_tool_is_neither_run_nor_shown(database, user_id, chat_for,
                                                            fake_openai):
    _seed(database, user_id, 3)
    fake_openai.push("text", content='<tool_call>{"name": "drop_everything", '
                                     '"arguments": {}}</tool_call>')
    fake_openai.push("text", content="Nothing to say.")  # the repair: no figures
    chat = chat_for(_settings(fake_openai, "native"), user_id)
    result, events = _run(chat, "how many sessions?")
    assert result.tool_calls == [] or all(c.name != "drop_everything"
                                           for c in result.tool_calls)
    assert "drop_everything" not in _shown(events)


def test_invented_figures_are_repaired_once_then_replaced_and_labelled(
        database, user_id, chat_for, fake_openai):
    _seed(database, user_id, 3)
    fake_openai.push("tool_call", name="run_sql", arguments={"sql": SEEN_SQL})
    fake_openai.push("text", content="You have 20 sessions, ids 12345 to 12349.")
    fake_openai.push("text", content="Still, you have 20 sessions.")  # the repair: invented
    chat = chat_for(_settings(fake_openai, "native"), user_id)
    result, events = _run(chat, "how many sessions?")
    assert result.author == "offline" and "figures not in your data" in result.fallback
    assert result.answer.startswith("(Answered from your data by fretcoach:")
    assert "20 sessions" not in _shown(events) and "3 sessions" in _shown(events)
    assert result.ungrounded and result.grounded  # the shown answer is the grounded one
    repair = fake_openai.chat_requests()[-1].body["messages"][-1]["content"]
    assert "20" in repair and "not in the data" in repair


def test_a_repaired_answer_is_kept(database, user_id, chat_for, fake_openai):
    _seed(database, user_id, 3)
    fake_openai.push("tool_call", name="run_sql", arguments={"sql": SEEN_SQL})
    fake_openai.push("text", content="You have 20 sessions.")
    fake_openai.push("text", content="You have 3 sessions.")
    chat = chat_for(_settings(fake_openai, "native"), user_id)
    result, events = _run(chat, "how many sessions?")
    assert result.answer == "You have 3 sessions." == _shown(events)
    assert result.author == "model:weak-1" and result.grounded


def test_planned_mode_picks_a_lookup_by_json_schema_and_writes_from_it(
        database, user_id, chat_for, fake_openai):
    _seed(database, user_id, 4)
    fake_openai.push("text", content=json.dumps({"tool": "practice_stats"}))
    fake_openai.push("text", content="You practised 4 sessions in all.")
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, _ = _run(chat, "how much have I practised?")
    pick, write = fake_openai.chat_requests()[-2:]
    assert pick.body["response_format"]["type"] == "json_schema"
    assert "tools" not in pick.body and "tool_choice" not in pick.body
    assert "sessions: 4" in write.body["messages"][-1]["content"]  # the digest
    assert result.mode == "planned" and result.answer == "You practised 4 sessions in all."
    assert [c.name for c in result.tool_calls] == ["practice_stats"]
    assert result.author == "model:weak-1" and result.grounded


def test_planned_mode_without_data_says_it_looked_nothing_up(database, user_id, chat_for,
                                                            fake_openai):
    fake_openai.push("text", content=json.dumps({"tool": "none"}))
    fake_openai.push("text", content="Keep your thumb relaxed behind the neck.")
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, _ = _run(chat, "any tip for my thumb?")
    assert result.tool_calls == []
    assert "did not look up your practice data" in result.answer


@pytest.mark.parametrize("bad", ["", "not json at all", '{"tool": "format_disk"}',
                                 '{"tool": "last_sessions", "limit": "many"}'])
def test_planned_mode_bad_picks_for_an_unread_question_get_a_labelled_answer(
        database, user_id, chat_for, fake_openai, bad):
    _seed(database, user_id, 2)
    fake_openai.push("text", content=bad)
    fake_openai.push("text", content=bad)  # the retry is as bad
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, events = _run(chat, "tell me a secret about the moon")
    assert result.author == "offline" and result.fallback
    assert result.answer.startswith("(Answered from your data by fretcoach:")
    assert not any("format_disk" in e.text for e in events if isinstance(e, Token))


def test_bad_picks_for_a_plainly_read_question_let_the_question_pick(
        database, user_id, chat_for, fake_openai):
    _seed(database, user_id, 2)
    fake_openai.push("text", content='{"tool": "format_disk"}')
    fake_openai.push("text", content="not json at all")
    fake_openai.push("text", content="You have done 2 sessions so far.")
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, _ = _run(chat, "how many sessions have I done?")
    assert [c.name for c in result.tool_calls] == ["practice_stats"]
    assert result.lookup_by == "question" and result.author == "model:weak-1"
    assert [a.kind for a in result.attempts][:2] == ["bad_output", "bad_output"]


def test_a_model_answer_that_quotes_none_of_the_data_is_replaced(database, user_id,
                                                                 chat_for, fake_openai):
    _seed(database, user_id, 2)
    fake_openai.push("text", content=json.dumps({"tool": "practice_stats"}))
    fake_openai.push("text", content="You are doing great, keep going!")
    fake_openai.push("text", content="Really great, keep it up!")
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, _ = _run(chat, "how many sessions have I done?")
    assert result.author == "offline" and "quoted none of your data" in result.fallback


@pytest.mark.parametrize("answer", ["1.", '{"filter": {"since": null}}',
                                    "a.b: 1\nc.d: 2\ne.f: 3",
                                    "I will do it. I will do it. I will do it."])
def test_answers_that_are_not_prose_are_replaced(database, user_id, chat_for, fake_openai,
                                                 answer):
    _seed(database, user_id, 2)
    fake_openai.push("text", content=json.dumps({"tool": "practice_stats"}))
    fake_openai.push("text", content=answer)
    fake_openai.push("text", content=answer)
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, events = _run(chat, "how many sessions have I done?")
    assert result.author == "offline" and "not a readable answer" in result.fallback
    assert answer not in _shown(events)


def test_the_question_picks_when_the_model_says_none_and_names_the_period():
    from datetime import date

    from fretcoach_cli.chat.planned import Pick, guided

    today = date(2026, 12, 7)
    pick, by = guided(Pick(tool="none"), "how did I do last week?", today)
    assert (pick.tool, pick.since, pick.until, by) == ("practice_stats", "2026-11-30",
                                                       "2026-12-06", "question")
    pick, by = guided(Pick(tool="practice_stats", since="7d"), "how did I do this month?",
                      today)
    assert (pick.since, by) == ("2026-12-01", "model+question")
    assert guided(Pick(tool="none"), "hello!", today) == (Pick(tool="none"), "model")
    assert guided(Pick(tool="none"), "show my last 3 sessions", today)[0].limit == 3


def test_a_model_that_hangs_gets_a_true_fallback_within_the_turn_budget(
        database, user_id, chat_for, fake_openai):
    import time

    _seed(database, user_id, 2)
    fake_openai.push("hang", seconds=60)
    settings = _settings(fake_openai, "json").with_overrides(llm_timeout=3)
    chat = chat_for(settings, user_id)
    started = time.monotonic()
    result, _ = _run(chat, "how did I do this week?")
    assert time.monotonic() - started < 15
    assert result.author == "offline"
    assert "did not answer within 3 s" in result.fallback
    assert fake_openai.base_url in result.fallback


def test_a_none_pick_for_a_plain_data_question_becomes_the_lookup(database, user_id,
                                                                  chat_for, fake_openai):
    _seed(database, user_id, 4)
    fake_openai.push("text", content=json.dumps({"tool": "none"}))
    fake_openai.push("text", content="You have done 4 sessions in all.")
    chat = chat_for(_settings(fake_openai, "json"), user_id)
    result, _ = _run(chat, "how many sessions have I done?")
    assert [c.name for c in result.tool_calls] == ["practice_stats"]
    assert result.lookup_by == "question" and result.author == "model:weak-1"


@pytest.mark.parametrize(("caps", "mode"), [({"supports_tool_calls": True}, "agent"),
                                            ({"supports_tool_calls": False}, "planned"),
                                            (None, "planned")])
def test_auto_mode_asks_the_server_about_its_template(database, user_id, chat_for,
                                                      fake_openai, caps, mode):
    """llama.cpp's /props says whether the model's template takes tools; a loopback
    server that does not say gets the planned mode."""
    fake_openai.props = None if caps is None else {"chat_template_caps": caps}
    chat = chat_for(_settings(fake_openai, "auto"), user_id)
    assert chat.mode() == mode
