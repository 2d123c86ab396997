"""Pure text rules of the llm layer: tool calls written as text, the stream guard, JSON
extraction, and the grounding check (no server needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fretcoach_cli.chat.grounded import check, degenerate
from fretcoach_cli.llm.failures import BadOutput
from fretcoach_cli.llm.grounding import ungrounded
from fretcoach_cli.llm.structured import extract_json
from fretcoach_cli.llm.toolcalls import (
    StreamGuard,
    looks_like_tool_text,
    parse_text_calls,
    prose_of,
)

KNOWN = {"practice_stats", "run_sql"}


@pytest.mark.parametrize("text", [
    '<tool_call>\n{"name": "practice_stats", "arguments": {"group_by": "scale"}}\n</tool_call>',
    '<tools>{"name": "practice_stats", "arguments": {"group_by": "scale"}}</tools>',
    '<function=practice_stats>{"group_by": "scale"}</function>',
    '[TOOL_CALLS] [{"name": "practice_stats", "arguments": {"group_by": "scale"}}]',
    '```json\n{"name": "practice_stats", "parameters": {"group_by": "scale"}}\n```',
    '{"function": {"name": "practice_stats", "arguments": "{\\"group_by\\": \\"scale\\"}"}}',
    'Let me look. {"name": "practice_stats", "arguments": {"group_by": "scale"}}',
])
def test_tool_calls_written_as_text_are_found(text):
    calls = parse_text_calls(text, KNOWN)
    assert [(c.name, c.args) for c in calls] == [("practice_stats", {"group_by": "scale"})]
    assert looks_like_tool_text(text)


def test_unknown_tools_are_not_run_but_still_hidden():
    text = '<tool_call>{"name": "drop_all", "arguments": {}}</tool_call>'
    assert parse_text_calls(text, KNOWN) == []
    assert looks_like_tool_text(text) and prose_of(text) == ""


def test_prose_is_not_a_tool_call():
    for text in ("You practised 5 sessions.", "Try {this} at 80 bpm", "| a | b |"):
        assert not looks_like_tool_text(text)


@given(st.text(max_size=80), st.lists(st.integers(1, 9), max_size=12))
def test_the_stream_guard_never_loses_or_invents_text(text, cuts):
    guard, shown, pos = StreamGuard(), "", 0
    for n in cuts:
        shown += guard.feed(text[pos:pos + n])
        pos += n
    shown += guard.feed(text[pos:])
    assert shown + guard.held() == text


def test_the_stream_guard_holds_a_call_that_starts_mid_reply():
    guard = StreamGuard()
    out = [guard.feed(t) for t in ["Sure, ", "<tool", "_call>{", '"name": 1}']]
    assert "".join(out) == "Sure, " and guard.held().startswith("<tool_call>")


@pytest.mark.parametrize(("text", "value"), [
    ('{"a": 1}', {"a": 1}), ('```json\n{"a": 1}\n```', {"a": 1}),
    ('Here: {"a": {"b": "}"}} done', {"a": {"b": "}"}}),
])
def test_json_is_found_in_replies(text, value):
    assert extract_json(text) == value


@pytest.mark.parametrize("text", ["", "no json here", "{broken"])
def test_no_json_is_a_bad_output(text):
    with pytest.raises(BadOutput):
        extract_json(text)


DATA = {"totals": {"sessions": 202, "notes": 24000, "duration_seconds": 3600},
        "metrics": {"timing_stability": {"mean": 61.4, "first_half": 58.0,
                                         "second_half": 64.2}},
        "in_tune_ratio": 0.873,
        "rows": [{"session_id": "4caada01-1111-2222-3333-444455556666",
                  "start": "2026-12-06 23:06", "mean_notes": 120}]}


@pytest.mark.parametrize("answer", [
    "You have 202 sessions; timing averages 61 (61.4), in tune 87.3%.",
    "Timing rose by 6.2 points, from 58 to 64.2.",
    "Your session 4caada01 on 2026-12-06 had 120 notes.",
    "You practised 1 hour (60 min) in total.",
    "1. Play 10 minutes at 80 bpm.\n2. Then rest.",
])
def test_grounded_answers_pass(answer):
    assert ungrounded(answer, DATA, "how am I doing?") == []


@pytest.mark.parametrize(("answer", "bad"), [
    ("count(*): 20", ["20"]),
    ("You have 120 sessions.", ["120"]),  # 120 is notes per session, not a session count
    ("Session 12345 on 2026-12-08 scored 99.", ["2026-12-08", "12345", "99"]),
])
def test_invented_figures_are_caught(answer, bad):
    assert ungrounded(answer, DATA, "how am I doing?") == bad


def test_the_question_grounds_its_own_numbers():
    assert ungrounded("Here are your last 5 sessions.", DATA, "show my last 5 sessions") == []


def test_repetition_and_prompt_echo_are_refused():
    assert degenerate("Practise slowly.\n" * 3)
    assert degenerate("The guitarist's question: how did I do?")
    assert not degenerate("Practise slowly.\nThen faster.")
    assert check('{"name": "run_sql", "arguments": {}}', DATA) == ["tool-call text"]
