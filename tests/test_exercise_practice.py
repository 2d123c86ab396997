"""`practice --exercise`: rendered takes with injected mistakes through the headless practice
room give exactly those verdicts (the same as `analyze --exercise`), the verdicts are stored
in PostgreSQL and read back, the live tracker decides notes as they come, and the TUI shows
the verdicts in the note feed and the next note on the fretboard."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audio_fixtures import NoteSpec, bench_module, render_clip
from fretcoach_cli import config
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import builtin
from fretcoach_cli.music.notes import note_name
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.practice.messages import ExerciseProgress
from fretcoach_cli.practice.recorder import SessionRecorder
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.store_sink import sink_factory
from fretcoach_cli.scoring.exercise import judge_exercise
from fretcoach_cli.scoring.exercise_live import ExerciseTracker
from fretcoach_cli.scoring.exercise_report import describe_stat, note_stats, weakest_notes
from fretcoach_cli.store import Sessions
from fretcoach_cli.store.exercise_verdicts import ExerciseVerdicts

AMP = "A minor pentatonic"
SCALE = parse_scale(AMP)
BPM = 100.0
SPB = 60.0 / BPM
EX = builtin("scale-run", SCALE)


def fc(*args: str, user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FRETCOACH_USER": user})


def story(verdicts: list[dict[str, Any]]) -> list[tuple[int | None, str]]:
    return [(v["index"], v["verdict"]) for v in verdicts if v["verdict"] != "hit"]


def mistakes_take(upto: int | None = None) -> Path:
    """scale-run at 100 bpm: note 4 a semitone sharp, note 7 skipped, note 11 40 ms late, an
    extra note (a fifth above note 14) half-way to note 15 — the take of
    test_exercises_audio.py, rendered the same way (the cache shares it)."""
    notes = []
    for i, n in enumerate(EX.notes[:upto]):
        t = 0.6 + n.beat * SPB
        if i == 6:
            continue
        if i == 10:
            t += 0.040
        notes.append(NoteSpec(t, 0.13 if i == 13 else 0.27, n.midi + (1 if i == 3 else 0)))
        if i == 13:
            notes.append(NoteSpec(t + 0.15, 0.13, n.midi + 7))
    path, _ = render_clip(notes, description="scale-run with four mistakes"
                          + (f" (first {upto})" if upto else ""))
    return path


# ------------------------------------------------------------------ headless, stored, = analyze


def test_practice_json_gives_the_injected_verdicts_stores_them_and_equals_analyze(
        database, conn, user_id) -> None:
    take = mistakes_take()
    out = fc("practice", "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}",
             "--input", str(take), "--fast", "--no-tui", "--json", "--no-coach", user=user_id)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    verdicts = doc["verdicts"]
    assert story(verdicts) == [(3, "wrong_pitch"), (6, "missed"), (10, "late"), (None, "extra")]
    assert [v["index"] for v in verdicts if v["index"] is not None] == list(range(len(EX.notes)))
    late = next(v for v in verdicts if v["index"] == 10)
    assert 32 <= late["offset_ms"] <= 48
    assert {"verdict", "offset_ms"} <= set(verdicts[0])
    assert doc["exercise_name"] == "scale-run" and doc["exercise_bpm"] == BPM

    # the same document as analyze --exercise --json (one function prints both)
    an = fc("analyze", str(take), "--exercise", "scale-run", "--scale", AMP, "--bpm",
            f"{BPM:g}", "--json", "--save", user=user_id)
    assert an.returncode == 0, an.stderr
    analysed = json.loads(an.stdout)
    assert analysed["verdicts"] == verdicts
    assert analysed["exercise"] == doc["exercise"]
    saved = [v.to_dict() for v in ExerciseVerdicts(conn).of_session(analysed["session_id"])]
    assert saved == verdicts  # analyze --save stores them as practice does

    # stored: one row per verdict, read back from PostgreSQL, scoped to the user
    row = Sessions(conn).require(doc["session_id"])
    assert (row.exercise_name, row.exercise_source, row.exercise_bpm) == (
        "scale-run", "built-in", BPM)
    stored = [v.to_dict() for v in ExerciseVerdicts(conn).of_session(doc["session_id"])]
    assert stored == verdicts
    with database.connect("someone-else") as other:
        assert ExerciseVerdicts(other).of_session(doc["session_id"]) == []

    # sessions show --json carries the per-note table and says what to work on
    shown = fc("sessions", "show", doc["session_id"][:8], "--json", user=user_id)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)["exercise"]
    assert detail["verdicts"] == verdicts
    assert detail["summary"] == doc["exercise"]["summary"]
    assert any("4th note" in line and "wrong pitch" in line for line in detail["work_on"])
    text = fc("sessions", "show", doc["session_id"][:8], user=user_id)
    assert "scale-run at 100 bpm: every note" in text.stdout and "late +" in text.stdout


def test_tempo_drift_through_practice(database, user_id, tmp_path: Path) -> None:
    sm = bench_module("string_model")
    drift = [max(0, i - 9) * 0.020 for i in range(len(EX.notes))]
    plucks = tuple(sm.Pluck(0.5 + n.beat * SPB + d, n.string, n.fret, hold=0.25)
                   for n, d in zip(EX.notes, drift, strict=True))
    path = tmp_path / "drift.flac"
    sm.write(path, sm.Scene(plucks, plucks[-1].onset + 1.0, seed=3))
    out = fc("practice", "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}",
             "--input", str(path), "--fast", "--no-tui", "--json", "--no-coach", user=user_id)
    assert out.returncode == 0, out.stderr
    verdicts = json.loads(out.stdout)["verdicts"]
    assert story(verdicts) == [(i, "late") for i, d in enumerate(drift) if d > 0.030]
    for v, d in zip(verdicts, drift, strict=True):
        assert v["offset_ms"] == pytest.approx(d * 1000, abs=10)


def test_a_clean_take_is_the_exercises_best_clean_tempo(database, conn, user_id) -> None:
    """Every note hit: the take's tempo is stored as the session's best clean tempo, which
    `stats` follows per exercise; a take with mistakes stores none."""
    notes = [NoteSpec(0.6 + n.beat * SPB, 0.27, n.midi) for n in EX.notes]
    clean, _ = render_clip(notes, description="scale-run, every note on time")
    ids = {}
    for name, take in (("clean", clean), ("sloppy", mistakes_take())):
        out = fc("practice", "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}",
                 "--input", str(take), "--fast", "--no-tui", "--json", "--no-coach",
                 user=user_id)
        assert out.returncode == 0, out.stderr
        ids[name] = json.loads(out.stdout)["session_id"]
    sessions = Sessions(conn)
    assert sessions.require(ids["clean"]).max_clean_bpm == BPM
    assert sessions.require(ids["sloppy"]).max_clean_bpm is None
    stats = fc("stats", "--json", user=user_id)
    assert stats.returncode == 0, stats.stderr
    rows = json.loads(stats.stdout)["clean_tempo"]["scales"]
    assert any(r.get("exercise") == "scale-run" and r["max_clean_bpm"] == BPM for r in rows), rows


def test_practice_exercise_bad_input(user_id, tmp_path: Path) -> None:
    take = tmp_path / "none.flac"
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-partwise>\n  <part>\n    <measure>\n  </part>\n", encoding="utf-8")
    for args, words in (
            (("--exercise", str(bad), "--bpm", "90"), f"{bad}:4:5: not well-formed XML"),
            (("--exercise", "scale-run", "--scale", AMP, "--bpm", "500"), "20–400"),
            (("--exercise", "scale-run", "--scale", AMP, "--bpm", "90", "--shape", "X"),
             "unknown CAGED shape")):
        out = fc("practice", *args, "--input", str(take), "--no-tui", user=user_id)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert words in out.stderr


# ------------------------------------------------------------------------ the live tracker


def _events(skip_late: bool = True) -> list[NoteEvent]:
    out = []
    for i, n in enumerate(EX.notes):
        t = 0.6 + n.beat * SPB
        if i == 6:
            continue
        if i == 10:
            t += 0.040
        out.append(NoteEvent(t, t + 0.2, n.midi + (1.02 if i == 3 else 0.02), 0.9))
        if i == 13:
            out.append(NoteEvent(t + 0.15, t + 0.25, n.midi + 7.0, 0.9))
    return out


def test_live_tracker_decides_each_note_soon_and_ends_as_judge_exercise() -> None:
    events = _events()
    tracker = ExerciseTracker(EX, bpm=BPM)
    window = 0.75 * SPB
    for e in events:
        update = tracker.add(e)
        for v in update.decided:  # never decided before the note could no longer change
            if v.index is not None:
                assert v.expected_s + window < e.onset_s
        # every expected note more than two pairing windows behind is decided already
        behind = [i for i, t in enumerate(EX.times_s(BPM)) if 0.6 + t + 2 * window < e.onset_s]
        assert {v.index for v in tracker.decided} >= set(behind)
    tracker.flush()
    final = judge_exercise(EX, events, bpm=BPM)
    assert [(v.index, v.verdict) for v in tracker.decided] == [
        (v.index, v.verdict) for v in final.verdicts]
    assert [v.offset_ms for v in tracker.decided] == pytest.approx(
        [v.offset_ms for v in final.verdicts], abs=0.01)


def test_live_tracker_points_at_the_next_note() -> None:
    tracker = ExerciseTracker(EX, bpm=BPM)
    assert tracker.next_indices() == (0, 1)
    events = _events()
    for e in events[:5]:  # notes 0–4 (note 3 wrong)
        update = tracker.add(e)
    assert update.next_indices == (5, 6)
    assert ExerciseTracker(EX, bpm=BPM).flush().decided == tuple(
        judge_exercise(EX, [], bpm=BPM).verdicts)


def test_weakest_notes_are_named_for_the_coach() -> None:
    late = [{"index": 3, "verdict": "late", "offset_ms": 30.0 + k * 10, "expected_midi": 50,
             "string": 3, "fret": 7} for k in range(2)]
    hits = [{"index": 0, "verdict": "hit", "offset_ms": 2.0, "expected_midi": 45,
             "string": 0, "fret": 5}] * 2
    stats = weakest_notes([*late, *hits])
    assert [s.index for s in stats] == [3]
    assert describe_stat(stats[0]) == ("your 4th note, D3 on the G string, fret 7, is late by "
                                       "35 ms on average")
    assert note_stats(hits)[0].misses == 0


# -------------------------------------------------------------------------------------- TUI


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        assert waited < timeout, "condition never became true"


async def test_tui_shows_verdicts_in_the_feed_and_the_next_note_on_the_neck(
        database, conn, user_id, tmp_path) -> None:
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.screens.summary import SummaryScreen
    from fretcoach_cli.tui.widgets import Fretboard, NoteFeed

    take = mistakes_take(upto=12)  # notes 0–11: a wrong pitch, a skip and a late note
    settings = config.load().with_overrides(user=user_id)
    options = PracticeOptions(scale=SCALE, user=user_id, bpm=BPM, source_kind="file",
                              source_label=take.name, exercise=EX)
    session = PracticeSession(options, FileSource(take, realtime=False),
                              recorder=SessionRecorder(sink_factory(settings), tmp_path))
    seen: list[ExerciseProgress] = []
    session.subscribe(lambda m: seen.append(m) if isinstance(m, ExerciseProgress) else None)
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, session.input_done.is_set)
        await pilot.pause()
        # decided as they came: each note once a pairing window (¾ beat) has passed
        await wait_until(pilot, lambda: len(app.exercise_verdicts) >= 9)
        feed, neck = app.query_one(NoteFeed), app.query_one(Fretboard)
        assert seen[0].next_indices == (0, 1)  # the first notes were lit before any was heard
        lines = [strip.text for strip in feed.lines]
        assert any("wrong pitch" in line for line in lines)
        skipped = note_name(EX.notes[6].midi)
        assert any("missed" in line and skipped in line for line in lines)
        assert sum("✓ hit" in line for line in lines) >= 5
        # the next note to play (note 12, then 13) is lit: ○ at its string and fret
        nxt = [(EX.notes[i].string, EX.notes[i].fret) for i in (12, 13)]
        assert neck.targets == tuple(nxt)
        drawn = neck.render().plain.splitlines()
        row = drawn[1 + (len(neck.tuning) - 1 - nxt[0][0])]  # strings drawn high e first
        frets = list(neck.shown)
        cell = 3 + 4 * frets.index(nxt[0][1]) + 1
        assert row[cell] == "○"
        await pilot.press("t")  # the speed trainer's key: not with an exercise (yet)
        await pilot.pause()
        assert session.trainer is None and not app.check_action("toggle_ramp", ())
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert neck.targets == ()  # the exercise is over: nothing left to play
        # the notes still open when the input ended are decided at the end: note 11 late
        lines = [strip.text for strip in feed.lines]
        assert any("late +" in line and note_name(EX.notes[10].midi) in line for line in lines)
        from rich.console import Console
        from textual.widgets import Static

        shown = Console(width=100, record=True, file=io.StringIO())
        shown.print(app.screen.query_one("#summary-exercise", Static).content)
        summary_text = shown.export_text()
        assert "scale-run at 100 bpm: every note" in summary_text
        assert "wrong pitch" in summary_text and "missed" in summary_text
        await pilot.press("q")
    result = app.return_value
    assert result.saved
    stored = ExerciseVerdicts(conn).of_session(result.session_id)
    assert [v.verdict for v in stored] == [v.verdict for v in result.extra["exercise"].verdicts]
    assert stored[6].verdict == "missed" and stored[3].verdict == "wrong_pitch"


# ------------------------------------------------------------------- the coach and recommend


def test_live_coach_names_the_weakest_note_by_its_place() -> None:
    from fretcoach_cli.practice.coach_link import CoachLink
    from fretcoach_cli.scoring.metrics import compute_metrics

    events = _events()
    tracker = ExerciseTracker(EX, bpm=BPM)
    for e in events:
        tracker.add(e)
    link = CoachLink()  # no settings: the offline coach
    reply = link(compute_metrics(events, SCALE), {
        "notes": events, "scale": SCALE, "exercise_verdicts": list(tracker.decided)})
    assert reply is not None
    source, tokens = reply
    text = "".join(tokens)
    late = EX.notes[10]
    assert source == "offline"
    assert text.startswith(f"Your 11th note, {note_name(late.midi)} on the ") and (
        f"fret {late.fret}, is late by 4" in text and "ms: start it right on the click" in text)


def test_closing_words_and_recommend_aim_at_the_weakest_note(database, conn, user_id) -> None:
    take = mistakes_take()
    ids = []
    for _ in range(2):
        out = fc("practice", "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}",
                 "--input", str(take), "--fast", "--no-tui", "--json", user=user_id)
        assert out.returncode == 0, out.stderr
        ids.append(json.loads(out.stdout)["session_id"])
    late = EX.notes[10]
    where = f"your 11th note, {note_name(late.midi)} on the"
    words = [r[0] for r in conn.execute(
        "SELECT text FROM fretcoach.coach_replies WHERE session_id = %s AND kind = 'summary'",
        (ids[1],)).fetchall()]
    assert len(words) == 1
    assert f"On scale-run (over your last 2 sessions of it): {where}" in words[0]
    assert "on average" in words[0]
    out = fc("recommend", "--json", user=user_id)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)["practice_plan"]
    step = next(s for s in plan["exercises"] if "--exercise scale-run" in s)
    assert f'--scale "{AMP}" --bpm 100' in step and where in step
    assert "watch notes 11, 4" in step


def test_noodling_before_the_exercise_is_decided_as_extra_and_not_kept_open() -> None:
    """Forty notes of warming up, then the exercise: the warm-up is decided (extra) as it
    comes, so the live alignment stays a small window; the end matches judge_exercise."""
    warm = [NoteEvent(0.2 + 0.1 * k, 0.25 + 0.1 * k, 64.0 + (k % 5), 0.9) for k in range(40)]
    start = 6.0
    events = warm + [NoteEvent(start + n.beat * SPB, start + n.beat * SPB + 0.2,
                               n.midi + 0.01, 0.9) for n in EX.notes]
    tracker = ExerciseTracker(EX, bpm=BPM)
    open_played = []
    for e in events:
        tracker.add(e)
        open_played.append(len(tracker.played) - tracker._p)
    assert max(open_played[len(warm) + 10:]) <= 6
    tracker.flush()
    final = judge_exercise(EX, events, bpm=BPM)
    assert [(v.index, v.verdict) for v in tracker.decided] == [
        (v.index, v.verdict) for v in final.verdicts]
    assert sum(v.verdict == "extra" for v in final.verdicts) == 40
    assert all(v.verdict == "hit" for v in final.verdicts if v.index is not None)


def test_a_skipped_first_note_still_starts_the_live_verdicts() -> None:
    events = _events()[1:]  # the opening note never played
    tracker = ExerciseTracker(EX, bpm=BPM)
    for e in events[:6]:
        tracker.add(e)
    assert tracker.decided and tracker.decided[0].index == 0
    assert tracker.decided[0].verdict == "missed"
    for e in events[6:]:
        tracker.add(e)
    tracker.flush()
    final = judge_exercise(EX, events, bpm=BPM)
    assert [(v.index, v.verdict) for v in tracker.decided] == [
        (v.index, v.verdict) for v in final.verdicts]


def test_an_exercise_file_brings_its_tuning(database, user_id, tmp_path: Path) -> None:
    tab = tmp_path / "dropd.tab"
    tab.write_text("bpm: 90\ntuning: drop-d\n\ne|----|\nB|----|\nG|----|\nD|----|\nA|----|\n"
                   "D|0-2-|\n", encoding="utf-8")
    clean = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
    out = fc("practice", "--exercise", str(tab), "--input", str(clean), "--fast", "--no-tui",
             "--json", "--no-coach", "--duration", "3s", user=user_id)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["tuning"] == "drop-d" and doc["exercise_bpm"] == 90
    assert [v["expected_midi"] for v in doc["verdicts"] if v["index"] is not None] == [38, 40]
    wrong = fc("practice", "--exercise", str(tab), "--tuning", "standard", "--input",
               str(clean), "--no-tui", user=user_id)
    assert wrong.returncode == 2
    assert "the exercise is written for Drop D (D A D G B E), not Standard" in wrong.stderr
