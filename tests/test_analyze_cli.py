"""`fretcoach analyze`: real recordings through the real engine, JSON shape, --save, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from fretcoach_cli.errors import ExitCode

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CLEAN = EXAMPLES / "a_minor_pentatonic_clean.flac"


def fc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("fretcoach: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def clean_json() -> dict[str, Any]:
    out = fc("analyze", str(CLEAN), "--scale", "A minor pentatonic", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_json_shape_is_the_documented_one(clean_json: dict[str, Any]) -> None:
    doc = clean_json
    assert doc["version"] == 1
    assert doc["scale"]["name"] == "A minor pentatonic"
    assert doc["scale"]["notes"] == ["A", "C", "D", "E", "G"]
    assert doc["pitch_model"] == "swift"
    note_keys = {"onset_s", "offset_s", "midi", "cents", "pitch_class", "note", "kind",
                 "in_scale", "in_tune", "degree", "grid_offset_ms", "confidence"}
    assert doc["notes"] and all(set(n) == note_keys for n in doc["notes"])
    for key in ("pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing",
                "overall_score", "in_scale_ratio", "mean_abs_cents", "ioi_cv",
                "weakest_area", "total_notes_played", "per_degree", "worst_notes"):
        assert key in doc["metrics"], key


def test_clean_example_matches_its_ground_truth(clean_json: dict[str, Any]) -> None:
    truth = json.loads((EXAMPLES / "a_minor_pentatonic_clean.truth.json").read_text())
    notes = [n for n in clean_json["notes"] if n["kind"] == "note"]
    true_notes = truth["notes"]
    # every true note is found once, at the right time and pitch (50 ms, 50 cents)
    matched = 0
    used: set[int] = set()
    for t in true_notes:
        for i, n in enumerate(notes):
            if i in used:
                continue
            if abs(n["onset_s"] - t["onset_s"]) <= 0.05 and abs(n["midi"] - t["midi"]) <= 0.5:
                used.add(i)
                matched += 1
                break
    precision = matched / len(notes)
    recall = matched / len(true_notes)
    assert recall >= 0.95 and precision >= 0.95, (matched, len(notes), len(true_notes))
    true_ratio = sum(t["in_scale"] for t in true_notes) / len(true_notes)
    assert abs(clean_json["metrics"]["in_scale_ratio"] - true_ratio) <= 0.03
    # the deliberately wrong notes are reported as out of the scale
    wrong = {round(t["midi"]) for t in true_notes if not t["in_scale"]}
    reported = {round(n["midi"]) for n in notes if not n["in_scale"]}
    assert wrong <= reported


def test_rich_summary_names_weakest_area_and_worst_notes() -> None:
    out = fc("analyze", str(CLEAN), "--scale", "A minor pentatonic", "--bpm", "90")
    assert out.returncode == 0, out.stderr
    assert "weakest" in out.stdout
    assert "per scale degree" in out.stdout
    assert "notes to look at" in out.stdout
    assert "outside the scale" in out.stdout


def test_save_stores_a_completed_session_with_its_notes(database: Any, user_id: str) -> None:
    from fretcoach_cli.store import Sessions

    out = fc("--user", user_id, "analyze", str(CLEAN), "--scale", "am pent", "--save", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    with database.connect(user_id) as conn:
        sessions = Sessions(conn)
        row = sessions.get(doc["session_id"])
        assert row is not None
        assert row.status == "completed"
        assert row.scale_chosen == "A minor pentatonic"
        assert row.input_source == f"file:{CLEAN}"
        assert row.total_notes_played == doc["metrics"]["total_notes_played"]
        assert row.pitch_accuracy == pytest.approx(doc["metrics"]["pitch_accuracy"], abs=0.01)
        stored = sessions.notes(doc["session_id"])
        assert len(stored) == len(doc["notes"])


def test_unknown_scale_suggests_close_matches() -> None:
    out = fc("analyze", str(CLEAN), "--scale", "A minor pentatnic")
    assert out.returncode == ExitCode.USAGE
    assert "did you mean" in one_line_error(out)


def test_missing_file_is_not_found() -> None:
    out = fc("analyze", "/nonexistent/take.wav", "--scale", "E major")
    assert out.returncode == ExitCode.NOT_FOUND
    one_line_error(out)


@pytest.mark.parametrize("content", [b"", b"this is not audio at all\n" * 50,
                                     b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_corrupt_or_non_audio_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "take.wav"
    bad.write_bytes(content)
    out = fc("analyze", str(bad), "--scale", "E major")
    assert out.returncode == ExitCode.AUDIO
    one_line_error(out)


def test_truncated_flac(tmp_path: Path) -> None:
    cut = tmp_path / "cut.flac"
    cut.write_bytes(CLEAN.read_bytes()[:5000])
    out = fc("analyze", str(cut), "--scale", "A minor pentatonic")
    assert out.returncode in (ExitCode.AUDIO, ExitCode.NO_NOTES)
    one_line_error(out)


@pytest.mark.parametrize("samples", [0, 1])
def test_zero_and_one_sample_audio(tmp_path: Path, samples: int) -> None:
    path = tmp_path / "tiny.wav"
    sf.write(path, np.zeros(samples, dtype="float32"), 44100)
    out = fc("analyze", str(path), "--scale", "E major")
    assert out.returncode in (ExitCode.AUDIO, ExitCode.NO_NOTES)
    one_line_error(out)


def test_silence_and_noise_give_an_honest_no_notes(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(44100 * 2, dtype="float32"), 44100)
    out = fc("analyze", str(silent), "--scale", "E major")
    assert out.returncode == ExitCode.NO_NOTES
    assert "no notes detected" in one_line_error(out)
    noise = tmp_path / "noise.wav"
    rng = np.random.default_rng(7)
    sf.write(noise, (0.1 * rng.standard_normal(44100 * 3)).astype("float32"), 44100)
    out = fc("analyze", str(noise), "--scale", "E major", "--json")
    assert out.returncode == ExitCode.NO_NOTES, out.stdout[:500]
    assert out.stdout == ""
    one_line_error(out)


def test_chord_only_recording_is_not_a_single_note(tmp_path: Path) -> None:
    audio, rate = sf.read(EXAMPLES / "chord_strum.flac")
    chords_only = tmp_path / "chords.flac"
    sf.write(chords_only, audio[: int(10.0 * rate)], rate)  # the strums, before the lone E4
    out = fc("analyze", str(chords_only), "--scale", "G major")
    assert out.returncode == ExitCode.NO_NOTES
    assert "chord" in one_line_error(out)


def test_a_recording_of_chords_is_not_scored_on_a_stray_note() -> None:
    """8 strums and one lone note (a note or two guessed inside strums): too few single
    notes to score; the one line says what was found."""
    out = fc("analyze", str(EXAMPLES / "chord_strum.flac"), "--scale", "G major", "--json")
    assert out.returncode == ExitCode.NO_NOTES
    assert out.stdout == ""
    line = one_line_error(out)
    assert "onsets were chords/double stops" in line and "too few to score" in line


def test_chords_among_notes_are_said_and_the_single_notes_still_scored(tmp_path: Path) -> None:
    """A scale run with strums after it: the file is not refused (polyphonic-looking onsets,
    e.g. strings ringing in sympathy, must never cost the player the whole score); the single
    notes are scored and one stderr line says how many chords were left out."""
    run, rate = sf.read(CLEAN)
    strums, rate2 = sf.read(EXAMPLES / "chord_strum.flac")
    assert rate == rate2
    mixed = tmp_path / "run_then_strums.flac"
    sf.write(mixed, np.concatenate([run, strums[: int(10.0 * rate)]]), rate)
    out = fc("analyze", str(mixed), "--scale", "A minor pentatonic", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    kinds = [n["kind"] for n in doc["notes"]]
    poly, single = kinds.count("polyphonic"), kinds.count("note")
    assert poly >= 5 and single >= 80
    assert out.stderr.count("\n") == 1
    assert f"{poly} of {len(kinds)} onsets were chords/double stops" in out.stderr
    assert f"covers the {single} single note(s)" in out.stderr


def test_directory_and_bad_bpm() -> None:
    out = fc("analyze", str(EXAMPLES), "--scale", "E major")
    assert out.returncode == ExitCode.NOT_FOUND
    out = fc("analyze", str(CLEAN), "--scale", "E major", "--bpm", "-5")
    assert out.returncode == ExitCode.USAGE
    one_line_error(out)
