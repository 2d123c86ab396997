"""Live coaching: streamed through ChatOpenAI from the fake SSE server, never overlapping,
dropped after close, offline when the models fail, and the end-of-session summary."""

from __future__ import annotations

import threading

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli.coach.live import LiveCoach, LiveContext, stream_live_tip
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.links import LinkSpec
from fretcoach_cli.music.notes import parse_note
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.scoring.metrics import compute_metrics

SCALE = parse_scale("A minor pentatonic")
TIP = "Your G3 is 30 cents flat on the open G string: tune it up and fret lightly."


def _context() -> LiveContext:
    notes = [NoteEvent(i * 0.5, i * 0.5 + 0.4, parse_note(n) + (-0.3 if n == "G3" else 0), 0.9)
             for i, n in enumerate(["A3", "C4", "D4", "E4", "G3", "A3", "G3"])]
    return LiveContext(compute_metrics(notes, SCALE, enabled=["pitch_accuracy"]), notes, SCALE)


def _coach(*servers, timeout: float = 5.0) -> LiveCoach:
    specs = [LinkSpec("openai", f"model-{i}", s.base_url, "sk") for i, s in enumerate(servers)]
    return LiveCoach(ProviderChain(specs, retries=0, timeout=timeout), user_id="u1",
                     session_id="s1")


def test_tip_streams_token_by_token_to_callbacks(fake_openai):
    fake_openai.push("text", content=TIP)
    coach = _coach(fake_openai)
    tokens: list[str] = []
    begun: list[str] = []
    done = threading.Event()
    replies = []
    started = coach.tick(_context(), on_begin=begun.append, on_token=tokens.append,
                         on_done=lambda r: (replies.append(r), done.set()))
    assert started
    assert done.wait(10)
    assert len(tokens) == len(TIP.split()) and "".join(tokens) == TIP
    assert begun == ["model-0"]
    reply = replies[0]
    assert (reply.text, reply.source, reply.kind, reply.metric) == (TIP, "model-0", "live",
                                                                    "pitch_accuracy")
    # the prompt is grounded in the measured notes and the offline finding
    prompt = fake_openai.chat_requests()[-1].body["messages"][-1]["content"]
    assert "Main finding: Your G3 is 30 cents flat over 2 notes" in prompt
    assert "G3 -30c in scale, open 3rd string (G)" in prompt


def test_calls_never_overlap(fake_openai):
    fake_openai.push("text", content=TIP, delay=0.05)
    coach = _coach(fake_openai)
    release = threading.Event()
    first = coach.tick(_context(), on_token=lambda _t: release.wait(5))
    assert first
    assert coach.busy
    assert coach.tick(_context()) is False  # in flight: this tick is skipped
    assert coach.stream(_context()) is None
    release.set()
    assert coach.wait_idle(10)
    assert coach.tick(_context()) is True
    assert coach.wait_idle(10)
    assert len(fake_openai.chat_requests()) == 2


def test_reply_finishing_after_close_is_dropped(fake_openai):
    fake_openai.push("text", content=TIP, delay=0.02)
    coach = _coach(fake_openai)
    seen: list[str] = []
    done: list[object] = []
    gate = threading.Event()

    def on_token(tok: str) -> None:
        seen.append(tok)
        gate.wait(5)

    assert coach.tick(_context(), on_token=on_token, on_done=done.append)
    while not seen:
        threading.Event().wait(0.01)
    coach.close()
    gate.set()
    assert coach.wait_idle(10)
    assert seen == [TIP.split()[0] + " "]  # nothing after close
    assert done == [] and coach.last_reply is None
    assert coach.tick(_context()) is False  # a closed coach starts nothing


def test_offline_coach_answers_when_every_model_fails(fake_openai, fake_openai2):
    fake_openai.push("error", status=429)
    fake_openai2.push("error", status=500)
    coach = _coach(fake_openai, fake_openai2)
    live = coach.stream(_context())
    text = "".join(live)
    assert live.source == "offline" and live.reply.source == "offline"
    assert "your G3 is 30 cents flat" in text  # live prompt v2 (the default): action first
    assert [a.kind for a in live.reply.attempts] == ["rate_limit", "server"]


def test_no_provider_means_offline_without_error():
    coach = LiveCoach(None)
    live = coach.stream(_context())
    assert "your G3 is 30 cents flat" in "".join(live) and live.source == "offline"


def test_stream_live_tip_labels_the_answering_model(fake_openai, fake_openai2):
    fake_openai.push("hang")
    fake_openai2.push("text", content=TIP)
    coach = _coach(fake_openai, fake_openai2, timeout=0.5)
    ctx = _context()
    source, tokens = stream_live_tip(ctx.metrics, {"coach": coach, "notes": ctx.notes,
                                                   "scale": "A minor pentatonic"})
    assert source == "model-1"
    assert "".join(tokens) == TIP


def test_session_summary_streams_and_falls_back(fake_openai):
    summary = ("You played 7 notes for 80/100; pitch was weakest at 43. Work on: fretting "
               "right behind the fret wire.")
    fake_openai.push("text", content=summary)
    coach = _coach(fake_openai)
    coach.close()  # the summary comes after the session ended
    ctx = _context()
    tokens: list[str] = []
    reply = coach.summary(ctx.metrics, ctx.notes, SCALE, 3.5, on_token=tokens.append)
    assert (reply.text, reply.source, reply.kind) == (summary, "model-0", "summary")
    assert "".join(tokens) == summary
    fake_openai.push("error", status=503)
    fallback = _coach(fake_openai).summary(ctx.metrics, ctx.notes, SCALE, 3.5)
    assert fallback.source == "offline" and "Work on:" in fallback.text


def test_an_unconsumed_stream_can_be_given_up():
    coach = LiveCoach(None)
    live = coach.stream(_context())
    assert coach.busy and coach.stream(_context()) is None
    live.close()
    assert not coach.busy
    assert list(live) == []  # a given-up stream yields nothing
    again = coach.stream(_context())
    assert "your G3" in "".join(again)


def test_warm_up_builds_the_models_in_the_background(fake_openai):
    coach = _coach(fake_openai)
    thread = coach.warm_up()
    thread.join(60)
    assert coach.chain.links[0]._models.get(True) is not None
    assert fake_openai.chat_requests() == []  # building a model calls nothing
    assert LiveCoach(None).warm_up() is None
