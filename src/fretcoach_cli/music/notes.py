"""Pitch classes, note names and frequencies.

MIDI numbers are the lingua franca: 69 is A4, 60 is C4 (scientific pitch notation), a pitch
class is ``midi % 12`` with 0 = C. Frequencies convert through a configurable A4 reference
because guitarists tune to 440 Hz, to 442 Hz with an orchestra, or to 415 Hz for baroque
pitch; a reference outside 415–466 Hz (a semitone either way, roughly) is almost certainly a
typo, so it is refused rather than silently producing nonsense.
"""

from __future__ import annotations

import math
import re

from fretcoach_cli.errors import UsageError

A4_MIN_HZ = 415.0
A4_MAX_HZ = 466.0
A4_DEFAULT_HZ = 440.0

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

LETTERS = "CDEFGAB"
#: Pitch class of each natural letter.
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Unicode and word forms of accidentals, folded to ASCII before parsing.
_UNICODE_ACCIDENTALS = {"♯": "#", "♭": "b", "𝄪": "##", "𝄫": "bb", "♮": ""}

_NOTE_RE = re.compile(
    r"^\s*([A-Ga-g])\s*((?:#|b|x)*)\s*(-?\d+)?\s*$"
)


def validate_a4(a4: float, lo: float = A4_MIN_HZ, hi: float = A4_MAX_HZ,
                purpose: str = "") -> float:
    """Return ``a4`` as a float, or raise UsageError when it is outside ``lo``–``hi`` Hz
    (415–466 by default; ``purpose`` names a narrower use, e.g. " for tuning")."""
    try:
        value = float(a4)
    except (TypeError, ValueError):
        raise UsageError(f"A4 reference {a4!r} is not a number",
                         hint=f"use {lo:g}–{hi:g} Hz") from None
    if not (lo <= value <= hi) or math.isnan(value):
        raise UsageError(f"A4 reference {value:g} Hz is out of range{purpose}",
                         hint=f"use {lo:g}–{hi:g} Hz (440 is standard)")
    return value


def hz_to_midi(hz: float, a4: float = A4_DEFAULT_HZ) -> float:
    """Fractional MIDI number of a frequency: ``69 + 12·log2(hz / a4)``."""
    a4 = validate_a4(a4)
    if not hz > 0:
        raise ValueError(f"frequency must be positive, got {hz!r}")
    return 69.0 + 12.0 * math.log2(hz / a4)


def midi_to_hz(midi: float, a4: float = A4_DEFAULT_HZ) -> float:
    """Frequency of a (fractional) MIDI number: ``a4 · 2^((midi − 69) / 12)``."""
    a4 = validate_a4(a4)
    return a4 * 2.0 ** ((float(midi) - 69.0) / 12.0)


def cents_off(midi: float) -> float:
    """Signed cents from the nearest equal-tempered semitone (−50 … +50)."""
    return (midi - round(midi)) * 100.0


def pc_name(pc: int, prefer_flats: bool = False) -> str:
    """Name of a pitch class without octave ("C#" or "Db")."""
    return (FLAT_NAMES if prefer_flats else SHARP_NAMES)[int(pc) % 12]


def octave_of(midi: int) -> int:
    """Scientific octave number: C4 = 60, so octave = midi // 12 − 1."""
    return int(midi) // 12 - 1


def note_name(midi: float, prefer_flats: bool = False) -> str:
    """Name with octave of a (rounded) MIDI number: 57 → "A3", 61 → "C#4" / "Db4"."""
    n = int(round(midi))  # noqa: RUF046 (numpy floats round to floats)
    return f"{pc_name(n % 12, prefer_flats)}{octave_of(n)}"


def fold_accidentals(text: str) -> str:
    """Fold unicode accidentals (♯ ♭ 𝄪 𝄫) and the words sharp/flat to ASCII ``#``/``b``.

    Only the letter-plus-accidental shape matters here, so "B flat", "B-flat" and "B♭" all
    become "Bb" and "F sharp" becomes "F#".
    """
    for uni, ascii_ in _UNICODE_ACCIDENTALS.items():
        text = text.replace(uni, ascii_)
    text = re.sub(r"(?i)\b([a-g])[\s-]*sharp\b", r"\1#", text)
    text = re.sub(r"(?i)\b([a-g])[\s-]*flat\b", r"\1b", text)
    return text


def accidental_offset(accidentals: str) -> int:
    """Semitone offset of an ASCII accidental string: "#" +1, "b" −1, "x" +2, "##" +2."""
    total = 0
    for ch in accidentals:
        if ch == "#":
            total += 1
        elif ch == "b":
            total -= 1
        elif ch == "x":
            total += 2
        else:
            raise ValueError(f"not an accidental: {ch!r}")
    return total


def normalize_note_name(text: str) -> str:
    """Canonical spelling of a note name as the user wrote it: "bb" → "Bb", "f♯" → "F#".

    The spelling is kept (B♭ stays "Bb", not "A#"), only case and symbols are normalised.
    Raises UsageError for anything that is not a letter A–G with optional accidentals.
    """
    folded = fold_accidentals(text.strip())
    m = _NOTE_RE.match(folded)
    if not m or m.group(3) is not None:
        raise UsageError(f"unknown note {text.strip()!r}",
                         hint="use a letter A–G with optional # or b, e.g. F# or Bb")
    letter, acc = m.group(1).upper(), m.group(2).replace("x", "##")
    if abs(accidental_offset(acc)) > 2:
        raise UsageError(f"unknown note {text.strip()!r}", hint="at most two accidentals")
    return letter + acc


def parse_pitch_class(text: str) -> int:
    """Pitch class of a note name: "Bb", "A♭", "f#", "C♯", "E#" (= F), "Cb" (= B)."""
    name = normalize_note_name(text)
    return (LETTER_PC[name[0]] + accidental_offset(name[1:])) % 12


def parse_note(text: str) -> int:
    """MIDI number of a note name with octave: "E2" → 40, "A4" → 69, "Bb3" → 58."""
    folded = fold_accidentals(text.strip())
    m = _NOTE_RE.match(folded)
    if not m or m.group(3) is None:
        raise UsageError(f"unknown note {text.strip()!r}",
                         hint="use a letter, optional #/b and an octave, e.g. E2 or Bb3")
    letter = m.group(1).upper()
    offset = accidental_offset(m.group(2).replace("x", "##"))
    return 12 * (int(m.group(3)) + 1) + LETTER_PC[letter] + offset
