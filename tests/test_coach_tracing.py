"""Opik tracing against a fake Opik backend: traces of a recommendation and of a live-coaching
call carry tags, metadata and thread ids; a hanging endpoint cannot hold the app up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fakes import FakeOpik
from fakes.fixtures import *  # noqa: F403
from fretcoach_cli.coach.live import LiveCoach, LiveContext
from fretcoach_cli.coach.plans import recommend, recommendation_input
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.links import LinkSpec
from fretcoach_cli.llm.tracing import OpikTracing, Tracer, make_tracer
from fretcoach_cli.music.notes import parse_note
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.metrics import compute_metrics

TESTS = Path(__file__).parent
PLAN = {"scale": "A blues", "focus_area": "pitch_accuracy", "reasoning": "Pitch averaged 61.",
        "target_tempo_bpm": 72, "strictness": 0.4, "sensitivity": 0.5,
        "session_target": {"minutes": 10}, "exercises": ["Hold each note for a beat"]}


def _opik_env(monkeypatch, server: FakeOpik) -> None:
    monkeypatch.setenv("OPIK_URL_OVERRIDE", server.api_url)
    monkeypatch.setenv("OPIK_PROJECT_NAME", "fretcoach-tests")
    monkeypatch.setenv("OPIK_DEFAULT_FLUSH_TIMEOUT", "5")
    monkeypatch.delenv("OPIK_API_KEY", raising=False)


def _context() -> LiveContext:
    scale = parse_scale("A minor pentatonic")
    notes = [NoteEvent(i * 0.5, i * 0.5 + 0.4, parse_note(n) - 0.3, 0.9)
             for i, n in enumerate(["A3", "C4", "D4", "E4"])]
    return LiveContext(compute_metrics(notes, scale), notes, scale)


def test_tracing_off_imports_nothing_and_adds_no_callbacks():
    tracer = make_tracer("")
    assert type(tracer) is Tracer
    cfg = tracer.config(feature="live-coach", model="m", metadata={"user_id": "u"},
                        thread_id="t")
    assert "callbacks" not in cfg and cfg["tags"] == ["live-coach", "m"]


def test_traces_of_a_recommendation_and_a_live_call(monkeypatch, fake_opik, fake_openai):
    _opik_env(monkeypatch, fake_opik)
    tracer = make_tracer("opik")
    assert isinstance(tracer, OpikTracing)
    chain = ProviderChain([LinkSpec("openai", "gpt-traced", fake_openai.base_url, "sk")],
                          retries=0, timeout=5)
    fake_openai.push("tool_call", arguments=PLAN)
    result = recommend(recommendation_input([]), chain=chain, tracer=tracer,
                       metadata={"user_id": "alice"}, thread_id="recommend-alice")
    assert result.source == "gpt-traced"

    fake_openai.push("text", content="Fret closer to the wire.")
    coach = LiveCoach(chain, tracer=tracer, user_id="alice", session_id="sess-1",
                      practice_id="plan-9")
    assert "".join(coach.stream(_context())) == "Fret closer to the wire."
    coach.close()  # flushes
    # a trace may arrive as a create and then an update (its end, its thread): wait for the
    # merged records of both, not for the first two requests
    def merged() -> dict[str, dict]:
        by_id: dict[object, dict] = {}
        for t in fake_opik.traces():
            by_id.setdefault(t.get("id"), {}).update(
                {k: v for k, v in t.items() if v is not None})
        return {t["name"]: t for t in by_id.values() if t.get("name")}

    assert fake_opik.wait_for(lambda _r: len(merged()) >= 2
                              and all("thread_id" in t for t in merged().values()))

    traces = merged()
    rec, live = traces["recommendation"], traces["live-coach"]
    assert rec["tags"] == ["recommendation", "gpt-traced"]
    assert rec["metadata"]["user_id"] == "alice"
    assert rec["metadata"]["prompt_version"].startswith("fretcoach-prompts-")
    assert rec["thread_id"] == "recommend-alice"
    assert live["tags"] == ["live-coach", "gpt-traced"]
    assert {k: live["metadata"][k] for k in ("user_id", "session_id", "practice_id")} == {
        "user_id": "alice", "session_id": "sess-1", "practice_id": "plan-9"}
    assert live["thread_id"] == "session-sess-1"
    assert all(t["project_name"] == "fretcoach-tests" for t in traces.values())
    spans = fake_opik.spans()
    assert {s["trace_id"] for s in spans} >= {rec["id"], live["id"]}


_HANG_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_coach_tracing import _context
    from fretcoach_cli.coach.live import LiveCoach
    from fretcoach_cli.llm.chain import ProviderChain
    from fretcoach_cli.llm.links import LinkSpec
    from fretcoach_cli.llm.tracing import make_tracer

    chain = ProviderChain([LinkSpec("openai", "gpt-x", {base_url!r}, "sk")], retries=0,
                          timeout=5)
    coach = LiveCoach(chain, tracer=make_tracer("opik"), user_id="bob", session_id="s")
    print("REPLY:" + "".join(coach.stream(_context())), flush=True)
    coach.close()
    print("CLOSED", flush=True)
""")


def test_a_hanging_opik_endpoint_does_not_hold_the_app(fake_openai):
    fake_openai.push("text", content="Relax the thumb.")
    with FakeOpik(hang=True) as dead:
        env = {**os.environ, "OPIK_URL_OVERRIDE": dead.api_url, "OPIK_DEFAULT_FLUSH_TIMEOUT": "1"}
        env.pop("OPIK_API_KEY", None)
        script = _HANG_SCRIPT.format(tests=str(TESTS), base_url=fake_openai.base_url)
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=60)  # liveness bound, not a benchmark
        assert dead.requests, "the tracer never tried to reach the endpoint"
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["REPLY:Relax the thumb.", "CLOSED"]
    assert "OPIK" not in proc.stderr and "opik" not in proc.stdout.lower()
