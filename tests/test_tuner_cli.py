"""`fretcoach tune` headless: the real CLI on rendered held strings, its JSON, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fretcoach_cli.errors import ExitCode, UsageError
from test_tuner_material import RATE, chord, held_note, write_clip

# (midi, cents, hum Hz): every open string of standard tuning, some detuned
STRINGS = [(40, 0.0, 50.0), (45, -13.0, 60.0), (50, 7.0, 50.0), (55, 0.0, 60.0),
           (59, -13.0, 50.0), (64, 7.0, 60.0), (40, -120.0, 60.0), (45, 7.0, 50.0)]


def fc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("fretcoach: error: ")
    return lines[0]


def tune_json(path: Path, *extra: str) -> dict[str, Any]:
    """`fretcoach tune --input PATH --json` in this process (the same Typer app; the
    subprocess tests below cover the entry point, its exit codes and messages)."""
    from typer.testing import CliRunner

    from fretcoach_cli.cli.main import _register_commands, app

    if not any(c.name == "tune" for c in app.registered_commands):
        _register_commands()
    out = CliRunner().invoke(app, ["tune", "--input", str(path), "--json", *extra],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tuner")
    for midi, cents, hum in STRINGS:
        audio = held_note(midi, cents=cents, seconds=6.0, hum_hz=hum, seed=midi)
        write_clip(root / f"s{midi}{cents:+.0f}.flac", audio)
    write_clip(root / "silence.wav", np.zeros(RATE * 2, dtype=np.float32))
    write_clip(root / "chord.wav", chord([48, 52, 55]))
    write_clip(root / "flat150.wav", held_note(40, cents=-150.0, seconds=5.0))
    in_tune = [held_note(m, seconds=3.0, seed=m, hum_hz=None) for m in (40, 45, 50, 55, 59, 64)]
    write_clip(root / "all_in_tune.wav", np.concatenate(in_tune))
    return root


def test_tune_reads_every_open_string_within_a_cent(clips: Path) -> None:
    """The headless tuner's track, after each pluck's first 0.3 s: median error ≤ 1 cent,
    no octave (or note) error on any string, the string's verdict right."""
    for midi, cents, hum in STRINGS:
        doc = tune_json(clips / f"s{midi}{cents:+.0f}.flac")
        assert doc["version"] == 1 and doc["status"] == "ok" and doc["a4_hz"] == 440.0
        track = [e for e in doc["track"] if e["t"] >= 0.3 and e["state"] == "pitch"]
        assert len(track) >= 0.6 * len([e for e in doc["track"] if e["t"] >= 0.3])
        errors = np.array([(e["midi"] - (midi + cents / 100)) * 100 for e in track])
        name = next(s["name"] for s in doc["strings"] if s["target"] == midi)
        print(f"{name} {cents:+6.1f}¢ hum {hum:.0f} Hz: {len(track):3d} readings, "
              f"median {np.median(errors):+.2f}¢, "
              f"p90 |{np.percentile(np.abs(errors), 90):.2f}|"
              f"¢, max |{np.max(np.abs(errors)):.2f}|¢, octave errors "
              f"{int(np.sum(np.abs(errors) > 600))}")
        assert abs(float(np.median(errors))) <= 1.0, (midi, cents, np.median(errors))
        assert not np.any(np.abs(errors) > 50), (midi, cents, "octave/note errors")
        number = 6 - [40, 45, 50, 55, 59, 64].index(midi)
        verdict = next(s for s in doc["strings"] if s["string"] == number)
        assert verdict["heard_cents"] == pytest.approx(cents, abs=1.0)
        want = "in tune" if abs(cents) <= 3 else ("tighten" if cents < 0 else "loosen")
        assert verdict["verdict"] == want
        assert {e["string"] for e in track} == {number}


def test_json_shape_and_twenty_readings_a_second(clips: Path) -> None:
    doc = tune_json(clips / "s45-13.flac", "--tuning", "D A D G B E", "--a4", "442")
    assert doc["tuning"]["key"] == "drop-d" and doc["tuning"]["strings"][0] == 38
    assert doc["a4_hz"] == 442.0 and doc["guided"] is False
    assert doc["duration_s"] == pytest.approx(6.0, abs=0.01)
    times = [e["t"] for e in doc["track"]]
    assert np.allclose(np.diff(times), 0.05) and len(times) == pytest.approx(120, abs=1)
    assert set(doc["track"][0]) == {"t", "state", "midi", "cents", "note", "string",
                                    "offset_cents"}
    assert [s["name"] for s in doc["strings"]] == ["D2", "A2", "D3", "G3", "B3", "E4"]
    a2 = doc["strings"][1]
    # −13 cents against 440 is −20.8 against 442
    assert a2["heard_cents"] == pytest.approx(-13.0 - 1200 * np.log2(442 / 440), abs=1.0)


def test_silence_chord_and_a_far_flat_string(clips: Path) -> None:
    silence = tune_json(clips / "silence.wav")
    assert silence["status"] == "no pitch"
    assert {e["state"] for e in silence["track"]} == {"no pitch"}
    assert {s["verdict"] for s in silence["strings"]} == {"not played"}
    strum = tune_json(clips / "chord.wav")
    assert strum["status"] == "play one string"
    flat = tune_json(clips / "flat150.wav")
    low_e = flat["strings"][0]
    assert low_e["verdict"] == "tighten" and low_e["heard_cents"] == pytest.approx(-150, abs=1)
    out = fc("tune", "--input", str(clips / "chord.wav"), "--no-tui")
    assert out.returncode == 0 and "play one string" in out.stdout


def test_guided_walks_all_strings_in_tune(clips: Path) -> None:
    doc = tune_json(clips / "all_in_tune.wav", "--guided")
    assert doc["guided"] is True
    assert [s["verdict"] for s in doc["strings"]] == ["in tune"] * 6
    out = fc("tune", "--input", str(clips / "all_in_tune.wav"), "--no-tui")
    assert out.returncode == 0
    assert "6th string (E2)" in out.stdout and "in tune" in out.stdout


def test_errors_are_one_line_with_the_documented_codes(clips: Path, tmp_path: Path) -> None:
    good = str(clips / "silence.wav")
    out = fc("tune", "--tuning", "D A D G B H", "--input", good)
    assert out.returncode == ExitCode.USAGE and "'H' is not a note" in one_line_error(out)
    out = fc("tune", "--tuning", "dropp d", "--input", good)
    assert out.returncode == ExitCode.USAGE and "did you mean: drop-d" in one_line_error(out)
    out = fc("tune", "--a4", "450", "--input", good)
    assert out.returncode == ExitCode.USAGE and "432–446" in one_line_error(out)
    out = subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", "tune", "--input",
                          good], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "FRETCOACH_A4_HZ": "415"})
    assert out.returncode == ExitCode.USAGE and "configured a4_hz" in one_line_error(out)
    out = fc("tune", "--input", good, "--device", "1")
    assert out.returncode == ExitCode.USAGE and "not both" in one_line_error(out)
    out = fc("tune", "--json", "--device", "no-such-device-xyz")  # live, but nothing to hear
    assert out.returncode == ExitCode.AUDIO and "cannot listen" in one_line_error(out)
    missing = tmp_path / "nope.wav"
    out = fc("tune", "--input", str(missing))
    ref = fc("analyze", str(missing), "--scale", "A minor")
    assert out.returncode == ref.returncode == ExitCode.NOT_FOUND
    assert one_line_error(out) == one_line_error(ref)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)
    out = fc("tune", "--input", str(junk), "--json")
    ref = fc("analyze", str(junk), "--scale", "A minor")
    assert out.returncode == ref.returncode == ExitCode.AUDIO
    assert one_line_error(out) == one_line_error(ref)
    assert out.stdout == ""


def test_the_tuner_screen_plays_a_file_at_real_time_speed_and_headless_as_fast_as_possible(
        clips: Path) -> None:
    from fretcoach_cli import config
    from fretcoach_cli.cli.tune import open_source

    settings = config.load()
    for realtime in (True, False):
        source, label = open_source(settings, clips / "chord.wav", channel=None,
                                    realtime=realtime)
        try:
            assert source.realtime is realtime and label.endswith("chord.wav")
        finally:
            source.close()
    with pytest.raises(UsageError, match="channel 2 does not exist"):
        open_source(settings, clips / "chord.wav", channel=2, realtime=False)
