"""The speed trainer (`practice --ramp`): the ramp core, the click's samples, bad options, and
rendered takes played at the ramp's own tempi through the real engine and PostgreSQL.

A take is made by a simulated player who follows the click: bar by bar it asks a
:class:`TempoRamp` (fed with the notes it plays) for the next bar's tempo, exactly as the
session's ramp will decide from the notes the engine hears in the rendered recording.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audio_fixtures import NoteSpec, render_clip
from fretcoach_cli.audio.click import (
    SAMPLE_RATE,
    block_clicks,
    click_wave,
    output_available,
    render_clicks,
)
from fretcoach_cli.audio.sources import FileSource
from fretcoach_cli.errors import UsageError
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.music.tempo import parse_ramp
from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
from fretcoach_cli.practice.speed_trainer import TrainerOptions
from fretcoach_cli.scoring.ramp import RampSpec, TempoRamp
from fretcoach_cli.store import Sessions
from fretcoach_cli.tui.app import PracticeApp
from fretcoach_cli.tui.widgets.speed import SpeedMeter

AMP = "A minor pentatonic"
RUN = (57, 60, 62, 64, 67, 69, 72, 74, 76, 74, 72, 69, 67, 64, 62, 60)  # up and down


# -- the simulated player ---------------------------------------------------------------
def ramp_take(spec: RampSpec, bars: int, *, jitter_from: int | None = None,
              wrong_from: int | None = None) -> tuple[list[NoteSpec], TempoRamp]:
    """Quarter notes of the scale run, following the ramp; from bar ``jitter_from`` every
    note is 60 ms off the grid (late, early, late, …), from bar ``wrong_from`` the second note
    of each bar is a semitone sharp (out of the scale)."""
    ramp = TempoRamp(spec)
    notes: list[NoteSpec] = []
    n = 0
    for bar in range(bars):
        start, bpm = ramp.map.bar_start(bar), ramp.map.bpm_of_bar(bar)
        beat = 60.0 / bpm
        for i in range(4):
            t = start + i * beat
            if jitter_from is not None and bar >= jitter_from:
                t += 0.060 if i % 2 == 0 else -0.060
            wrong = wrong_from is not None and bar >= wrong_from and i == 1
            notes.append(NoteSpec(t, 0.8 * beat, RUN[n % len(RUN)] + (1 if wrong else 0)))
            n += 1
            ramp.feed(t, not wrong)
    return notes, ramp


def fc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=300, env={**os.environ})


def practise(path: Path, user: str, ramp: str, *extra: str) -> tuple[dict[str, Any], str]:
    out = fc("--user", user, "practice", "--scale", AMP, "--ramp", ramp, "--input", str(path),
             "--fast", "--no-tui", "--json", "--no-coach", *extra)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out.stderr


# -- the ramp core (pure) ---------------------------------------------------------------
def test_clean_bars_raise_the_tempo_at_bar_lines_up_to_the_target() -> None:
    spec = RampSpec(80, 92, 4)
    _notes, ramp = ramp_take(spec, 14)
    bpms = [p.bpm for p in ramp.curve]
    assert bpms[:3] == [80, 80, 80] and bpms[3:6] == [84, 84, 84]
    assert bpms[6:9] == [88, 88, 88] and set(bpms[9:]) == {92}
    assert ramp.best_clean_bpm == 92 and ramp.current_bpm == 92  # never above the target
    # the change lands on a bar line: bar 3 starts where bar 2 (at 80 bpm) ends
    assert ramp.map.bar_start(3) == pytest.approx(ramp.map.bar_start(2) + 3.0)
    assert ramp.origin_s == pytest.approx(3.0)  # one count-in bar at 80 bpm


def test_sloppy_bars_fall_back_but_never_below_the_start() -> None:
    _notes, ramp = ramp_take(RampSpec(80, 140, 5), 16, jitter_from=6)
    bpms = [p.bpm for p in ramp.curve]
    assert max(bpms) == 90 and bpms[-1] == 80
    assert ramp.best_clean_bpm == 85  # 90 was never held clean
    assert [p.clean for p in ramp.curve][6:] == [False] * (len(bpms) - 6)


def test_count_in_notes_empty_bars_and_a_locked_bar() -> None:
    ramp = TempoRamp(RampSpec(120, 160, 8, count_in_bars=2))
    assert ramp.origin_s == pytest.approx(4.0)
    assert ramp.feed(1.0, True) == [] and ramp.curve == []  # during the count-in
    for bar in range(2):
        for i in range(4):
            ramp.feed(4.0 + bar * 2.0 + i * 0.5, True)
    ramp.lock_until(9.9)  # the click has begun bar 2 and 3 … bar 3 runs 10.0–12.0
    ramp.lock_until(10.5)
    changes = ramp.feed(8.0, True)  # bar 2's first note closes bar 1
    assert len(changes) == 1 and changes[0].bar == 4  # not 3: the click is playing it
    assert changes[0].at_s == pytest.approx(12.0) and changes[0].bpm == 128
    ramp.feed(12.0, True)  # bars 2 and 3 close (bar 3 empty); bar 4 is the first at 128
    assert [(p.bpm, p.clean) for p in ramp.curve] == [(120, True), (120, True), (120, True),
                                                      (120, None)]
    assert ramp.map.bar_start(5) == pytest.approx(12.0 + 4 * 60 / 128)


def test_one_timing_judgement_of_onsets() -> None:
    ramp = TempoRamp(RampSpec(100, 120, 4))  # beat 0.6 s, eighths 0.3 s, origin 2.4 s
    assert ramp.judge(2.4 + 0.3 + 0.029, True)[1:] == (pytest.approx(29.0), True)
    assert ramp.judge(2.4 + 0.3 - 0.031, True)[2] is False
    assert ramp.judge(2.4 + 0.6, False)[2] is False  # on time, wrong note
    bar, offset, _ok = ramp.judge(2.4 + 2.4 - 0.02, True)  # just before bar 1's downbeat
    assert bar == 1 and offset == pytest.approx(-20.0)


# -- options ----------------------------------------------------------------------------
@pytest.mark.parametrize(("ramp", "bpm", "words"), [
    ("140:80:+4", None, "must be above the start"),
    ("80:140:-4", None, "never reaches 140"),
    ("80:140:0", None, "never reaches 140"),
    ("80:500:+4", None, "target 500 bpm is out of range"),
    ("10:140:+4", None, "start 10 bpm is out of range"),
    ("fast", None, "cannot read"),
    ("80:140", None, "START:TARGET:STEP"),
    ("80:140:+4", 90.0, "differs from the ramp's start"),
])
def test_a_ramp_that_cannot_be_reached_is_refused(ramp: str, bpm: float | None,
                                                  words: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_ramp(ramp, start_bpm=bpm)
    assert words in err.value.message


def test_ramp_spellings() -> None:
    assert parse_ramp("80:140:+4") == (80, 140, 4)
    assert parse_ramp("140:4", start_bpm=80) == (80, 140, 4)


@pytest.mark.parametrize("args", [
    ["--ramp", "80:140:-4"],
    ["--ramp", "80:401:+4"],
    ["--bpm", "80", "--clean-bars", "3"],
    ["--ramp", "80:140:+4", "--click-volume", "1.5"],
    ["--ramp", "80:140:+4", "--clean-bars", "0"],
    ["--no-click"],
])
def test_bad_speed_options_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    out = fc("practice", "--scale", AMP, "--input", str(tmp_path / "none.flac"), "--no-tui",
             *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) <= 2 and "Traceback" not in out.stderr  # the error (and its hint)
    assert lines[0].startswith("fretcoach: ") or "error" in lines[0].lower()


# -- the click --------------------------------------------------------------------------
def test_click_samples_are_on_the_grid_with_an_accented_downbeat() -> None:
    ramp = TempoRamp(RampSpec(120, 140, 4))
    beats = ramp.map.beats(0.0, 4.0)  # count-in bar then bar 0, every 0.5 s
    assert [t for t, _ in beats] == pytest.approx([0.5 * i for i in range(8)])
    assert [a for _, a in beats] == [True, False, False, False] * 2
    sr = SAMPLE_RATE
    buf = render_clicks(beats, 0.0, 4 * sr, sr, volume=0.8)
    for t, accent in beats:
        at = round(t * sr)
        assert buf[at - 1] == 0.0 if at else True  # silence right before each click
        peak = float(np.max(np.abs(buf[at:at + 400])))
        assert peak == pytest.approx(0.8 if accent else 0.4, rel=0.05)
    assert np.count_nonzero(buf) < 8 * len(click_wave(sr, accent=True, volume=1.0))
    # blocks of any size, joined, are the same signal (the output stream's view)
    joined = np.concatenate([block_clicks(ramp.map.beats, s / sr, 512, sr, volume=0.8)
                             for s in range(0, 4 * sr, 512)])[:4 * sr]
    assert np.allclose(joined, buf, atol=1e-6)
    assert not render_clicks(beats, 0.0, sr, sr, volume=0.0).any()


def test_the_output_callback_continues_the_clock_and_locks_played_bars() -> None:
    """What the sounddevice stream's callback writes (no sound card needed to call it)."""
    from fretcoach_cli.audio.click import ClickPlayer

    ramp = TempoRamp(RampSpec(120, 140, 4))
    player = ClickPlayer(ramp.map.beats, volume=0.8, on_block=ramp.lock_until)
    sr = SAMPLE_RATE
    blocks = []
    for _ in range(2 * sr // 1024 + 2):  # through the count-in into bar 0
        out = np.zeros((1024, 1), dtype=np.float32)
        player._callback(out, 1024, None, None)
        blocks.append(out[:, 0])
    got = np.concatenate(blocks)
    want = render_clicks(ramp.map.beats(0.0, len(got) / sr), 0.0, len(got), sr, volume=0.8)
    assert np.allclose(got, want, atol=1e-6)
    assert ramp._locked_bar == 0  # bar 0 has begun: a late decision cannot change it


# -- rendered takes through the engine and PostgreSQL -----------------------------------
def test_a_clean_take_ramps_to_the_target_and_is_stored(database, conn, user_id: str) -> None:
    spec = RampSpec(80, 100, 5)
    notes, sim = ramp_take(spec, 16)
    path, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="clean take following an 80:100:+5 ramp")
    doc, err = practise(path, user_id, "80:100:+5")
    assert doc["ramp"] == "80:100:+5" and doc["max_clean_bpm"] == 100
    curve = doc["tempo_curve"]
    assert [p["bpm"] for p in curve][:15] == [p.bpm for p in sim.curve]
    assert all(p["clean"] for p in curve)
    # timing is judged against the ramp's own bars, so the tempo changes cost nothing
    assert doc["mean_abs_grid_dev_ms"] <= 15 and doc["timing_stability"] >= 90
    silent = not output_available()[0]
    assert err.count("the click is silent") == (1 if silent else 0)

    row = Sessions(conn).require(doc["session_id"])  # read back from PostgreSQL
    assert row.max_clean_bpm == 100 and row.ramp == "80:100:+5"
    assert row.tempo_curve is not None and len(row.tempo_curve) == len(curve)
    assert row.tempo_curve[3] == {"t": pytest.approx(sim.curve[3].t_s, abs=1e-3),
                                  "bpm": 85, "clean": True}

    show = fc("--user", user_id, "sessions", "show", doc["session_id"][:8])
    assert "speed trainer 80:100:+5: best clean tempo 100 bpm, reached 100 bpm" in \
        show.stdout.replace("\n", " "), show.stdout
    hist = fc("--user", user_id, "history", "--json")
    assert hist.returncode == 0, hist.stderr
    assert json.loads(hist.stdout)["sessions"][0]["max_clean_bpm"] == 100
    stats = fc("--user", user_id, "stats", "--json", "--by", "day")
    tempo = json.loads(stats.stdout)["clean_tempo"]
    assert tempo["period"] == "day"
    assert [(s["scale"], s["exercise"], s["max_clean_bpm"], s["sessions"])
            for s in tempo["scales"]] == [(AMP, None, 100, 1)]
    table = fc("--user", user_id, "stats", "--no-charts")
    assert "best clean tempo" in table.stdout and "100" in table.stdout
    plan = fc("--user", user_id, "recommend", "--json")
    assert plan.returncode == 0, plan.stderr
    body = json.loads(plan.stdout)
    text = json.dumps(body)
    assert "You held 100 bpm clean; start at 96, ramp to 108." in text
    assert "--ramp 96:108:+4" in text


@pytest.mark.parametrize("mistake", ["jitter", "wrong"])
def test_a_sloppy_take_falls_back(database, conn, user_id: str, mistake: str) -> None:
    spec = RampSpec(80, 140, 5)
    kw = {"jitter_from": 6} if mistake == "jitter" else {"wrong_from": 6}
    notes, sim = ramp_take(spec, 15, **kw)  # type: ignore[arg-type]
    path, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description=f"80:140:+5 take, {mistake} from bar 6")
    doc, err = practise(path, user_id, "80:140:+5", "--no-click")
    bpms = [p["bpm"] for p in doc["tempo_curve"]]
    assert bpms[:len(sim.curve)] == [p.bpm for p in sim.curve]
    assert max(bpms) == 90 and bpms[-1] == 80  # up twice, then back to the start
    assert doc["max_clean_bpm"] == 85
    assert "tempo 90 → 85 bpm (sloppy bars)" in err and "the click is silent" not in err
    assert Sessions(conn).require(doc["session_id"]).max_clean_bpm == 85


async def test_the_tempo_widget_follows_the_ramp(user_id: str) -> None:
    spec = RampSpec(80, 100, 5)
    notes, _sim = ramp_take(spec, 16)
    path, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="clean take following an 80:100:+5 ramp")
    options = PracticeOptions(scale=parse_scale(AMP), user=user_id, source_kind="file",
                              trainer=TrainerOptions(spec, click=False))
    session = PracticeSession(options, FileSource(path, realtime=False))
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        meter = app.query_one(SpeedMeter)
        assert meter.bpm == 80 and meter.best_clean_bpm is None
        seen: set[float] = set()
        waited = 0.0
        while not session.input_done.is_set() or meter.bpm != 100:
            seen.add(meter.bpm)
            await pilot.pause(0.02)
            waited += 0.02
            assert waited < 60, "the ramp never reached its target on screen"
        await pilot.pause()
        assert {80, 100} <= seen | {meter.bpm} and len(seen) >= 2  # it moved, step by step
        assert meter.best_clean_bpm is not None and meter.best_clean_bpm >= 95
        assert len(meter.curve) >= 12
        assert "♩ 100" in meter.render().plain
        from fretcoach_cli.tui.widgets.header import SessionHeader

        assert app.query_one(SessionHeader).bpm == 100  # the header's tempo is the ramp's
        await pilot.press("t")
        assert session.trainer.ramp.active is False and "held" in meter.render().plain
    session.abandon()  # after the app has closed: nothing is left to tell


def test_best_clean_tempo_over_time_per_scale_and_exercise(database, conn, user_id: str) -> None:
    from fretcoach_cli.coach.plans import offline_plan, recommendation_input
    from fretcoach_cli.reports.filters import build_filter
    from fretcoach_cli.reports.tempo import clean_tempo

    rows = [("2026-03-02 18:00+00", AMP, None, 88.0), ("2026-03-04 18:00+00", AMP, None, 96.0),
            ("2026-03-10 18:00+00", AMP, None, 92.0), ("2026-03-11 18:00+00", AMP,
                                                       "scale-run", 120.0),
            ("2026-03-12 18:00+00", "E minor pentatonic", None, None)]
    for start, scale, exercise, best in rows:
        conn.execute(
            """INSERT INTO fretcoach.sessions (user_id, start_time, duration_seconds,
                   scale_chosen, total_notes_played, status, exercise_name, ramp, max_clean_bpm,
                   timing_stability)
               VALUES (current_setting('fretcoach.user_id'), %s, 300, %s, 100, 'completed',
                       %s, '80:140:+4', %s, 80)""", (start, scale, exercise, best))
    conn.commit()
    flt = build_filter(since="2026-03-01", until="2026-03-31", timezone="UTC")
    weekly = clean_tempo(conn, flt, period="week")
    assert [(s.scale, s.exercise, s.max_clean_bpm, s.sessions) for s in weekly.scales] == [
        (AMP, None, 96, 3), (AMP, "scale-run", 120, 1)]
    assert [(p.key, p.max_clean_bpm, p.sessions) for p in weekly.scales[0].points] == [
        ("2026-W10", 96, 2), ("2026-W11", 92, 1)]
    daily = clean_tempo(conn, flt, period="day").scales[0].points
    assert [p.key for p in daily] == ["2026-03-02", "2026-03-04", "2026-03-10"]
    with pytest.raises(ValueError):
        clean_tempo(conn, flt, period="year")
    out = fc("--user", user_id, "stats", "--no-charts", "--since", "2026-03-01", "--until",
             "2026-03-31")
    assert out.returncode == 0, out.stderr
    assert "best clean tempo (speed trainer), by week" in out.stdout
    assert "2026-W10 96  2026-W11 92" in out.stdout
    assert "A minor pentatonic · scale-run" in out.stdout
    # recommend: the best held in the recent sessions of the scale it picks
    from fretcoach_cli.store import Sessions

    plan = offline_plan(recommendation_input(Sessions(conn).list(limit=20)),
                        avoid=["E minor pentatonic"])
    assert plan.scale == AMP and plan.target_tempo_bpm == 116
    assert "You held 120 bpm clean; start at 116, ramp to 128." in plan.reasoning


async def test_t_starts_a_ramp_in_a_bpm_session_from_the_next_bar(user_id: str) -> None:
    from fretcoach_cli.practice.speed_trainer import default_options
    from fretcoach_cli.tui.widgets import Metronome

    assert default_options(380).ramp.target_bpm == 400
    assert default_options(80).ramp.text == "80:120:+4"
    notes, _sim = ramp_take(RampSpec(80, 100, 5), 16)
    path, _ = render_clip(notes, total_s=notes[-1].offset + 1.0,
                          description="clean take following an 80:100:+5 ramp")
    options = PracticeOptions(scale=parse_scale(AMP), user=user_id, source_kind="file", bpm=80)
    session = PracticeSession(options, FileSource(path, realtime=True))
    session.tuner_pane = False
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        waited = 0.0
        while session.engine is None or session.position_s < 0.3:
            await pilot.pause(0.02)
            waited += 0.02
            assert waited < 30, "the session never started"
        assert session.trainer is None and not app.query(SpeedMeter)
        await pilot.press("t")
        await pilot.pause()
        trainer = session.trainer
        assert trainer is not None and trainer.ramp.origin_s == pytest.approx(3.0)
        assert session.options.grid is trainer.ramp.map and session.options.bpm is None
        meter = app.query_one(SpeedMeter)
        assert "♩ 80→120" in meter.render().plain
        assert app.query_one(Metronome).display is False
        await pilot.press("t")
        assert trainer.ramp.active is False and "held" in meter.render().plain
    session.abandon()  # after the app has closed: nothing is left to tell
