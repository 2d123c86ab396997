"""`practice --tuning`: the session stores the tuning it was played in; bad ones are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.music.tunings import parse_tuning
from fretcoach_cli.store import Sessions

_register_commands()
CLIP = Path(__file__).resolve().parent / "data" / "real_guitar" / "e4_ring.flac"


@pytest.mark.parametrize(("given", "stored"), [
    ("drop D", "drop-d"),
    ("D A D G B E", "drop-d"),  # a custom list equal to a named tuning is that name
    ("C G C F A D", "C2 G2 C3 F3 A3 D4"),
    ("standard", None),
])
def test_the_session_stores_its_tuning(conn, user_id, given, stored):
    played = CliRunner().invoke(app, ["--user", user_id, "practice", "--input", str(CLIP),
                                      "--fast", "--no-tui", "--json", "--no-coach",
                                      "--scale", "E minor", "--tuning", given])
    assert played.exit_code == 0, played.output
    row = json.loads(played.stdout)
    assert row["tuning"] == stored
    assert Sessions(conn).require(row["session_id"]).tuning == stored
    if stored is not None:  # it reads back as the same strings
        assert parse_tuning(stored).strings == parse_tuning(given).strings


def test_a_bad_tuning_is_one_line_before_anything_opens():
    out = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "practice",
                          "--scale", "E minor", "--input", str(CLIP), "--tuning", "H A D"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == ExitCode.USAGE
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stdout == ""


async def test_the_practice_room_fretboard_follows_the_tuning(tmp_path):
    """Drop D: the neck's low string is labelled D and the notes are placed on its strings
    (D2 is the open 6th string, not unplayable); the panel title names the tuning."""
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.live_view import MarkTrail
    from fretcoach_cli.tui.widgets.fretboard import Fretboard

    drop_d = parse_tuning("drop D")
    options = PracticeOptions(scale=parse_scale("D major"), user="tuning-test",
                              source_kind="file", source_label=CLIP.name, tuning=drop_d)
    session = PracticeSession(options, FileSource(CLIP, realtime=False), recorder=None)
    app = PracticeApp(session, coach=False, finish_on_end=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        board = app.query_one(Fretboard)
        assert board.tuning == drop_d.strings and board.names[0] == "D"
        text = board.render().plain.splitlines()
        assert text[6].startswith(" D ") and text[1].startswith(" E ")  # low D at the bottom
        assert app.query_one("#fretboard-panel").border_title == f"Fretboard · {drop_d.name}"
    trail = MarkTrail(tuning=drop_d.strings)
    from fretcoach_cli.tui.live_view import _place
    assert _place(38.0, None, trail.tuning) == (0, 0)  # D2: the open low string
    assert _place(38.0, None) is None  # not on a standard-tuned guitar


# --------------------------------------------------------------------------- the low range


def _low_string_clip(tmp_path: Path, cents: float) -> Path:
    """The physical string model's low E string tuned down ``cents``, held 4 s (0.5–4.5 s)."""
    from audio_fixtures import bench_module

    sm = bench_module("string_model")
    scene = sm.Scene((sm.Pluck(0.5, 0, 0, hold=4.0, cents=cents, velocity=0.85),),
                     total_s=5.5, seed=411, hiss_db=-80.0)
    path = tmp_path / f"low_{int(-cents)}.flac"
    sm.write(path, scene)
    return path


def test_the_lowest_pitch_follows_the_tuning_with_a_margin():
    from fretcoach_cli.audio.low_range import low_range
    from fretcoach_cli.audio.pitch import floor_hz
    from fretcoach_cli.audio.pitch.swift import FLOOR_HZ
    from fretcoach_cli.music.notes import midi_to_hz

    swift_f0 = pytest.importorskip("swift_f0.core")
    assert floor_hz("swift") == FLOOR_HZ == swift_f0.FMIN  # the model's own range
    standard, seven, drop_c = (low_range(parse_tuning(t)) for t in
                               ("standard", "7-string", "C G C F A D"))
    assert standard.floor_hz == pytest.approx(midi_to_hz(40 - 3))  # E2 less 3 semitones
    assert seven.floor_hz == pytest.approx(midi_to_hz(35 - 3))  # B1 less 3 semitones
    assert drop_c.floor_hz == pytest.approx(midi_to_hz(36 - 3))
    assert standard.notice is seven.notice is drop_c.notice is None
    bass = low_range(parse_tuning("bass"))
    assert bass.floor_hz == FLOOR_HZ and bass.lowest_string_hz == pytest.approx(41.2, abs=0.05)
    assert "E1" in bass.notice and "G1" in bass.notice and "unclear" in bass.notice
    five = low_range(parse_tuning("bass-5"))
    assert "B0 (30.9 Hz), E1 (41.2 Hz)" in five.notice


def test_a_low_b1_is_a_note_in_a_seven_string_tuning_only(tmp_path):
    """B1 (61.7 Hz) held 4 s: named B1 in 7-string tuning, live and offline alike; in
    standard tuning it is under the range (no B1 note); in the model's whole range (no
    tuning, as analyze) it is heard too."""
    from fretcoach_cli.audio.engine import Engine, analyze_file
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.events import NoteEvent

    clip = _low_string_clip(tmp_path, -500.0)
    seven = parse_tuning("7-string")
    engine = Engine(FileSource(clip), tuning=seven, tuner=True)
    events: list = []
    engine.subscribe(events.append)
    engine.run_sync()
    notes = [e for e in events if isinstance(e, NoteEvent)]
    assert [n.kind for n in engine.notes] == ["note"]
    assert abs(notes[0].onset_s - 0.5) <= 0.05 and abs(engine.notes[0].midi - 35.0) <= 0.05
    assert engine.notes[0].offset_s > 4.0
    assert analyze_file(clip, tuning=seven).notes == engine.notes
    assert analyze_file(clip).notes == engine.notes
    in_standard = analyze_file(clip, tuning=parse_tuning("standard")).notes
    assert not any(n.midi is not None and round(n.midi) == 35 for n in in_standard)


def test_a_bass_e1_under_the_models_floor_is_said_at_the_start_not_missed_silently(tmp_path):
    from fretcoach_cli.audio.engine import Engine
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.events import EngineFinished

    clip = _low_string_clip(tmp_path, -1200.0)  # E1, 41.2 Hz
    engine = Engine(FileSource(clip), tuning=parse_tuning("bass"))
    assert engine.low_range.notice and "E1" in engine.low_range.notice  # known before start
    events: list = []
    engine.subscribe(events.append)
    engine.run_sync()
    assert [n.kind for n in engine.notes] == ["unclear"]  # heard, but with no pitch
    finished = [e for e in events if isinstance(e, EngineFinished)]
    assert finished[0].extra["low_range"] == engine.low_range.notice
