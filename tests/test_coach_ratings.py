"""Reply ratings and prompt versions (issue 20, items 2 and 3): every coach reply has an id and
a prompt version, `fretcoach rate` / the REPL's /+ /- / the practice room's +/- store a rating,
Opik gets it as trace feedback, and `coach compare` replays seeded sessions through two
prompt versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli import config
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.cli.main import _register_commands, app, run
from fretcoach_cli.coach import offline
from fretcoach_cli.coach.live import CoachReply, LiveCoach, LiveContext
from fretcoach_cli.coach.prompts.versions import load, versions
from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.links import LinkSpec
from fretcoach_cli.llm.tracing import FEEDBACK_NAME, make_tracer
from fretcoach_cli.music.notes import parse_note
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.coach_link import CoachLink, rate_latest, store_replies
from fretcoach_cli.practice.recorder import SessionRecorder
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.reports.seed import seed
from fretcoach_cli.scoring.metrics import compute_metrics
from fretcoach_cli.store import replies

_register_commands()
runner = CliRunner()
SCALE = parse_scale("A minor pentatonic")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"


@pytest.fixture(autouse=True)
def _offline_by_default(monkeypatch):
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
                 "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
                 "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING", "FRETCOACH_PROMPT_LIVE"):
        monkeypatch.delenv(name, raising=False)


def _failing(capsys, *args: str) -> tuple[int, str]:
    """Run the console entry point (which maps errors to one line + exit code)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        run(list(args))
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return int(exc.value.code or 0), err


def _flat_notes() -> list[NoteEvent]:
    return [NoteEvent(i * 0.5, i * 0.5 + 0.4, parse_note(n) - 0.3, 0.9)
            for i, n in enumerate(["A3", "C4", "D4", "E4", "G4", "A4", "G4", "E4", "D4"])]


# -- prompt files -------------------------------------------------------------------------

def test_prompt_files_are_versioned_and_v1_keeps_todays_offline_wording():
    assert versions("live") == ("v1", "v2")
    assert all(versions(name)[0] == "v1" for name in ("summary", "plan", "chat"))
    assert load("live").version == "v2"  # the default is the newest
    assert load("live", "1").version == "v1"
    with pytest.raises(UsageError, match="unknown live prompt version 'v9'"):
        load("live", "v9")
    notes = _flat_notes()
    metrics = compute_metrics(notes, SCALE)
    before = offline.live_tip(metrics, notes, SCALE)
    assert offline.live_tip(metrics, notes, SCALE, template=load("live", "v1").offline) == before
    v2, metric = offline.live_tip(metrics, notes, SCALE, template=load("live", "v2").offline)
    f = offline.finding(metrics, notes, SCALE)
    assert f is not None and metric == f.metric
    assert v2.startswith(f.technique[:1].upper() + f.technique[1:])  # the action comes first
    assert v2 != before[0]


def test_the_live_coach_records_the_prompt_version_it_used():
    notes = _flat_notes()
    ctx = LiveContext(compute_metrics(notes, SCALE), notes, SCALE)
    for version in ("v1", "v2"):
        coach = LiveCoach(prompt_versions={"live": load("live", version)})
        stream = coach.stream(ctx)
        assert stream is not None
        text = "".join(stream)
        assert stream.reply is not None
        assert stream.reply.prompt_version == version and stream.reply.text == text.strip()
        assert len(stream.reply.reply_uuid) == 36


# -- storage and `fretcoach rate` ---------------------------------------------------------

def test_rate_by_id_replaces_and_rate_last(database, conn, user_id, capsys):
    first = replies.record(conn, kind="chat", text="Your pitch averaged 71.", source="offline",
                           prompt_name="chat", prompt_version="v1", thread_id="t-1")
    second = replies.record(conn, kind="plan", text="A dorian — pitch accuracy", source="gpt-x",
                            prompt_name="plan", prompt_version="v1")
    assert second > first
    out = runner.invoke(app, ["--user", user_id, "rate", str(first), "+", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["reply_id"], doc["rating"], doc["kind"], doc["prompt_version"]) == (
        first, 1, "chat", "v1")
    assert doc["sent_to_opik"] is False  # tracing off
    again = runner.invoke(app, ["--user", user_id, "rate", f"#{first}", "down", "--comment",
                                "too vague"])
    assert again.exit_code == 0, again.output
    assert f"rated reply #{first} -" in again.stdout
    row = replies.get(conn, first)
    assert (row.rating, row.comment) == (-1, "too vague")  # replaced, not added
    assert conn.execute("SELECT count(*) FROM fretcoach.coach_ratings").fetchone()[0] == 1
    last = runner.invoke(app, ["--user", user_id, "rate", "--last", "up"])
    assert last.exit_code == 0, last.output
    assert replies.get(conn, second).rating == 1
    # another user sees neither the replies nor can rate them
    code, err = _failing(capsys, "--user", user_id + "-other", "rate", str(first), "+")
    assert code == 3 and "no coach reply" in err


@pytest.mark.parametrize("args, code", [(["7", "maybe"], 2), (["nonsense!", "+"], 2),
                                        (["999999999", "+"], 3), (["--last", "+", "-"], 2),
                                        (["12"], 2)])
def test_rate_bad_input_is_one_line(database, user_id, args, code, capsys):
    assert _failing(capsys, "--user", user_id, "rate", *args)[0] == code


def test_a_rating_in_the_practice_room_travels_with_the_session_journal(database, conn,
                                                                         user_id, tmp_path):
    settings = config.load().with_overrides(user=user_id)
    options = PracticeOptions(scale=SCALE, user=user_id, source_kind="file",
                              source_label=EXAMPLE.name)
    session = PracticeSession(options, FileSource(EXAMPLE, realtime=False),
                              recorder=SessionRecorder(sink_factory(settings), tmp_path))
    link = CoachLink()
    store_replies(link, session)
    assert rate_latest(link, session, 1) is None  # nothing shown yet
    session.start()
    assert session.wait(120)
    tip = CoachReply("Fret right behind the wire.", "offline", "live", "pitch_accuracy", "v2")
    link._publish(tip)  # what the pane shows in full is stored…
    assert rate_latest(link, session, -1) is tip  # …and the room's "-" key rates it
    result = session.finish()
    assert result.saved
    row = replies.by_uuid(conn, tip.reply_uuid)
    assert row is not None
    assert (row.kind, row.prompt_name, row.prompt_version, row.rating) == (
        "live", "live", "v2", -1)
    assert str(row.session_id) == str(result.session_id)
    count = conn.execute("SELECT count(*) FROM fretcoach.coach_replies WHERE session_id = %s",
                         (result.session_id,)).fetchone()[0]
    assert count == 1  # sent twice (shown, then rated), stored once
    shown = runner.invoke(app, ["--user", user_id, "sessions", "show",
                                str(result.session_id), "--json"])
    assert shown.exit_code == 0, shown.output
    (listed,) = json.loads(shown.stdout)["coach_replies"]
    assert (listed["reply_id"], listed["prompt_version"], listed["rating"]) == (
        row.reply_id, "v2", -1)


# -- Opik feedback ------------------------------------------------------------------------

def test_a_rating_reaches_opik_as_feedback_on_the_replys_trace(database, conn, monkeypatch,
                                                               fake_opik, fake_openai):
    from fretcoach_cli.cli.rate import rate_reply

    monkeypatch.setenv("OPIK_URL_OVERRIDE", fake_opik.api_url)
    monkeypatch.setenv("OPIK_PROJECT_NAME", "fretcoach-tests")
    monkeypatch.setenv("OPIK_DEFAULT_FLUSH_TIMEOUT", "5")
    monkeypatch.delenv("OPIK_API_KEY", raising=False)
    tracer = make_tracer("opik")
    chain = ProviderChain([LinkSpec("openai", "gpt-rated", fake_openai.base_url, "sk")],
                          retries=0, timeout=5)
    fake_openai.push("text", content="Fret closer to the wire.")
    coach = LiveCoach(chain, tracer=tracer, user_id="alice", session_id="s-1")
    notes = _flat_notes()
    stream = coach.stream(LiveContext(compute_metrics(notes, SCALE), notes, SCALE))
    assert stream is not None and "".join(stream) == "Fret closer to the wire."
    reply = stream.reply
    assert reply is not None and reply.source == "gpt-rated" and reply.trace_id
    reply_id = replies.record(conn, kind="live", text=reply.text, source=reply.source,
                              prompt_name="live", prompt_version=reply.prompt_version,
                              reply_uuid=reply.reply_uuid, trace_id=reply.trace_id)
    done = rate_reply(conn, str(reply_id), 1, "clear and short", tracer=tracer)
    assert done["sent_to_opik"] is True
    assert replies.get(conn, reply_id).opik_sent_at is not None

    def scores() -> list[dict]:
        return [s for r in list(fake_opik.requests)
                if r.method == "PUT" and r.path.split("?")[0].endswith(
                    "/v1/private/traces/feedback-scores") and isinstance(r.body, dict)
                for s in r.body.get("scores", [])]

    assert fake_opik.wait_for(lambda _r: bool(scores()))
    (score,) = scores()
    assert score["id"] == reply.trace_id and score["name"] == FEEDBACK_NAME
    assert score["value"] == 1.0 and score["reason"] == "clear and short"
    assert score["project_name"] == "fretcoach-tests" and score["source"] == "sdk"
    assert fake_opik.wait_for(lambda _r: any(t.get("id") == reply.trace_id
                                             for t in fake_opik.traces()))
    coach.close()


# -- coach compare ------------------------------------------------------------------------

def test_coach_compare_on_seeded_sessions(database, conn, user_id):
    seed(conn, user=user_id, sessions=6, notes_per_session=24, random_seed=7)
    out = runner.invoke(app, ["--user", user_id, "coach", "compare", "--prompt", "v1",
                              "--against", "v2", "--sessions", "4", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["kind"] == "live" and len(doc["sessions"]) == 4
    v1, v2 = doc["versions"]
    assert (v1["version"], v2["version"]) == ("v1", "v2")
    for col in (v1, v2):
        assert col["replies"] == 4 and col["answered_by"] == ["offline"]
        assert col["mean_words"] > 5 and col["mean_figures"] > 0
        assert col["grounded"] == 4  # the offline coach cites only figures of the data
    # same findings, different wording: the offline templates are versioned too
    for a, b in zip(v1["samples"], v2["samples"], strict=True):
        assert a["session_id"] == b["session_id"] and a["text"] != b["text"]
        assert a["figures"] == b["figures"]
    # a rating of a v2 reply shows up in the v2 column
    rid = replies.record(conn, kind="live", text=v2["samples"][0]["text"], source="offline",
                         prompt_name="live", prompt_version="v2")
    replies.rate(conn, replies.get(conn, rid).reply_uuid, 1)
    table = runner.invoke(app, ["--user", user_id, "coach", "compare", "--prompt", "v1",
                                "--against", "v2", "--sessions", "4"])
    assert table.exit_code == 0, table.output
    text = table.stdout
    assert "v1" in text and "v2" in text and "grounded" in text
    ratings = next(line for line in text.splitlines() if "ratings so far" in line)
    assert "0/0" in ratings and "1/0" in ratings
    summary = runner.invoke(app, ["--user", user_id, "coach", "compare", "--prompt", "v1",
                                  "--against", "v1", "--kind", "summary", "--json"])
    assert summary.exit_code == 0, summary.output
    s1, s2 = json.loads(summary.stdout)["versions"]
    assert [x["text"] for x in s1["samples"]] == [x["text"] for x in s2["samples"]]


@pytest.mark.parametrize("args", [["--prompt", "v1", "--against", "v9"],
                                  ["--prompt", "x", "--against", "v2"],
                                  ["--prompt", "v1", "--against", "v2", "--kind", "solo"]])
def test_coach_compare_unknown_version_is_one_line_exit_2(database, user_id, args, capsys):
    assert _failing(capsys, "--user", user_id, "coach", "compare", *args)[0] == 2


async def test_the_minus_key_rates_the_tip_the_coach_pane_showed(database, conn, user_id,
                                                                 tmp_path):
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.screens.summary import SummaryScreen

    settings = config.load().with_overrides(user=user_id)
    options = PracticeOptions(scale=SCALE, user=user_id, source_kind="file",
                              source_label=EXAMPLE.name)
    session = PracticeSession(options, FileSource(EXAMPLE, realtime=False),
                              recorder=SessionRecorder(sink_factory(settings), tmp_path))
    link = CoachLink()
    app_ = PracticeApp(session, coach=True, coach_every_s=5.0, coach_link=link,
                       finish_on_end=False)
    async with app_.run_test(size=(120, 40)) as pilot:
        for _ in range(2400):
            if link.latest is not None:
                break
            await pilot.pause(0.05)
        tip = link.latest
        assert tip is not None and tip.kind == "live"
        await pilot.press("minus")
        await pilot.press("q")
        for _ in range(2400):
            if isinstance(app_.screen, SummaryScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app_.screen, SummaryScreen)
        await pilot.press("q")
    result = app_.return_value
    assert result.saved
    # the key rated the newest tip at that moment (the file plays faster than real time, so
    # it may be a later one than `tip`): exactly one rated reply, a shown live tip
    rated = conn.execute(
        "SELECT r.reply_uuid FROM fretcoach.coach_replies r JOIN fretcoach.coach_ratings g "
        "USING (reply_uuid) WHERE r.session_id = %s AND g.rating = -1",
        (result.session_id,)).fetchall()
    assert len(rated) == 1
    row = replies.by_uuid(conn, str(rated[0][0]))
    assert row is not None and row.kind == "live" and row.text.strip()
    assert (row.prompt_name, row.prompt_version, row.rating) == ("live", "v2", -1)


# -- chat ---------------------------------------------------------------------------------

def _chat(user: str, args: list[str], input: str | None = None):
    return runner.invoke(app, ["--user", user, "chat", *args], input=input,
                         env={"FRETCOACH_LLM_PROVIDER": ""})


def test_chat_answers_are_stored_with_an_id_and_the_repl_rates_them(database, conn, user_id):
    seed(conn, user=user_id, sessions=5, notes_per_session=20, random_seed=3)
    once = _chat(user_id, ["-m", "what is my weakest area?", "--json"])
    assert once.exit_code == 0, once.output
    doc = json.loads(once.stdout)
    row = replies.get(conn, doc["reply_id"])
    assert (row.kind, row.text, row.source, row.thread_id) == (
        "chat", doc["answer"], "offline", doc["thread_id"])
    assert (row.prompt_name, row.prompt_version, row.rating) == ("chat", "v1", None)
    script = "/+\nhow was my last session\n/- it ignored my question\n/+ \n/exit\n"
    res = _chat(user_id, [], input=script)
    assert res.exit_code == 0, res.output
    assert "no answer to rate yet" in res.stdout  # /+ before any answer in this REPL
    last = replies.latest(conn, "chat")
    assert last is not None and last.reply_id != row.reply_id
    assert f"#{last.reply_id} (/+ /- to rate)" in res.stdout
    assert f"rated answer #{last.reply_id} -" in res.stdout
    assert (last.rating, last.comment) == (1, None)  # the second rating replaced the first
    assert replies.get(conn, row.reply_id).rating is None


def test_a_traced_chat_answer_records_its_trace_and_a_rating_reaches_it(
        monkeypatch, database, conn, user_id, fake_openai, fake_opik):
    from fretcoach_cli.chat.agent import ChatService, Done
    from fretcoach_cli.cli.rate import rate_reply

    monkeypatch.setenv("OPIK_URL_OVERRIDE", fake_opik.api_url)
    monkeypatch.setenv("OPIK_PROJECT_NAME", "fretcoach-tests")
    monkeypatch.setenv("OPIK_DEFAULT_FLUSH_TIMEOUT", "5")
    monkeypatch.delenv("OPIK_API_KEY", raising=False)
    settings = config.load().with_overrides(
        llm_provider="openai", llm_model="fake-1", llm_base_url=fake_openai.base_url,
        llm_retries=0, llm_timeout=10, llm_tool_mode="native")
    fake_openai.push("text", content="Keep going.")
    tracer = make_tracer("opik")
    with ChatService.open(database, settings, user=user_id, tracer=tracer) as chat:
        events = list(chat.ask("say something encouraging"))
    done = events[-1]
    assert isinstance(done, Done) and done.result.reply_id is not None
    row = replies.get(conn, done.result.reply_id)
    assert row.kind == "chat" and row.source == "fake-1" and row.trace_id
    assert fake_opik.wait_for(lambda _r: any(str(t.get("id")) == row.trace_id
                                             for t in fake_opik.traces()))
    sent = rate_reply(conn, str(row.reply_id), -1, "off topic", tracer=tracer)
    assert sent["sent_to_opik"] is True
    assert fake_opik.wait_for(lambda _r: any(
        s.get("id") == row.trace_id and s.get("value") == 0.0 and s.get("reason") == "off topic"
        for r in list(fake_opik.requests) if r.method == "PUT" and isinstance(r.body, dict)
        for s in r.body.get("scores", [])))


def test_coach_compare_plans_through_a_model_uses_each_prompt_version(
        monkeypatch, database, conn, user_id, fake_openai):
    seed(conn, user=user_id, sessions=4, notes_per_session=20, random_seed=5)
    plan = {"scale": "A blues", "focus_area": "pitch_accuracy",
            "reasoning": "Pitch averaged 4321.5.", "target_tempo_bpm": 72, "strictness": 0.4,
            "sensitivity": 0.5, "session_target": {"minutes": 10},
            "exercises": ["Hold each note for a beat", "Play it slowly"]}
    for _ in range(2):
        fake_openai.push("tool_call", arguments=plan)
    monkeypatch.setenv("FRETCOACH_LLM_PROVIDER", "openai")
    monkeypatch.setenv("FRETCOACH_LLM_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("FRETCOACH_LLM_MODEL", "gpt-plan")
    monkeypatch.setenv("FRETCOACH_LLM_API_KEY", "sk-test")
    out = runner.invoke(app, ["--user", user_id, "coach", "compare", "--prompt", "v1",
                              "--against", "1", "--kind", "plan", "--json"])
    assert out.exit_code == 0, out.output
    a, b = json.loads(out.stdout)["versions"]
    assert a["answered_by"] == b["answered_by"] == ["gpt-plan"]
    assert a["samples"][0]["text"].startswith("A blues — pitch accuracy, 72 BPM, 10 min")
    assert a["samples"][0]["ungrounded"] == ["4321.5"]  # the fake model's made-up figure
    systems = [r.body["messages"][0]["content"] for r in fake_openai.chat_requests()]
    assert systems == [load("plan", "v1").text] * 2
