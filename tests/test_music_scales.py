"""Scale table, spelling and free-text parsing with typo suggestions."""

from __future__ import annotations

import pytest

from fretcoach_cli.errors import ExitCode, UsageError
from fretcoach_cli.music.scales import SCALE_TYPES, Scale, example_scale, parse_scale


@pytest.mark.parametrize(("text", "display", "names"), [
    ("A minor pentatonic", "A minor pentatonic", "A C D E G"),
    ("a min pent", "A minor pentatonic", "A C D E G"),
    ("Am pentatonic", "A minor pentatonic", "A C D E G"),
    ("A pentatonic minor", "A minor pentatonic", "A C D E G"),
    ("A-minor-pentatonic scale", "A minor pentatonic", "A C D E G"),
    ("Bb major", "Bb major", "Bb C D Eb F G A"),
    ("B♭ major", "Bb major", "Bb C D Eb F G A"),
    ("B flat major", "Bb major", "Bb C D Eb F G A"),
    ("bb", "Bb major", "Bb C D Eb F G A"),
    ("F# blues", "F# blues", "F# A B C C# E"),
    ("F♯ blues", "F# blues", "F# A B C C# E"),
    ("f sharp blues", "F# blues", "F# A B C C# E"),
    ("D dorian", "D dorian", "D E F G A B C"),
    ("E phrygian", "E phrygian", "E F G A B C D"),
    ("G mixolydian", "G mixolydian", "G A B C D E F"),
    ("F lydian", "F lydian", "F G A B C D E"),
    ("B locrian", "B locrian", "B C D E F G A"),
    ("C harmonic minor", "C harmonic minor", "C D Eb F G Ab B"),
    ("A melodic minor", "A melodic minor", "A B C D E F# G#"),
    ("B natural minor", "B natural minor", "B C# D E F# G A"),
    ("B aeolian", "B natural minor", "B C# D E F# G A"),
    ("E major pentatonic", "E major pentatonic", "E F# G# B C#"),
    ("C chromatic", "C chromatic", "C C# D D# E F F# G G# A A# B"),
    ("Eb chromatic", "Eb chromatic", "Eb E F Gb G Ab A Bb B C Db D"),
    ("Am", "A natural minor", "A B C D E F G"),
    ("C", "C major", "C D E F G A B"),
    ("c ionian", "C major", "C D E F G A B"),
    ("Ebm", "Eb natural minor", "Eb F Gb Ab Bb Cb Db"),
    ("Abmin pent", "Ab minor pentatonic", "Ab Cb Db Eb Gb"),
    ("bblues", "B blues", "B D E F F# A"),
    ("A♭ major", "Ab major", "Ab Bb C Db Eb F G"),
    ("C♯ minor", "C# natural minor", "C# D# E F# G# A B"),
    ("E phrygian dominant", "E phrygian dominant", "E F G# A B C D"),
    ("G major blues", "G major blues", "G A Bb B D E"),
    ("C whole tone", "C whole tone", "C D E F# G# Bb"),
    ("D half-whole diminished", "D half-whole diminished", "D Eb F F# G# A B C"),
    ("C whole half dim", "C whole-half diminished", "C D Eb F Gb Ab A B"),
    ("A HARMONIC", "A harmonic minor", "A B C D E F G#"),
    ("A jazz minor", "A melodic minor", "A B C D E F# G#"),
    ("G# harmonic minor", "G# harmonic minor", "G# A# B C# D# E G"),
    ("Gb major", "Gb major", "Gb Ab Bb Cb Db Eb F"),
    ("A pentatonic", "A minor pentatonic", "A C D E G"),
])
def test_parse_scale(text: str, display: str, names: str) -> None:
    scale = parse_scale(text)
    assert scale.display_name == display
    assert " ".join(scale.note_names()) == names


def test_root_spelling_is_kept() -> None:
    assert parse_scale("A# minor").root_name == "A#"
    assert parse_scale("Bb minor").root_name == "Bb"
    assert parse_scale("A# minor").pitch_classes == parse_scale("Bb minor").pitch_classes


@pytest.mark.parametrize(("text", "suggestion"), [
    ("A minor pentatnic", "A minor pentatonic"),
    ("Am pentatonik", "A minor pentatonic"),
    ("A dorain", "A dorian"),
    ("Bb majr", "Bb major"),
    ("A mixolidian", "A mixolydian"),
    ("F# bluse", "F# blues"),
    ("A phrigian", "A phrygian"),
    ("C# lidian", "C# lydian"),
    ("E pentatonc major", "E major pentatonic"),
    ("A minr", "A natural minor"),
    ("H minor", "B natural minor"),
    ("X dorian", "C dorian"),
    ("minor pentatonic", "A minor pentatonic"),
])
def test_typos_suggest_the_intended_scale(text: str, suggestion: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_scale(text)
    line = str(info.value)
    assert "\n" not in line
    assert "did you mean:" in line
    assert suggestion in line.split("did you mean:", 1)[1]
    assert info.value.exit_code == ExitCode.USAGE


def test_clear_typo_gets_a_single_suggestion() -> None:
    with pytest.raises(UsageError) as info:
        parse_scale("A minor pentatnic")
    assert str(info.value) == ("unknown scale 'A minor pentatnic' — "
                               "did you mean: A minor pentatonic?")


@pytest.mark.parametrize("text", ["", "   ", "C foo bar", "123", "A###"])
def test_nonsense_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_scale(text)


def test_degrees_and_labels() -> None:
    s = parse_scale("A minor pentatonic")
    assert s.pitch_classes == (9, 0, 2, 4, 7)
    assert s.degree_of(9) == 1 and s.degree_of(0) == 2 and s.degree_of(7) == 5
    assert s.degree_of(11) is None and s.degree_of(None) is None
    assert s.degree_label(0) == "b3" and s.degree_label(4) == "5"
    assert s.degree_label(6) is None
    assert s.contains(2) and not s.contains(1)
    assert s.interval_label(6) == "6"   # F# over A, outside the scale
    assert s.interval_label(5) == "b6"


def test_out_of_scale_names_follow_the_key() -> None:
    assert parse_scale("F major").name_of(1) == "Db"  # flat key
    assert parse_scale("D major").name_of(10) == "A#"  # sharp key
    assert parse_scale("Bb blues").name_of(11) == "B"
    assert parse_scale("Bb major").note_name(58) == "Bb3"
    assert parse_scale("Gb major").note_name(59) == "Cb4"  # letter-true octave: Cb4 = B3
    assert parse_scale("C# major").note_name(60) == "B#3"


def test_scale_is_frozen_and_hashable() -> None:
    s = parse_scale("D dorian")
    with pytest.raises(AttributeError):
        s.root_pc = 3  # type: ignore[misc]
    assert s == Scale.from_parts("D", "dorian")
    assert len({s, parse_scale("d dorian mode")}) == 1


@pytest.mark.parametrize("stype", SCALE_TYPES, ids=lambda t: t.key)
def test_every_type_is_consistent(stype) -> None:
    assert stype.intervals[0] == 0
    assert list(stype.intervals) == sorted(set(stype.intervals))
    assert all(0 <= i < 12 for i in stype.intervals)
    assert len(stype.degree_labels) == len(stype.intervals)
    ex = example_scale(stype)
    assert len(set(ex.pitch_classes)) == stype.size
    # Every alias parses back to this type.
    for alias in (stype.name, *stype.aliases):
        assert parse_scale(f"{stype.example_root} {alias}").type_key == stype.key, alias
    # The example spelling names exactly the scale's pitch classes.
    from fretcoach_cli.music.notes import parse_pitch_class

    assert tuple(parse_pitch_class(n) for n in ex.note_names()) == ex.pitch_classes


def test_expected_types_exist() -> None:
    keys = {t.key for t in SCALE_TYPES}
    assert {"major", "natural_minor", "minor_pentatonic", "major_pentatonic", "blues",
            "major_blues", "dorian", "phrygian", "lydian", "mixolydian", "locrian",
            "harmonic_minor", "melodic_minor", "chromatic", "whole_tone",
            "phrygian_dominant"} <= keys


def test_enharmonic_roots_give_the_same_pitches() -> None:
    pairs = [("C# major", "Db major"), ("F# blues", "Gb blues"), ("A# dorian", "Bb dorian"),
             ("E# major", "F major"), ("Cb major", "B major")]
    for a, b in pairs:
        assert parse_scale(a).pitch_classes == parse_scale(b).pitch_classes
        assert parse_scale(a).note_names() != parse_scale(b).note_names() or a[0] == b[0]


def test_example_text() -> None:
    assert parse_scale("A minor pentatonic").example() == "A minor pentatonic: A C D E G"
