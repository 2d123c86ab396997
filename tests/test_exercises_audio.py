"""`analyze --exercise` on rendered recordings with injected mistakes: each mistake must come
back as exactly its verdict (and every other note as a hit).

Two renderers: fluidsynth (sampled guitar, tests/audio_fixtures.py) and the physical string
model (bench/string_model.py), which plays each note on the exercise's own string and fret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audio_fixtures import NoteSpec, bench_module, render_clip
from fretcoach_cli.music.exercises import builtin
from fretcoach_cli.music.scales import parse_scale
from fretcoach_cli.music.tab import read_tab

ROOT = Path(__file__).resolve().parents[1]
AMP = "A minor pentatonic"
BPM = 100.0
SPB = 60.0 / BPM


def fc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=300, env={**os.environ})


def analyze(path: Path, *args: str) -> dict[str, Any]:
    out = fc("analyze", str(path), *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def story(doc: dict[str, Any]) -> list[tuple[int | None, str]]:
    """The non-hit verdicts as (expected index, verdict)."""
    return [(v["index"], v["verdict"]) for v in doc["verdicts"] if v["verdict"] != "hit"]


def test_wrong_skipped_extra_and_late_notes() -> None:
    """Note 4 a semitone sharp, note 7 skipped, note 11 40 ms late, an extra note between
    notes 14 and 15 (a fifth above 14, half-way): those four verdicts and nothing else."""
    ex = builtin("scale-run", parse_scale(AMP))
    notes = []
    for i, n in enumerate(ex.notes):
        t = 0.6 + n.beat * SPB
        if i == 6:
            continue
        if i == 10:
            t += 0.040
        midi = n.midi + (1 if i == 3 else 0)
        notes.append(NoteSpec(t, 0.13 if i == 13 else 0.27, midi))
        if i == 13:
            notes.append(NoteSpec(t + 0.15, 0.13, n.midi + 7))
    path, _ = render_clip(notes, description="scale-run with four mistakes")
    doc = analyze(path, "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}")
    assert story(doc) == [(3, "wrong_pitch"), (6, "missed"), (10, "late"), (None, "extra")]
    verdicts = doc["verdicts"]
    assert [v["index"] for v in verdicts if v["index"] is not None] == list(range(len(ex.notes)))
    late = next(v for v in verdicts if v["index"] == 10)
    assert 32 <= late["offset_ms"] <= 48  # 40 ms, within the engine's ±8 ms onset grid
    assert all(abs(v["offset_ms"]) <= 12 for v in verdicts if v["verdict"] == "hit")
    assert doc["exercise"]["summary"]["hit"] == len(ex.notes) - 3
    assert {"verdict", "offset_ms"} <= set(verdicts[0])


def test_tempo_drift_on_the_physical_string_model(tmp_path: Path) -> None:
    """Steady for ten notes, then dragging 20 ms more every note (a player slowing down):
    the opening is all hits, every note more than 30 ms behind is late."""
    sm = bench_module("string_model")
    ex = builtin("scale-run", parse_scale(AMP))
    drift = [max(0, i - 9) * 0.020 for i in range(len(ex.notes))]
    plucks = tuple(sm.Pluck(0.5 + n.beat * SPB + d, n.string, n.fret, hold=0.25)
                   for n, d in zip(ex.notes, drift, strict=True))
    path = tmp_path / "drift.flac"
    sm.write(path, sm.Scene(plucks, plucks[-1].onset + 1.0, seed=3))
    doc = analyze(path, "--exercise", "scale-run", "--scale", AMP, "--bpm", f"{BPM:g}")
    assert story(doc) == [(i, "late") for i, d in enumerate(drift) if d > 0.030]
    for v, d in zip(doc["verdicts"], drift, strict=True):
        assert v["offset_ms"] == pytest.approx(d * 1000, abs=10)


def test_clean_take_of_a_tab_file_uses_its_tempo() -> None:
    """The example tab file, played cleanly at its own `bpm: 90`: no --bpm, no --scale."""
    path = ROOT / "examples" / "exercises" / "box1-lick.tab"
    ex = read_tab(path)
    assert ex.bpm == 90
    notes = [NoteSpec(0.5 + n.beat * 60 / 90, min(0.3, n.beats * 60 / 90 * 0.9), n.midi)
             for n in ex.notes]
    clip, _ = render_clip(notes, description="box1 lick, clean")
    doc = analyze(clip, "--exercise", str(path))
    assert story(doc) == []
    assert doc["exercise"]["bpm"] == 90
    assert len(doc["verdicts"]) == len(ex.notes)


# --------------------------------------------------------------------------------- bad input

CLEAN = ROOT / "examples" / "a_minor_pentatonic_clean.flac"


def _one_line(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("bpm", ["10", "401"])
def test_tempo_out_of_range(bpm: str) -> None:
    out = fc("analyze", str(CLEAN), "--exercise", "thirds", "--scale", AMP, "--bpm", bpm)
    assert out.returncode == 2
    assert "out of range" in _one_line(out) and "20–400" in _one_line(out)


def test_exercise_needs_a_tempo() -> None:
    out = fc("analyze", str(CLEAN), "--exercise", "thirds", "--scale", AMP)
    assert out.returncode == 2
    assert "needs a tempo" in _one_line(out)


def test_bad_tab_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tab"
    bad.write_text("bpm: 90\ne|---|\nB|---|\nG|-5-|\nD|---|\nA|--?|\nE|---|\n",
                   encoding="utf-8")
    out = fc("analyze", str(CLEAN), "--exercise", str(bad))
    assert out.returncode == 2
    assert f"{bad}:6:5: unexpected character '?'" in _one_line(out)


def test_exercise_outside_the_range() -> None:
    out = fc("analyze", str(CLEAN), "--exercise", "three-per-string", "--scale", "C major",
             "--position", "18", "--bpm", "90")
    assert out.returncode == 2
    assert "outside the instrument's range" in _one_line(out)
