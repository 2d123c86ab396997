"""Coach memory: facts the player stated, kept per user in PostgreSQL, recalled by relevance
into chat, recommend and the live coach, managed with `fretcoach memory`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import FakeOpenAI
from fakes.fixtures import *  # noqa: F403
from fretcoach_cli import config
from fretcoach_cli.chat.agent import ChatService, Done, Token, TurnResult
from fretcoach_cli.chat.sql_run import SqlRunner
from fretcoach_cli.coach import memory as coach_memory
from fretcoach_cli.coach.memory import Fact, extract, memory_question
from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.memory import Memories, normalise


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
                 "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
                 "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRETCOACH_LLM_RETRIES", "0")


def _fretcoach(user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user,
                           *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def chat_for(database: Any) -> Iterator[Any]:
    opened: list[ChatService] = []

    def make(user: str, settings: config.Settings | None = None, **kw: Any) -> ChatService:
        service = ChatService.open(database, settings or config.load(), user=user, **kw)
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()


def _ask(chat: ChatService, question: str) -> tuple[TurnResult, str]:
    events = list(chat.ask(question))
    assert isinstance(events[-1], Done)
    shown = "".join(e.text for e in events if isinstance(e, Token))
    return events[-1].result, shown


# -- the store ---------------------------------------------------------------------------------

def test_add_dedupes_on_normalised_text_and_edits(conn: Any) -> None:
    memories = Memories(conn)
    first, created = memories.add("My wrist hurts after 20 minutes.", kind="limit")
    assert created and first.kind == "limit" and first.source == "user"
    again, created = memories.add("  my wrist  hurts after 20 minutes ", source="chat")
    assert not created and again.memory_id == first.memory_id and again.kind == "limit"
    assert [r.text for r in memories.list()] == ["My wrist hurts after 20 minutes."]

    other, _ = memories.add("I tune to drop D", kind="tuning")
    edited = memories.edit(other.memory_id, "I tune to open G")
    assert edited.text == "I tune to open G" and edited.kind == "tuning"
    with pytest.raises(UsageError, match="already says that"):
        memories.edit(other.memory_id, "my wrist hurts after 20 minutes")
    with pytest.raises(NotFoundError):
        memories.edit(10**12, "anything")
    with pytest.raises(UsageError):
        memories.add("   ")
    with pytest.raises(UsageError):
        memories.add("x" * 501)
    with pytest.raises(UsageError):
        memories.add("fine", kind="mood")
    assert memories.forget(other.memory_id).text == "I tune to open G"
    assert memories.clear() == 1 and memories.list() == []


def test_recall_ranks_by_relevance_then_limits_and_goals(conn: Any) -> None:
    memories = Memories(conn)
    for text, kind in [("I play a Gibson Les Paul", "gear"),
                       ("My goal is to play Little Wing by June", "goal"),
                       ("I struggle with string skipping", "struggle"),
                       ("I practise in the evenings", "note"),
                       ("My wrist hurts after 20 minutes", "limit"),
                       ("I tune to drop D", "tuning")]:
        memories.add(text, kind=kind)

    def recalled(query: str, k: int = 6) -> list[str]:
        return [r.row.text for r in memories.recall(query, k=k)]

    assert recalled("how long before my wrists get sore?")[0] == "My wrist hurts after 20 minutes"
    assert recalled("skipping strings exercise")[0] == "I struggle with string skipping"
    assert recalled("which guitar should I use, the Les Paul?")[0] == "I play a Gibson Les Paul"
    # no word matches: limits, then goals, then struggles come first
    assert recalled("hello", k=3) == ["My wrist hurts after 20 minutes",
                                      "My goal is to play Little Wing by June",
                                      "I struggle with string skipping"]
    ranked = memories.recall("wrist", k=2)
    assert ranked[0].rank > 0 and ranked[1].rank == 0
    fresh, _ = memories.add("I bought a metronome app", kind="gear")
    assert memories.recall("metronome", k=1, touch=False)[0].row == fresh
    assert memories.require(fresh.memory_id).last_recalled_at is None
    memories.recall("metronome", k=1)
    assert memories.require(fresh.memory_id).last_recalled_at is not None
    assert len(recalled("", k=2)) == 2


def test_memories_are_isolated_between_users(database: Any, user_id: str) -> None:
    other = f"{user_id}-b"
    with database.connect(user_id) as a_conn, database.connect(other) as b_conn:
        a_row, _ = Memories(a_conn).add("My wrist hurts after 20 minutes", kind="limit")
        b = Memories(b_conn)
        assert b.list() == [] and b.recall("wrist") == []
        with pytest.raises(NotFoundError):
            b.forget(a_row.memory_id)
        assert b.clear() == 0
        # the same fact is B's own, separately
        b_row, created = b.add("my wrist hurts after 20 minutes")
        assert created and b_row.memory_id != a_row.memory_id
        assert [r.memory_id for r in Memories(a_conn).list()] == [a_row.memory_id]
    # the chat agent's SQL role cannot read the table at all (not exposed, no grant) ...
    runner = SqlRunner(lambda: database.connect(other, role="reader", autocommit=True))
    try:
        result = runner.run("SELECT text FROM fretcoach.coach_memories")
        assert result.error and not result.rows
    finally:
        runner.close()
    # ... not even past the guard, on its own connection
    with database.connect(other, role="reader", autocommit=True) as reader, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("SELECT text FROM fretcoach.coach_memories").fetchall()


# -- capture -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "facts"), [
    ("remember that I practise in the evenings", [("note", "I practise in the evenings")]),
    ("please remember I practise on a nylon-string guitar at night",
     [("note", "I practise on a nylon-string guitar at night")]),
    ("Please remember: my goal is to play Little Wing",
     [("goal", "My goal is to play Little Wing")]),
    ("I play a Fender Stratocaster.", [("gear", "I play a Fender Stratocaster")]),
    ("I play an acoustic guitar", [("gear", "I play an acoustic guitar")]),
    ("I tune to drop D", [("tuning", "I tune to drop D")]),
    ("I play in open G most days", [("tuning", "I play in open G most days")]),
    ("Ok so I use DADGAD", [("tuning", "I use DADGAD")]),
    ("my wrist hurts after 20 minutes", [("limit", "My wrist hurts after 20 minutes")]),
    ("My left hand gets tired quickly", [("limit", "My left hand gets tired quickly")]),
    ("I have tendinitis in my wrist", [("limit", "I have tendinitis in my wrist")]),
    ("I can only practise 15 minutes a day", [("limit", "I can only practise 15 minutes a day")]),
    ("My goal is to play Little Wing by June",
     [("goal", "My goal is to play Little Wing by June")]),
    ("I want to get my alternate picking up to 120 BPM",
     [("goal", "I want to get my alternate picking up to 120 BPM")]),
    ("I struggle with string skipping", [("struggle", "I struggle with string skipping")]),
    ("I find barre chords difficult", [("struggle", "I find barre chords difficult")]),
    ("Alternate picking is hard for me", [("struggle", "Alternate picking is hard for me")]),
    ("What should I practise? I want to improve my timing. My wrist aches after an hour.",
     [("goal", "I want to improve my timing"), ("limit", "My wrist aches after an hour")]),
    ("I tune to drop D. I tune to drop D!", [("tuning", "I tune to drop D")]),
])
def test_extracts_stated_facts(message: str, facts: list[tuple[str, str]]) -> None:
    assert extract(message) == [Fact(kind, text) for kind, text in facts]


@pytest.mark.parametrize("message", [
    "how did I do this week?", "why is my timing low?", "do I struggle with timing?",
    "what are my goals?", "I want to know how I did this week", "show my last 5 sessions",
    "what should I practise next?", "is my wrist position ok?", "can I play in drop D?",
    "what's my streak?", "thanks!", "", "remember teal",
])
def test_questions_and_requests_are_not_facts(message: str) -> None:
    assert extract(message) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["my wrist hurts after 20 minutes", "I tune to drop D",
                        "I struggle with sweeping", "my goal is to play faster",
                        "I play a Gibson SG"]),
       st.sampled_from(["", "Ok, ", "so ", "btw "]), st.sampled_from(["", ".", "!", "  "]),
       st.booleans())
def test_a_fact_is_found_whatever_its_framing(fact: str, lead: str, end: str,
                                              upper: bool) -> None:
    said = (lead + fact + end)
    said = said.upper() if upper else said
    found = extract(said)
    assert len(found) == 1 and normalise(found[0].text) == normalise(fact)
    # asked as a question it is never stored
    assert extract(f"is it true that {fact}?") == []


@given(st.text(max_size=80))
def test_normalise_is_idempotent(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


def test_memory_questions() -> None:
    assert memory_question("what do you know about me?") == ()
    assert memory_question("What do you remember?") == ()
    assert memory_question("what are my goals?") == ("goal",)
    assert memory_question("what guitar do I play?") == ("gear",)
    assert memory_question("what tuning do I use") == ("tuning",)
    assert memory_question("how did I do this week?") is None


# -- chat --------------------------------------------------------------------------------------

def test_chat_remembers_across_two_chats_and_not_for_another_user(
        database: Any, user_id: str, chat_for: Any) -> None:
    first = chat_for(user_id, force_offline=True)
    result, shown = _ask(first, "My wrist hurts after 20 minutes. I tune to drop D.")
    assert result.remembered == ["My wrist hurts after 20 minutes", "I tune to drop D"]
    assert "Noted" in shown and "I'll remember" in shown and "drop D" in shown
    assert shown == result.answer
    _, shown = _ask(first, "I tune to drop D")
    assert "I already knew" in shown

    # a second chat (another service, another thread) knows it
    second = chat_for(user_id, force_offline=True)
    result, shown = _ask(second, "what do you know about me?")
    assert second.thread_id != first.thread_id
    assert "My wrist hurts after 20 minutes" in shown and "I tune to drop D" in shown
    assert result.remembered == []
    _, shown = _ask(second, "what tuning do I use?")
    assert "drop D" in shown and "wrist" not in shown

    # another user sees none of it
    stranger = chat_for(f"{user_id}-b", force_offline=True)
    _, shown = _ask(stranger, "what do you know about me?")
    assert "I don't remember anything about you yet" in shown and "wrist" not in shown
    with database.connect(user_id) as conn:
        assert {r.source for r in Memories(conn).list()} == {"chat"}


def test_the_model_gets_the_relevant_memories(database: Any, user_id: str, chat_for: Any,
                                              fake_openai: FakeOpenAI) -> None:
    with database.connect(user_id) as conn:
        Memories(conn).add("My wrist hurts after 20 minutes", kind="limit")
        Memories(conn).add("I play a Gibson Les Paul", kind="gear")
    fake_openai.push("text", content="Keep it short and rest your wrist before it hurts.")
    settings = config.load().with_overrides(
        llm_provider="openai", llm_model="fake-1", llm_base_url=fake_openai.base_url,
        llm_retries=0, llm_timeout=10, llm_tool_mode="native")
    chat = chat_for(user_id, settings)
    result, _ = _ask(chat, "how long should I practise my wrist stretches?")
    assert result.author.startswith("model:")
    sent = json.dumps([r.body for r in fake_openai.requests if isinstance(r.body, dict)])
    assert coach_memory.CONTEXT_HEAD in sent and "My wrist hurts after 20 minutes" in sent
    system = [m for r in fake_openai.requests if isinstance(r.body, dict)
              for m in r.body.get("messages", []) if m.get("role") == "system"]
    assert system and all("wrist" not in json.dumps(m) for m in system)
    # the block is context for the call, not part of the stored conversation
    assert all(coach_memory.CONTEXT_HEAD not in text for _, text in chat.transcript())


# -- recommend, the live coach -----------------------------------------------------------------

def test_recommend_keeps_to_a_stated_limit_and_remembers_the_plan(database: Any,
                                                                  user_id: str) -> None:
    out = _fretcoach(user_id, "memory", "add", "my wrist hurts after 8 minutes")
    assert out.returncode == 0 and "Remembered" in out.stdout and "[limit]" in out.stdout
    out = _fretcoach(user_id, "recommend", "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)["practice_plan"]
    assert plan["session_target"]["minutes"] == 5  # the offline plan's 10, kept under 8
    assert "my wrist hurts after 8 minutes" in plan["reasoning"]
    assert plan["exercises"][-1] == "Stop at 5 minutes and rest your hands"
    listed = json.loads(_fretcoach(user_id, "memory", "list", "--json").stdout)
    assert [m["kind"] for m in listed] == ["limit", "plan"]
    assert listed[1]["text"].startswith("Agreed plan: ") and listed[1]["source"] == "plan"


def test_recommend_without_memories_is_unchanged() -> None:
    from fretcoach_cli.coach.plans import offline_plan, recommendation_input

    plan = offline_plan(recommendation_input([]))
    assert coach_memory.apply_limits(plan, []) == plan


def test_live_coach_uses_memories_offline_and_in_prompts(conn: Any) -> None:
    from fretcoach_cli.coach.live import LiveCoach, LiveContext
    from fretcoach_cli.events import NoteEvent
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.scoring.metrics import compute_metrics

    Memories(conn).add("My wrist hurts after 20 minutes", kind="limit")
    coach = LiveCoach()
    coach.memory_loader = lambda: coach_memory.recall(conn, coach_memory.LIVE_QUERY)
    scale = parse_scale("A minor pentatonic")
    notes = [NoteEvent(onset_s=60 * 19 + i * 0.5, offset_s=60 * 19 + i * 0.5 + 0.4,
                       midi=57.0 + (i % 3) * 3, confidence=0.9) for i in range(12)]
    metrics = compute_metrics(notes, scale)
    stream = coach.stream(LiveContext(metrics, notes, scale))
    assert stream is not None
    tip = "".join(stream)
    assert "19 minutes played" in tip and "My wrist hurts after 20 minutes" in tip
    reply = coach.summary(metrics, notes, scale, duration_s=21 * 60)
    assert reply.offline and "told me \"My wrist hurts after 20 minutes\"" in reply.text
    short = coach.summary(metrics, notes, scale, duration_s=5 * 60)
    assert "wrist" not in short.text
    messages = coach_memory.with_memories([("system", "s"), ("human", "data")],
                                          coach.memories())
    assert messages[0] == ("system", "s")
    assert messages[1][1].startswith("data\n\n" + coach_memory.CONTEXT_HEAD)


def test_context_block_is_capped() -> None:
    from types import SimpleNamespace

    rows = [SimpleNamespace(kind="note", text=f"fact number {i} " + "x" * 150) for i in range(9)]
    block = coach_memory.context_block(rows)
    assert block.startswith(coach_memory.CONTEXT_HEAD)
    assert len(block) <= coach_memory.RECALL_CHARS + len(coach_memory.CONTEXT_HEAD) + 1
    assert coach_memory.context_block([]) == ""


# -- the CLI -----------------------------------------------------------------------------------

def test_memory_cli_round_trip_and_bad_input(database: Any, user_id: str) -> None:
    out = _fretcoach(user_id, "memory", "list")
    assert out.returncode == 0 and "remembers nothing" in out.stdout
    out = _fretcoach(user_id, "memory", "add", "I", "struggle", "with", "sweep", "picking")
    assert out.returncode == 0 and "[struggle]" in out.stdout
    mid = int(out.stdout.split()[1].rstrip(":"))
    assert "Already remembered" in _fretcoach(user_id, "memory", "add",
                                              "i struggle with sweep picking.").stdout
    out = _fretcoach(user_id, "memory", "add", "--kind", "goal", "Play at the open mic")
    assert out.returncode == 0 and "[goal]" in out.stdout
    out = _fretcoach(user_id, "memory", "edit", str(mid), "I struggle with economy picking")
    assert out.returncode == 0 and "economy picking" in out.stdout
    listed = json.loads(_fretcoach(user_id, "memory", "list", "--json").stdout)
    assert (listed[0]["id"], listed[0]["kind"], listed[0]["text"]) == (
        mid, "struggle", "I struggle with economy picking")
    assert json.loads(_fretcoach(user_id, "memory", "list", "--kind", "goal", "--json")
                      .stdout)[0]["text"] == "Play at the open mic"

    for args, code, words in [
        (("memory", "forget", "999999999"), 3, "no memory 999999999"),
        (("memory", "edit", "999999999", "text"), 3, "no memory 999999999"),
        (("memory", "forget", "abc"), 2, "Invalid value"),
        (("memory", "add", "--kind", "mood", "happy"), 2, "unknown memory kind 'mood'"),
        (("memory", "add", "   "), 2, "needs some text"),
        (("memory", "list", "--kind", "mood"), 2, "unknown memory kind"),
        (("memory", "clear"), 2, "add --yes"),
    ]:
        out = _fretcoach(user_id, *args)
        assert out.returncode == code, (args, out.stderr)
        assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr

    # another user cannot forget it
    assert _fretcoach(f"{user_id}-b", "memory", "forget", str(mid)).returncode == 3
    out = _fretcoach(user_id, "memory", "forget", str(mid))
    assert out.returncode == 0 and "Forgot" in out.stdout
    out = _fretcoach(user_id, "memory", "clear", "--yes")
    assert out.returncode == 0 and "Forgot 1 memory" in out.stdout
    assert json.loads(_fretcoach(user_id, "memory", "list", "--json").stdout) == []


def test_a_chat_plan_keeps_to_the_limit_and_is_remembered_when_saved(
        database: Any, user_id: str, chat_for: Any) -> None:
    from fretcoach_cli.reports.seed import seed

    with database.connect(user_id) as conn:
        seed(conn, user=user_id, sessions=4, notes_per_session=20)
        Memories(conn).add("My wrist hurts after 8 minutes", kind="limit")
    chat = chat_for(user_id, force_offline=True)
    result, _ = _ask(chat, "what should I practise next?")
    assert result.plan is not None and not result.plan["saved"]
    draft = result.plan["plan"]
    assert draft["session_target"]["minutes"] == 5
    assert "My wrist hurts after 8 minutes" in draft["reasoning"]
    saved = chat.save_pending_plan()
    with database.connect(user_id) as conn:
        plans = [r for r in Memories(conn).list() if r.kind == "plan"]
    assert [(r.source, r.text) for r in plans] == [
        ("chat", coach_memory.plan_text(saved.plan))]
    assert plans[0].text.startswith(f"Agreed plan: {saved.plan['title']}, 5 min")


def test_a_model_without_tools_writes_with_the_memories(database: Any, user_id: str,
                                                        chat_for: Any,
                                                        fake_openai: FakeOpenAI) -> None:
    with database.connect(user_id) as conn:
        Memories(conn).add("My wrist hurts after 20 minutes", kind="limit")
    fake_openai.push("text", content=json.dumps({"tool": "none"}))
    fake_openai.push("text", content="Stop before 20 minutes and stretch your wrist.")
    settings = config.load().with_overrides(
        llm_provider="openai", llm_model="weak-1", llm_base_url=fake_openai.base_url,
        llm_retries=0, llm_timeout=30, llm_tool_mode="json")
    chat = chat_for(user_id, settings)
    result, _ = _ask(chat, "any tip for my wrist?")
    # the figure comes from the memory, so the answer is the model's, not replaced
    assert result.author.startswith("model:") and result.grounded
    assert result.answer.startswith("Stop before 20 minutes and stretch your wrist.")
    writer = fake_openai.chat_requests()[-1].body["messages"]
    assert writer[0]["role"] == "system" and "wrist" not in writer[0]["content"]
    assert coach_memory.CONTEXT_HEAD in writer[-1]["content"]
    assert "My wrist hurts after 20 minutes" in writer[-1]["content"]


def test_the_practice_room_coach_recalls_the_users_memories(database: Any,
                                                            user_id: str) -> None:
    from fretcoach_cli.practice.coach_link import CoachLink

    with database.connect(user_id) as conn:
        Memories(conn).add("My wrist hurts after 20 minutes", kind="limit")
        Memories(conn).add("I collect vintage amplifiers", kind="note")
    link = CoachLink(config.load().with_overrides(user=user_id))
    try:
        assert link.coach.memories()[0].text == "My wrist hurts after 20 minutes"
        other = CoachLink(config.load().with_overrides(user=f"{user_id}-b"))
        assert other.coach.memories() == []
        other.close()
    finally:
        link.close()
