"""Scale positions on the neck and the likely string/fret of a played note."""

from __future__ import annotations

from fretcoach_cli.music import fretboard
from fretcoach_cli.music.fretboard import STANDARD_TUNING, likely_position, positions
from fretcoach_cli.music.notes import parse_note
from fretcoach_cli.music.scales import parse_scale


def test_standard_tuning_is_e2_to_e4() -> None:
    assert tuple(parse_note(n) for n in ["E2", "A2", "D3", "G3", "B3", "E4"]) == STANDARD_TUNING


def test_positions_of_a_minor_pentatonic_on_low_e() -> None:
    scale = parse_scale("A minor pentatonic")
    low_e = [(p.fret, scale.degree_labels[p.degree - 1]) for p in positions(scale)
             if p.string == 0]
    # E F F# G G# A A# B C C# D D# E ... : in-scale frets 0 3 5 8 10 12 15
    assert low_e == [(0, "5"), (3, "b7"), (5, "1"), (8, "b3"), (10, "4"), (12, "5"),
                     (15, "b7")]


def test_positions_cover_every_string_and_only_scale_notes() -> None:
    scale = parse_scale("C major")
    spots = positions(scale, frets=range(0, 13))
    assert {p.string for p in spots} == set(range(6))
    assert all(scale.contains(p.pc) for p in spots)
    assert all(p.pc == (STANDARD_TUNING[p.string] + p.fret) % 12 for p in spots)
    # 7 of 12 pitch classes per octave: 6 strings × 13 frets → 6 × 8 = 48 (fret 0 and 12 both).
    assert len(spots) == 48


def test_string_labels() -> None:
    assert fretboard.string_number(0) == 6
    assert fretboard.string_number(5) == 1
    assert fretboard.string_label(3) == "3rd string (G)"
    assert fretboard.string_label(5) == "1st string (e)"
    assert fretboard.string_label(0) == "6th string (E)"


def test_likely_position_without_context_prefers_low_frets() -> None:
    assert likely_position(55) == (3, 0)   # G3: open G string
    assert likely_position(40) == (0, 0)   # low E
    assert likely_position(57) == (3, 2)   # A3: 2nd fret G string, not 7th fret D
    assert likely_position(64.3) == (5, 0)  # rounding: still E4


def test_likely_position_stays_near_the_previous_note() -> None:
    # Hand at the 5th fret on the A string (D3): the next G3 is D string fret 5, not open G.
    assert likely_position(55, previous=(1, 5)) == (2, 5)
    # Playing high up the neck: A4 near fret 14 of the B string → B string 10, e string 5.
    assert likely_position(69, previous=(4, 12)) == (4, 10)
    # In open position an open string is free.
    assert likely_position(59, previous=(3, 2)) == (4, 0)


def test_unplayable_notes_have_no_position() -> None:
    assert likely_position(39) is None   # below low E
    assert likely_position(64 + 23) is None  # above the 22nd fret of the high e
