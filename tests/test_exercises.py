"""Exercises without audio: the built-in generators, the tab format (parser, writer, errors)
and the alignment that gives every expected note a verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import (
    BUILTINS,
    builtin,
    exercise_scale,
    load,
    position_notes,
)
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.music.tab import TabError, parse_tab, write_tab
from fretcoach_cli.scoring.exercise import judge_exercise

ROOT = Path(__file__).resolve().parents[1]
AMP = parse_scale("A minor pentatonic")


def fc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ})


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("fretcoach: error: ")
    return lines[0]


# ------------------------------------------------------------------------------- generators


def test_box_one_of_a_minor_pentatonic() -> None:
    # the familiar box at fret 5: two notes per string, B string 5 and 8
    pool = position_notes(AMP, 5)
    assert [(s, f) for _, s, f in pool] == [(0, 5), (0, 8), (1, 5), (1, 7), (2, 5), (2, 7),
                                            (3, 5), (3, 7), (4, 5), (4, 8), (5, 5), (5, 8)]
    assert [m % 12 for m, _, _ in pool] == [9, 0, 2, 4, 7, 9, 0, 2, 4, 7, 9, 0]


@pytest.mark.parametrize("scale", ["A minor pentatonic", "Bb dorian", "E major", "F# blues",
                                   "C 1 b2 3 #4 5 b7"])
@pytest.mark.parametrize("spec", BUILTINS, ids=lambda b: b.name)
def test_every_builtin_is_playable_and_in_the_scale(scale: str, spec) -> None:
    sc = parse_scale(scale)
    ex = builtin(spec.name, sc)
    assert len(ex.notes) >= 8
    for n in ex.notes:
        assert ex.tuning[n.string] + n.fret == n.midi  # string/fret give the pitch
        assert 0 <= n.fret <= 22
        assert sc.contains(n.midi % 12)
    beats = [n.beat for n in ex.notes]
    assert beats == sorted(beats) and len(set(beats)) == len(beats)


def test_sequences_follow_their_pattern() -> None:
    pool = [m for m, _, _ in position_notes(AMP, 5)]
    thirds = [n.midi for n in builtin("thirds", AMP).notes]
    assert thirds[:6] == [pool[0], pool[2], pool[1], pool[3], pool[2], pool[4]]
    fours = [n.midi for n in builtin("groups-of-4", AMP).notes]
    assert fours[:8] == pool[0:4] + pool[1:5]
    run = [n.midi for n in builtin("scale-run", AMP).notes]
    assert run == pool + pool[-2::-1]
    three = builtin("three-per-string", parse_scale("G major"), position=3).notes
    assert [sum(1 for n in three[:18] if n.string == s) for s in range(6)] == [3] * 6
    arps = [n.midi for n in builtin("arpeggios", parse_scale("C major"), position=8).notes]
    assert arps[:4] == [48, 52, 55, 52]  # C E G E: the I chord first


def test_out_of_range_exercise_is_one_line_error() -> None:
    with pytest.raises(UsageError, match="outside the instrument's range"):
        builtin("three-per-string", parse_scale("C major"), position=18)
    with pytest.raises(UsageError, match="outside the neck"):
        builtin("scale-run", AMP, position=30)


# ------------------------------------------------------------------------------------- tab

LICK = """\
# a lick in box 1
title: box one lick
bpm: 90

e|-----------------|
B|-----------------|
G|---------5-7-----|
D|-----5-7-----7---|
A|-5-7-------------|
E|-----------------|
"""


def test_tab_parses_pitch_string_fret_and_beat() -> None:
    ex = parse_tab(LICK)
    assert ex.name == "box one lick" and ex.bpm == 90
    assert [(n.midi, n.string, n.fret, n.beat) for n in ex.notes] == [
        (50, 1, 5, 0.25), (52, 1, 7, 0.75), (55, 2, 5, 1.25), (57, 2, 7, 1.75),
        (60, 3, 5, 2.25), (62, 3, 7, 2.75), (57, 2, 7, 3.25)]


def test_bar_lines_take_no_time_and_staves_follow_each_other() -> None:
    text = "e|--|--|\nB|--|--|\nG|--|--|\nD|--|--|\nA|--|--|\nE|5-|-7|\n\n" \
           "e|----|\nB|----|\nG|----|\nD|----|\nA|----|\nE|--8-|\n"
    ex = parse_tab(text)
    assert [n.beat for n in ex.notes] == [0.0, 0.75, 1.5]


def test_written_tab_reads_back() -> None:
    for name in ("thirds", "three-per-string", "arpeggios"):
        ex = builtin(name, parse_scale("Bb dorian"))
        back = parse_tab(write_tab(ex))
        assert [(n.midi, n.string, n.fret, n.beat) for n in back.notes] == \
            [(n.midi, n.string, n.fret, n.beat) for n in ex.notes]


@pytest.mark.parametrize(("text", "line", "col", "what"), [
    ("e|--|\nB|--|\nG|--|\nD|--|\nA|-q|\nE|--|\n", 5, 4, "unexpected character 'q'"),
    ("e|--|\nB|--|\nG|--|\nD|5-|\nA|5-|\nE|--|\n", 5, 3, "two notes at the same time"),
    ("e|--|\nB|--|\nG|--|\nD|--|\nA|--|\n", 1, 1, "a staff has 5 lines"),
    ("e|--|\nB|--|\nG|--|\nD|---|\nA|--|\nE|--|\n", 1, 1, "different lengths"),
    ("e|--|\nB|--|\nG|--|\nA|--|\nD|--|\nE|--|\n", 4, 1, "string label 'A' does not match"),
    ("e|--|\nB|--|\nG|--|\nD|--|\nA|--|\nE|-25|\n", 6, 4, "fret 25 is outside"),
    ("title: x\nspeed: 3\n", 2, 1, "unknown header 'speed'"),
    ("e|--|\nB|--|\nhello\n", 3, 1, "expected a tab line"),
    ("bpm: 500\ne|--|\nB|--|\nG|--|\nD|--|\nA|--|\nE|-5|\n", 1, 1, "bpm '500'"),
    ("# nothing\n", 1, 1, "no notes"),
])
def test_tab_errors_name_line_and_column(text: str, line: int, col: int, what: str) -> None:
    with pytest.raises(TabError) as err:
        parse_tab(text, source="lick.tab")
    assert (err.value.line, err.value.col) == (line, col)
    assert err.value.one_line().startswith(f"lick.tab:{line}:{col}: ")
    assert what in err.value.one_line()


def test_exercise_file_implies_its_scale(tmp_path: Path) -> None:
    path = tmp_path / "lick.tab"
    path.write_text(LICK, encoding="utf-8")
    ex = load(str(path), None)
    implied = exercise_scale(ex)  # its own notes, rooted on the first one
    assert implied.root_name == "D"
    assert set(implied.pitch_classes) == {n.midi % 12 for n in ex.notes}


# -------------------------------------------------------------------------------- alignment


def _events(ex, bpm: float, *, start: float = 1.0, wrong=(), skip=(), late=None, extra=(),
            drift_ms=None) -> list[NoteEvent]:
    late = late or {}
    out = []
    for i, n in enumerate(ex.notes):
        if i in skip:
            continue
        t = start + n.beat * 60 / bpm + late.get(i, 0) / 1000
        if drift_ms is not None:
            t += drift_ms(i) / 1000
        out.append(NoteEvent(t, t + 0.2, float(n.midi + (1 if i in wrong else 0)), 0.9))
        if i in extra:
            out.append(NoteEvent(t + 0.15, t + 0.25, float(n.midi + 7), 0.9))
    return sorted(out, key=lambda e: e.onset_s)


def _story(result) -> list[tuple[int | None, str]]:
    return [(v.index, v.verdict) for v in result.verdicts if v.verdict != "hit"]


def test_clean_take_is_all_hits() -> None:
    ex = builtin("thirds", AMP)
    r = judge_exercise(ex, _events(ex, 120, start=2.345), bpm=120)
    assert _story(r) == []
    assert r.origin_s == pytest.approx(2.345)


def test_each_mistake_gets_exactly_its_verdict() -> None:
    ex = builtin("scale-run", AMP)
    events = _events(ex, 100, wrong={3}, skip={6}, late={10: 40, 16: -45}, extra={13})
    r = judge_exercise(ex, events, bpm=100)
    assert _story(r) == [(3, "wrong_pitch"), (6, "missed"), (10, "late"), (None, "extra"),
                         (16, "early")]
    by_index = {v.index: v for v in r.verdicts}
    assert by_index[10].offset_ms == pytest.approx(40, abs=0.5)
    assert by_index[16].offset_ms == pytest.approx(-45, abs=0.5)
    assert len([v for v in r.verdicts if v.index is not None]) == len(ex.notes)


def test_repeated_note_is_one_hit_and_one_extra() -> None:
    ex = builtin("scale-run", AMP)
    events = _events(ex, 90)
    dup = events[4]
    events.insert(5, NoteEvent(dup.onset_s + 0.12, dup.onset_s + 0.2, dup.midi, 0.9))
    r = judge_exercise(ex, events, bpm=90)
    assert _story(r) == [(None, "extra")]


def test_tempo_drift_shows_as_late_notes_after_a_steady_start() -> None:
    ex = builtin("scale-run", AMP)
    drift = lambda i: max(0, i - 9) * 20.0  # noqa: E731  (dragging 20 ms more every note)
    r = judge_exercise(ex, _events(ex, 100, drift_ms=drift), bpm=100)
    expected = [(i, "late") for i in range(len(ex.notes)) if drift(i) > 30]
    assert _story(r) == expected
    assert r.origin_s == pytest.approx(1.0, abs=0.002)


def test_tempo_outside_range_is_refused() -> None:
    ex = builtin("scale-run", AMP)
    with pytest.raises(UsageError, match="tempo 10 bpm is out of range"):
        judge_exercise(ex, [], bpm=10)


# -------------------------------------------------------------------------------------- CLI


def test_exercises_json_lists_names_and_descriptions() -> None:
    out = fc("exercises", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == [b.name for b in BUILTINS] + [
        f"caged-{k}" for k in "CAGED"]
    assert all(r["description"] for r in rows)


def test_exercises_show_prints_tab_that_reads_back() -> None:
    out = fc("exercises", "show", "groups-of-4", "--scale", "A minor pentatonic")
    assert out.returncode == 0, out.stderr
    back = parse_tab(out.stdout)
    ex = builtin("groups-of-4", AMP)
    assert [n.midi for n in back.notes] == [n.midi for n in ex.notes]


def test_example_tab_files_parse() -> None:
    files = sorted((ROOT / "examples" / "exercises").glob("*.tab"))
    assert files
    for path in files:
        out = fc("exercises", "show", str(path), "--json")
        assert out.returncode == 0, (path, out.stderr)
        assert json.loads(out.stdout)["notes"]


def test_cli_bad_tab_is_line_and_column_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.tab"
    path.write_text("e|--|\nB|--|\nG|--|\nD|--|\nA|-q|\nE|--|\n", encoding="utf-8")
    out = fc("exercises", "show", str(path))
    assert out.returncode == 2
    assert f"{path}:5:4: unexpected character 'q'" in one_line_error(out)


def test_cli_out_of_range_exercise(tmp_path: Path) -> None:
    out = fc("exercises", "show", "three-per-string", "--scale", "C major", "--position", "18")
    assert out.returncode == 2
    assert "outside the instrument's range" in one_line_error(out)


def test_practice_exercise_needs_a_tempo() -> None:
    out = fc("practice", "--exercise", "thirds", "--scale", "A minor pentatonic", "--no-tui")
    assert out.returncode == 2
    assert "--exercise needs a tempo" in one_line_error(out)


# ------------------------------------------------------------------------------ Guitar Pro


def _gp5(path: Path, notes: list[list[tuple[int, int]]], tempo: int = 96) -> Path:
    """Write a GP5 file with PyGuitarPro: one beat (eighth note) per list of (string, fret),
    strings numbered as Guitar Pro does (1 = high e)."""
    try:
        import guitarpro as gp
    except ImportError:
        pytest.fail("PyGuitarPro is needed: pip install pyguitarpro", pytrace=False)
    song = gp.Song()
    song.tempo = tempo
    song.title = "gp lick"
    voice = song.tracks[0].measures[0].voices[0]
    for chord in notes:
        beat = gp.Beat(voice, duration=gp.Duration(value=8), status=gp.BeatStatus.normal)
        for string, fret in chord:
            beat.notes.append(gp.Note(beat, value=fret, string=string, type=gp.NoteType.normal))
        voice.beats.append(beat)
    gp.write(song, str(path))
    return path


def test_guitar_pro_file_is_an_exercise(tmp_path: Path) -> None:
    path = _gp5(tmp_path / "lick.gp5", [[(6, 5)], [(6, 8)], [(5, 5)], [(5, 7)], [(4, 5)]])
    out = fc("exercises", "show", str(path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["name"] == "gp lick" and doc["bpm"] == 96
    assert [(n["midi"], n["string"], n["fret"], n["beat"]) for n in doc["notes"]] == [
        (45, 0, 5, 0.0), (48, 0, 8, 0.5), (50, 1, 5, 1.0), (52, 1, 7, 1.5), (55, 2, 5, 2.0)]


def test_guitar_pro_chord_is_refused_with_its_place(tmp_path: Path) -> None:
    path = _gp5(tmp_path / "chord.gp5", [[(6, 5)], [(5, 7), (4, 7)]])
    out = fc("exercises", "show", str(path))
    assert out.returncode == 2
    assert "measure 1, beat 2: a chord" in one_line_error(out)


def test_guitar_pro_garbage_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.gp5"
    path.write_bytes(b"not a guitar pro file at all")
    out = fc("exercises", "show", str(path))
    assert out.returncode == 2
    assert "cannot read Guitar Pro file" in one_line_error(out)


def test_unknown_exercise_suggests_a_close_name() -> None:
    with pytest.raises(UsageError, match="did you mean: thirds"):
        load("third", AMP)
    with pytest.raises(UsageError, match="built-ins: scale-run"):
        load("zzz", AMP)
