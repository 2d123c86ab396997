"""`practice --exercise NAME --ramp`: the exercise loops on the click, pass by pass, and the
speed trainer's rules count passes instead of bars.

Takes are rendered with fluidsynth and played by a simulated player who follows the click:
pass by pass it asks an :class:`ExerciseLoop` (fed with the notes it plays) where the next
pass starts and at which tempo — exactly what the session's loop will decide from the notes
the engine hears in the rendered recording. Results are read back from PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audio_fixtures import NoteSpec, render_clip
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import Exercise, builtin
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.music.tab import read_tab
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.speed_trainer import TrainerOptions
from fretcoach_cli.scoring.exercise_loop import ExerciseLoop, bars_per_pass
from fretcoach_cli.scoring.ramp import RampSpec, TempoRamp
from fretcoach_cli.store import Sessions
from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

AMP = "A minor pentatonic"
LICK = """title: box lick
e|----------------|
B|----------------|
G|------------5-7-|
D|--------5-7-----|
A|----5-7---------|
E|5-8-------------|
"""  # eight eighth notes: one bar a pass


def lick(tmp_path: Path) -> tuple[Path, Exercise]:
    path = tmp_path / "lick.tab"
    path.write_text(LICK, encoding="utf-8")
    return path, read_tab(path)


# -- the simulated player ---------------------------------------------------------------
def loop_take(exercise: Exercise, spec: RampSpec, passes: int, *,
              wrong: int | None = None) -> tuple[list[NoteSpec], ExerciseLoop]:
    """``passes`` passes of ``exercise`` on the loop's click; with ``wrong``, that note of
    every pass is a semitone sharp. Returns the notes and the player's own loop."""
    ramp = TempoRamp(spec, unit="pass", unit_bars=bars_per_pass(exercise, 4))
    loop = ExerciseLoop(exercise, ramp)
    notes: list[NoteSpec] = []
    for k in range(passes):
        start, bpm = loop.start_s(k), loop.bpm(k)
        for i, n in enumerate(exercise.notes):
            t = start + n.beat * 60.0 / bpm
            midi = n.midi + (1 if i == wrong else 0)
            notes.append(NoteSpec(t, 0.8 * 30.0 / bpm, midi))
            loop.add(NoteEvent(t, t + 0.2, midi + 0.01, 0.9))
    loop.flush(notes[-1].offset + 1.0)
    return notes, loop


def fc(*args: str, user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user,
                           *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ})


def practise(take: Path, exercise: str, ramp: str, user: str, *extra: str
             ) -> tuple[dict[str, Any], str]:
    out = fc("practice", "--exercise", exercise, "--ramp", ramp, "--input", str(take),
             "--fast", "--no-tui", "--json", "--no-coach", "--no-click", *extra, user=user)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out.stderr


# -- the loop core (pure) ---------------------------------------------------------------
def test_passes_are_bar_aligned_and_seamless(tmp_path: Path) -> None:
    scale = parse_scale(AMP)
    run = builtin("scale-run", scale)  # 23 eighths, the last on beat 11: 3 bars a pass
    assert bars_per_pass(run, 4) == 3
    _path, ex = lick(tmp_path)
    assert bars_per_pass(ex, 4) == 1
    loop = ExerciseLoop(run, TempoRamp(RampSpec(100, 120, 4), unit="pass", unit_bars=3))
    assert loop.start_s(0) == pytest.approx(2.4)  # after one count-in bar at 100 bpm
    assert loop.start_s(1) == pytest.approx(2.4 + 3 * 2.4)  # the bar line after beat 11
    # a late last note stays in its pass, an early first note goes to the next
    last = loop.start_s(0) + 11 * 0.6
    assert loop.pass_of(last + 0.1) == 0 and loop.pass_of(loop.start_s(1) - 0.1) == 1
    assert loop.pass_of(1.0) is None  # the count-in
    with pytest.raises(ValueError):  # the ramp's unit has to be a pass
        ExerciseLoop(run, TempoRamp(RampSpec(100, 120, 4)))


def test_a_pass_cut_off_by_the_end_is_reported_but_never_settled(tmp_path: Path) -> None:
    _path, ex = lick(tmp_path)
    loop = ExerciseLoop(ex, TempoRamp(RampSpec(80, 92, 4), unit="pass"))
    events = []
    for k in range(3):  # two whole passes, then the first five notes of the third
        for n in ex.notes[:5] if k == 2 else ex.notes:
            t = loop.start_s(k) + n.beat * 0.75
            events.append(NoteEvent(t, t + 0.2, n.midi + 0.01, 0.9))
            update = loop.add(events[-1])
    assert update.pass_index == 2 and update.next_indices == (5, 6)
    end = events[-1].offset_s + 0.1
    loop.flush(end)
    assert [(p.bpm, p.clean) for p in loop.ramp.curve] == [(80, True), (80, True)]
    passes = loop.judge(events, end)
    assert [(p.index, p.complete, p.clean) for p in passes] == [
        (0, True, True), (1, True, True), (2, False, False)]
    assert passes[2].result.counts()["missed"] == 3
    done = ExerciseLoop(ex, TempoRamp(RampSpec(80, 92, 4), unit="pass"))
    for e in events[:8]:  # the last note of a pass played: the next pass's first ones next
        update = done.add(e)
    assert update.next_indices == (0, 1)


def test_the_unit_rules_are_the_ramps_own() -> None:
    """Bars and passes settle through one method: two clean units raise the tempo from the
    unit after the one it was decided in, two sloppy ones lower it, an empty one breaks both
    runs, never below the start nor above the target."""
    ramp = TempoRamp(RampSpec(80, 88, 4), unit="pass", unit_bars=2)
    assert ramp.settle(0, True, decided_in=1) is None
    change = ramp.settle(1, True, decided_in=2)
    assert change is not None and change.bar == 6 and change.bpm == 84
    assert ramp.unit_start(3) == pytest.approx(3.0 + 6 * 3.0)  # bars of 3 s at 80 bpm
    assert ramp.settle(2, True, decided_in=3) is None  # played while the change was coming
    assert ramp.settle(3, None, decided_in=4) is None  # empty: breaks the run
    assert ramp.settle(4, False, decided_in=5) is None
    change = ramp.settle(5, False, decided_in=6)
    assert change is not None and change.bpm == 80 and change.reason == "sloppy"
    assert [p.clean for p in ramp.curve] == [True, True, True, None, False, False]
    with pytest.raises(ValueError):
        ramp.feed(4.0, True)  # notes are judged bar by bar only when the unit is a bar


# -- rendered takes through the engine and PostgreSQL -----------------------------------
def test_a_clean_looped_take_rises_pass_by_pass_to_the_target(
        database, conn, user_id: str, tmp_path: Path) -> None:
    path, ex = lick(tmp_path)
    spec = RampSpec(80, 92, 4)
    notes, sim = loop_take(ex, spec, 12)
    predicted = [p.bpm for p in sim.ramp.curve]
    assert predicted == [80, 80, 80, 84, 84, 84, 88, 88, 88, 92, 92, 92]
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="box lick looped 12 times on an 80:92:+4 ramp")
    doc, err = practise(take, str(path), "80:92:+4", user_id)

    assert [p["bpm"] for p in doc["tempo_curve"]] == predicted  # one point a pass
    assert all(p["clean"] for p in doc["tempo_curve"])
    passes = doc["passes"]
    assert [(p["pass"], p["bpm"], p["clean"]) for p in passes] == [
        (k + 1, bpm, True) for k, bpm in enumerate(predicted)]
    assert all(len(p["verdicts"]) == 8 and {v["verdict"] for v in p["verdicts"]} == {"hit"}
               for p in passes)
    assert passes[3]["start_s"] == pytest.approx(sim.start_s(3), abs=1e-3)
    assert doc["max_clean_bpm"] == 92 and doc["ramp"] == "80:92:+4"
    assert doc["best_pass"] == 10  # the first pass at 92 bpm, all clean
    assert doc["verdicts"] == passes[9]["verdicts"]
    assert doc["exercise"]["bpm"] == 92
    assert "tempo 80 → 84 bpm (clean passes)" in err and "pass 3 at 80 bpm: clean" in err

    row = Sessions(conn).require(doc["session_id"])  # read back from PostgreSQL
    assert (row.max_clean_bpm, row.ramp, row.exercise_bpm) == (92, "80:92:+4", 92)
    assert row.tempo_curve is not None and [p["bpm"] for p in row.tempo_curve] == predicted
    stored = [v.to_dict() for v in ExerciseVerdicts(conn).of_session(doc["session_id"])]
    assert stored == passes[9]["verdicts"]

    show = fc("sessions", "show", doc["session_id"][:8], user=user_id)
    assert show.returncode == 0, show.stderr
    text = show.stdout.replace("\n", " ")
    assert "speed trainer 80:92:+4: best clean tempo 92 bpm, reached 92 bpm, 12 of 12 " \
        "passes clean" in text, show.stdout
    assert "exercise box lick at 92 bpm (pass 10, the fastest clean one): every note" in text
    shown = fc("sessions", "show", doc["session_id"][:8], "--json", user=user_id)
    detail = json.loads(shown.stdout)
    assert detail["exercise"]["verdicts"] == stored and detail["exercise"]["bpm"] == 92


def test_a_wrong_note_in_every_pass_falls_back(database, conn, user_id: str,
                                               tmp_path: Path) -> None:
    """The fourth note a semitone sharp in every pass: never clean, so the tempo never rises
    (and a take that rose first falls back to the start)."""
    path, ex = lick(tmp_path)
    notes, sim = loop_take(ex, RampSpec(80, 92, 4), 6, wrong=3)
    assert [p.bpm for p in sim.ramp.curve] == [80] * 6
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="box lick looped 6 times, note 4 sharp every pass")
    doc, err = practise(take, str(path), "80:92:+4", user_id, "--clean-bars", "1")
    assert [p["bpm"] for p in doc["tempo_curve"]] == [80] * 6
    assert [p["clean"] for p in doc["tempo_curve"]] == [False] * 6
    for p in doc["passes"]:
        assert [(v["index"], v["verdict"]) for v in p["verdicts"]
                if v["verdict"] != "hit"] == [(3, "wrong_pitch")]
    assert doc["max_clean_bpm"] is None and doc["best_pass"] == 6  # no clean one: the last
    assert "pass 2 at 80 bpm: sloppy" in err and "tempo" not in err.split("pass 2")[0]
    row = Sessions(conn).require(doc["session_id"])
    assert row.max_clean_bpm is None
    stored = ExerciseVerdicts(conn).of_session(doc["session_id"])
    assert [v.to_dict() for v in stored] == doc["passes"][-1]["verdicts"]
    show = fc("sessions", "show", doc["session_id"][:8], user=user_id)
    text = " ".join(show.stdout.split())
    assert "(no clean pass: the last one played through): every note" in text, show.stdout
    assert "0 of 6 passes clean" in text


def test_a_take_that_turns_sloppy_falls_back_a_step(database, user_id: str,
                                                    tmp_path: Path) -> None:
    path, ex = lick(tmp_path)
    spec = RampSpec(80, 92, 4, clean_bars=1)
    loop = ExerciseLoop(ex, TempoRamp(spec, unit="pass"))
    notes: list[NoteSpec] = []
    for k in range(9):  # clean passes 0–2, then note 6 sharp in every pass
        start, bpm = loop.start_s(k), loop.bpm(k)
        for i, n in enumerate(ex.notes):
            t = start + n.beat * 60.0 / bpm
            midi = n.midi + (1 if k >= 3 and i == 5 else 0)
            notes.append(NoteSpec(t, 24.0 / bpm, midi))
            loop.add(NoteEvent(t, t + 0.2, midi + 0.01, 0.9))
    loop.flush(notes[-1].offset + 1.0)
    predicted = [p.bpm for p in loop.ramp.curve]
    # a rise after each clean pass (--clean-bars 1), the pass played meanwhile not counted;
    # then two sloppy passes at 88 bring it back to 84
    assert predicted == [80, 80, 84, 84, 88, 88, 88, 84, 84]
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="box lick: 3 clean passes then a wrong note each pass")
    doc, err = practise(take, str(path), "80:92:+4", user_id, "--clean-bars", "1")
    assert [p["bpm"] for p in doc["tempo_curve"]][:len(predicted)] == predicted
    assert "tempo 88 → 84 bpm (sloppy passes)" in err
    assert [p["clean"] for p in doc["passes"]] == [True] * 3 + [False] * 6
    assert doc["max_clean_bpm"] == 84 and doc["best_pass"] == 3  # the fastest clean pass
    # the headless summary: a row a pass, the stored one named, the ramp in passes
    out = fc("practice", "--exercise", str(path), "--ramp", "80:92:+4", "--clean-bars", "1",
             "--input", str(take), "--fast", "--no-tui", "--no-coach", "--no-click",
             user=user_id)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "9 passes, 3 clean" in text
    assert "box lick pass 3 at 84 bpm (fastest clean pass, the one stored): every note" in text
    assert "best clean tempo 84 bpm, reached 88 bpm, 3 of 9 passes clean" in text


def test_a_builtin_exercise_loops_on_its_bars(database, conn, user_id: str) -> None:
    """arpeggios (20 eighths, the last on beat 9.5): three bars a pass."""
    ex = builtin("arpeggios", parse_scale(AMP))
    spec = RampSpec(100, 108, 4, clean_bars=1)
    notes, sim = loop_take(ex, spec, 5)
    predicted = [p.bpm for p in sim.ramp.curve]
    assert predicted == [100, 100, 104, 104, 108]
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="arpeggios looped 5 times on a 100:108:+4 ramp")
    doc, _err = practise(take, "arpeggios", "100:108:+4", user_id, "--scale", AMP,
                         "--clean-bars", "1")
    assert [p["bpm"] for p in doc["tempo_curve"]] == predicted
    assert [p["t"] for p in doc["tempo_curve"]] == pytest.approx(
        [sim.start_s(k) for k in range(5)], abs=1e-3)
    assert sim.start_s(1) - sim.start_s(0) == pytest.approx(3 * 2.4)  # three bars
    assert [len(p["verdicts"]) for p in doc["passes"]] == [20] * 5
    assert all(p["clean"] for p in doc["passes"]) and doc["max_clean_bpm"] == 108
    assert Sessions(conn).require(doc["session_id"]).exercise_name == "arpeggios"


@pytest.mark.parametrize(("args", "words"), [
    (("--exercise", "scale-run", "--scale", AMP, "--ramp", "80:140:-4"), "never reaches 140"),
    (("--exercise", "scale-run", "--scale", AMP, "--ramp", "140:80:+4"), "above the start"),
    (("--exercise", "scale-run", "--scale", AMP, "--bpm", "90", "--ramp", "80:140:+4"),
     "differs from the ramp's start"),
    (("--exercise", "scale-run", "--scale", AMP, "--ramp", "80:140:+4", "--clean-bars", "0"),
     "--clean-bars 0 is out of range"),
])
def test_bad_combinations_exit_2_with_one_line(args: tuple[str, ...], words: str,
                                               user_id: str, tmp_path: Path) -> None:
    out = fc("practice", *args, "--input", str(tmp_path / "none.flac"), "--no-tui",
             user=user_id)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert words in out.stderr.splitlines()[0]


def test_an_exercise_file_with_no_notes_exits_2(user_id: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.tab"
    empty.write_text("title: nothing\ne|----|\nB|----|\nG|----|\nD|----|\nA|----|\nE|----|\n",
                     encoding="utf-8")
    out = fc("practice", "--exercise", str(empty), "--ramp", "80:100:+4", "--input",
             str(tmp_path / "none.flac"), "--no-tui", user=user_id)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"fretcoach: error: {empty}:7:1: no notes in the tab"]


# -- the practice room ------------------------------------------------------------------
async def test_the_room_shows_the_pass_its_tempo_and_its_verdicts(
        user_id: str, tmp_path: Path) -> None:
    from rich.console import Console
    from textual.widgets import Static

    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.screens.summary import SummaryScreen
    from fretcoach_cli.tui.widgets.header import SessionHeader
    from fretcoach_cli.tui.widgets.speed import SpeedMeter

    _path, ex = lick(tmp_path)
    spec = RampSpec(80, 92, 4)
    notes, _sim = loop_take(ex, spec, 12)
    take, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="box lick looped 12 times on an 80:92:+4 ramp")
    options = PracticeOptions(scale=parse_scale(AMP), user=user_id, source_kind="file",
                              exercise=ex, trainer=TrainerOptions(spec, click=False))
    session = PracticeSession(options, FileSource(take, realtime=False))
    session.tuner_pane = False
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        meter = app.query_one(SpeedMeter)
        seen: set[tuple[int | None, float]] = set()
        marks: set[tuple[str, ...]] = set()
        waited = 0.0
        while not session.input_done.is_set() or meter.bpm != 92:
            seen.add((meter.pass_number, meter.bpm))
            marks.add(meter.verdicts)
            await pilot.pause(0.02)
            waited += 0.02
            assert waited < 60, "the ramp never reached its target on screen"
        await pilot.pause()
        assert len({n for n, _ in seen if n}) >= 3  # the pass number moved on
        assert {80, 92} <= {b for _, b in seen} | {meter.bpm}
        # the current pass's verdicts as they are decided: only hits
        assert {v for m in marks for v in m} == {"hit"} and max(map(len, marks)) >= 3
        meter.verdicts = ("hit", "hit", "missed")
        shown = meter.render().plain
        assert f"pass {meter.pass_number} ♩ 92→92" in shown and "✓✓✗" in shown
        # the click has gone on into the pass after the last one played
        assert meter.pass_number == 13 and meter.best_clean_bpm == 92
        assert app.query_one(SessionHeader).bpm == 92
        await pilot.press("t")  # the ramp can be held with an exercise too
        assert session.trainer.ramp.active is False and "held" in meter.render().plain
        await pilot.press("q")  # the summary: one row a pass, the stored pass named
        waited = 0.0
        while not isinstance(app.screen, SummaryScreen):
            await pilot.pause(0.05)
            waited += 0.05
            assert waited < 60, "the summary never came"
        text = io.StringIO()
        console = Console(width=100, file=text)
        console.print(app.screen.query_one("#summary-passes", Static).content)
        console.print(app.screen.query_one("#summary-exercise", Static).content)
        shown = " ".join(text.getvalue().split())
        assert "12 passes, 12 clean" in shown
        assert "box lick pass 10 at 92 bpm (fastest clean pass, the one stored)" in shown
        await pilot.press("q")
