"""Named and custom tunings: parsing, octave inference, round trips, errors."""

from __future__ import annotations

import itertools

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music import fretboard
from fretcoach_cli.music.tunings import (
    STANDARD,
    TUNINGS,
    advice,
    nearest_string,
    parse_tuning,
    validate_tuner_a4,
)


@pytest.mark.parametrize(("text", "names"), [
    ("standard", "E2 A2 D3 G3 B3 E4"),
    ("Drop D", "D2 A2 D3 G3 B3 E4"),
    ("half-step down", "Eb2 Ab2 Db3 Gb3 Bb3 Eb4"),
    ("Eb standard", "Eb2 Ab2 Db3 Gb3 Bb3 Eb4"),
    ("whole step down", "D2 G2 C3 F3 A3 D4"),
    ("DADGAD", "D2 A2 D3 G3 A3 D4"),
    ("open g", "D2 G2 D3 G3 B3 D4"),
    ("open_d", "D2 A2 D3 F#3 A3 D4"),
    ("Open E", "E2 B2 E3 G#3 B3 E4"),
    ("7-string", "B1 E2 A2 D3 G3 B3 E4"),
    ("8 string", "F#1 B1 E2 A2 D3 G3 B3 E4"),
    ("bass", "E1 A1 D2 G2"),
    ("5-string bass", "B0 E1 A1 D2 G2"),
])
def test_named_tunings(text: str, names: str) -> None:
    assert " ".join(parse_tuning(text).string_names()) == names


def test_standard_matches_the_fretboard() -> None:
    assert STANDARD.strings == fretboard.STANDARD_TUNING
    assert parse_tuning(None) is STANDARD and parse_tuning("  ") is STANDARD


@pytest.mark.parametrize(("text", "midis", "key"), [
    ("D A D G B E", (38, 45, 50, 55, 59, 64), "drop-d"),
    ("E A D G B e", (40, 45, 50, 55, 59, 64), "standard"),
    ("d,a,d,g,a,d", (38, 45, 50, 55, 57, 62), "dadgad"),
    ("B E A D G B E", (35, 40, 45, 50, 55, 59, 64), "7-string"),
    ("F# B E A D G B E", (30, 35, 40, 45, 50, 55, 59, 64), "8-string"),
    ("C G C F A D", (36, 43, 48, 53, 57, 62), "custom"),
    ("D2 A2 D3 G3 B3 E4", (38, 45, 50, 55, 59, 64), "drop-d"),
    ("E1 A1 D2 G2", (28, 33, 38, 43), "bass"),
    ("C♯ G♯ C♯ F♯ A♯ D♯", (37, 44, 49, 54, 58, 63), "custom"),
    ("G4 C4 E4 A4", (67, 60, 64, 69), "custom"),  # re-entrant (ukulele): octaves as given
])
def test_custom_tunings(text: str, midis: tuple[int, ...], key: str) -> None:
    t = parse_tuning(text)
    assert t.strings == midis and t.key == key


def test_flats_are_kept_in_custom_names() -> None:
    t = parse_tuning("Db Ab Db Gb Bb Eb")
    assert t.note_names() == ("Db", "Ab", "Db", "Gb", "Bb", "Eb")
    assert t.spec == "Db2 Ab2 Db3 Gb3 Bb3 Eb4"


@pytest.mark.parametrize(("text", "fragment"), [
    ("dropp d", "did you mean: drop-d"),
    ("EADGBE", "separated by spaces"),
    ("D A D G B H", "'H' is not a note"),
    ("D2 A D3", "octaves for some strings only"),
    ("E9 A9", "out of range"),
    (" ".join(["E"] * 13), "13 strings"),
    ("Ebbb A", "too many accidentals"),
])
def test_bad_tunings_say_why(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_tuning(text)
    assert fragment in err.value.one_line()
    assert "\n" not in err.value.one_line()


@pytest.mark.parametrize("tuning", TUNINGS, ids=lambda t: t.key)
def test_named_strings_ascend_and_names_round_trip(tuning) -> None:
    assert all(a < b for a, b in itertools.pairwise(tuning.strings))
    assert parse_tuning(tuning.key) is tuning
    assert parse_tuning(tuning.spec) is tuning
    assert parse_tuning(" ".join(tuning.string_names())) is tuning
    assert parse_tuning(tuning.name.split(" (")[0]) is tuning


def test_every_pitch_class_sequence_infers_ascending_round_tripping_strings() -> None:
    """Property check over many octave-less tunings: ascending, stable through spec."""
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    for n_strings in (4, 6, 7):
        for start in range(12):
            for step in (3, 4, 5, 7):
                pcs = [(start + i * step) % 12 for i in range(n_strings)]
                t = parse_tuning(" ".join(names[p] for p in pcs))
                assert [m % 12 for m in t.strings] == pcs
                assert all(a < b for a, b in itertools.pairwise(t.strings))
                assert all(b - a <= 12 for a, b in itertools.pairwise(t.strings))
                assert parse_tuning(t.spec).strings == t.strings


@pytest.mark.parametrize(("midi", "index", "cents"), [
    (40.0, 0, 0.0), (38.5, 0, -150.0), (44.0, 1, -100.0), (64.07, 5, 7.0), (70.0, 5, 600.0),
    (42.5, 0, 250.0),  # midway: ties go to the lower string
])
def test_nearest_string(midi: float, index: int, cents: float) -> None:
    got_index, got_cents = nearest_string(midi, STANDARD)
    assert got_index == index and got_cents == pytest.approx(cents)


def test_advice_and_labels() -> None:
    assert advice(-150) == "tighten" and advice(4) == "loosen" and advice(-2.9) == "in tune"
    assert STANDARD.label(0) == "6th string (E2)" and STANDARD.label(5) == "1st string (E4)"


@pytest.mark.parametrize("value", [432, 440, "446", 441.5])
def test_a4_range_accepts(value) -> None:
    assert validate_tuner_a4(value) == float(value)


@pytest.mark.parametrize("value", [431.9, 447, 415, "x", float("nan")])
def test_a4_range_refuses(value) -> None:
    with pytest.raises(UsageError, match="432"):
        validate_tuner_a4(value)
