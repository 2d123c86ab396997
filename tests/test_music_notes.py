"""Pitch classes, note names and frequency conversion."""

from __future__ import annotations

import math

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music import notes


@pytest.mark.parametrize(("text", "pc"), [
    ("C", 0), ("c", 0), ("C#", 1), ("C♯", 1), ("Db", 1), ("D♭", 1), ("Bb", 10), ("bb", 10),
    ("A♭", 8), ("f#", 6), ("F sharp", 6), ("B flat", 10), ("B-flat", 10), ("E#", 5),
    ("Cb", 11), ("Fb", 4), ("B#", 0), ("Ebb", 2), ("F##", 7), ("Fx", 7), ("G𝄪", 9), ("B𝄫", 9),
    ("  g  ", 7),
])
def test_parse_pitch_class(text: str, pc: int) -> None:
    assert notes.parse_pitch_class(text) == pc


@pytest.mark.parametrize("text", ["H", "", "A###", "Abbb", "C4", "X#", "do", "A minor"])
def test_parse_pitch_class_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        notes.parse_pitch_class(text)


def test_normalize_keeps_spelling() -> None:
    assert notes.normalize_note_name("b♭") == "Bb"
    assert notes.normalize_note_name("a#") == "A#"
    assert notes.normalize_note_name("C♯") == "C#"


@pytest.mark.parametrize(("text", "midi"), [
    ("E2", 40), ("A2", 45), ("D3", 50), ("G3", 55), ("B3", 59), ("E4", 64), ("A4", 69),
    ("C4", 60), ("Bb3", 58), ("B♭3", 58), ("C-1", 0), ("B#3", 60), ("Cb4", 59),
])
def test_parse_note_with_octave(text: str, midi: int) -> None:
    assert notes.parse_note(text) == midi


def test_parse_note_requires_octave() -> None:
    with pytest.raises(UsageError):
        notes.parse_note("A")


@pytest.mark.parametrize(("midi", "sharp", "flat"), [
    (40, "E2", "E2"), (57, "A3", "A3"), (60, "C4", "C4"), (61, "C#4", "Db4"),
    (70, "A#4", "Bb4"), (0, "C-1", "C-1"), (59, "B3", "B3"), (56.6, "A3", "A3"),
    (56.4, "G#3", "Ab3"),
])
def test_note_name(midi: float, sharp: str, flat: str) -> None:
    assert notes.note_name(midi) == sharp
    assert notes.note_name(midi, prefer_flats=True) == flat


def test_hz_midi_round_trip_at_440() -> None:
    assert notes.hz_to_midi(440.0) == pytest.approx(69.0)
    assert notes.hz_to_midi(82.40689) == pytest.approx(40.0, abs=1e-4)  # low E
    assert notes.midi_to_hz(45) == pytest.approx(110.0)
    for m in (40.0, 52.37, 64.0, 88.5):
        assert notes.hz_to_midi(notes.midi_to_hz(m)) == pytest.approx(m)


@pytest.mark.parametrize("a4", [415.0, 466.0, 442.0])
def test_a4_reference_shifts_the_scale(a4: float) -> None:
    assert notes.hz_to_midi(a4, a4=a4) == pytest.approx(69.0)
    assert notes.midi_to_hz(57, a4=a4) == pytest.approx(a4 / 2)
    # 440 Hz against a 415 Hz reference is about a semitone sharp (415 is "A-flat at 440").
    assert notes.hz_to_midi(440.0, a4=a4) == pytest.approx(69 + 12 * math.log2(440 / a4))


def test_a4_415_is_nearly_a_semitone_down() -> None:
    assert notes.hz_to_midi(415.0) == pytest.approx(67.99, abs=0.01)
    assert notes.hz_to_midi(466.0) == pytest.approx(69.99, abs=0.01)


@pytest.mark.parametrize("a4", [414.9, 466.1, 0, -440, 880, float("nan"), "abc"])
def test_a4_reference_out_of_range(a4: object) -> None:
    with pytest.raises(UsageError, match="A4 reference"):
        notes.hz_to_midi(440.0, a4=a4)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        notes.validate_a4(a4)  # type: ignore[arg-type]


def test_nonpositive_frequency_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        notes.hz_to_midi(0.0)


def test_cents_off() -> None:
    assert notes.cents_off(57.2) == pytest.approx(20.0)
    assert notes.cents_off(56.8) == pytest.approx(-20.0)
    assert notes.cents_off(60.0) == 0.0
