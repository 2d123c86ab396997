"""Instrument tunings: the named ones guitarists use and custom ones typed as note names.

A tuning is its open strings as MIDI numbers, lowest string first (index 0), the order of
``fretboard.STANDARD_TUNING``, so ``Tuning.strings`` can be handed to every fretboard
function as its ``tuning``. ``Tuning.spec`` is the text that parses back to the same tuning
(a named tuning's key, or "D2 A2 D3 G3 B3 E4"), which is what a stored session should keep.

A custom tuning without octaves ("D A D G B E") is read as ascending strings, and the octave
of its lowest string is the one that puts the lowest string nearest E2 and the highest
nearest E4 (a guitar's compass): "D A D G B E" is drop D, "B E A D G B E" a 7-string,
"F# B E A D G B E" an 8-string. A bass needs octaves ("E1 A1 D2 G2") or its name ("bass").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music import notes

#: The tuner's reference pitch range (A4 in Hz): wider is a typo, not a tuning choice.
A4_TUNER_MIN_HZ = 432.0
A4_TUNER_MAX_HZ = 446.0
MIN_STRINGS, MAX_STRINGS = 1, 12
LOWEST_MIDI, HIGHEST_MIDI = 21, 84  # A0 … C6: any string an instrument here can have
_GUITAR_LOW, _GUITAR_HIGH = 40, 64  # E2, E4: where an octave-less custom tuning is placed


@dataclass(frozen=True, slots=True)
class Tuning:
    """Open strings, low to high, with their display names and how to write them back."""

    key: str  # "standard", "drop-d", … or "custom"
    name: str  # "Standard (E A D G B E)"
    strings: tuple[int, ...]  # MIDI numbers, lowest string first
    prefer_flats: bool = False

    @property
    def is_custom(self) -> bool:
        return self.key == "custom"

    @property
    def lowest(self) -> int:
        """MIDI number of the lowest open string (the bottom of the playable range)."""
        return min(self.strings)

    def note_names(self) -> tuple[str, ...]:
        """Pitch-class names without octave, low to high: ("D", "A", "D", "G", "B", "E")."""
        return tuple(notes.pc_name(m % 12, self.prefer_flats) for m in self.strings)

    def string_names(self) -> tuple[str, ...]:
        """Names with octave, low to high: ("D2", "A2", "D3", "G3", "B3", "E4")."""
        return tuple(notes.note_name(m, self.prefer_flats) for m in self.strings)

    @property
    def spec(self) -> str:
        """Text that :func:`parse_tuning` reads back to this tuning (store this one)."""
        return " ".join(self.string_names()) if self.is_custom else self.key

    def label(self, index: int) -> str:
        """How a guitarist names string ``index`` (0 = lowest): "6th string (E2)"."""
        number = len(self.strings) - index
        ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")
        return f"{ordinal} string ({self.string_names()[index]})"

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "spec": self.spec,
                "strings": list(self.strings), "notes": list(self.string_names())}


def _named(key: str, title: str, spelled: str, aliases: str, flats: bool = False
           ) -> tuple[Tuning, tuple[str, ...]]:
    strings = tuple(notes.parse_note(n) for n in spelled.split())
    short = " ".join(notes.pc_name(m % 12, flats) for m in strings)
    return (Tuning(key, f"{title} ({short})", strings, flats),
            tuple(a.strip() for a in aliases.split(",") if a.strip()))


_TABLE = (
    _named("standard", "Standard", "E2 A2 D3 G3 B3 E4", "e standard, std, normal, guitar"),
    _named("drop-d", "Drop D", "D2 A2 D3 G3 B3 E4", "drop d, dropd"),
    _named("half-step-down", "Half-step down", "Eb2 Ab2 Db3 Gb3 Bb3 Eb4",
           "half step down, eb standard, e flat standard, eb, half step", flats=True),
    _named("whole-step-down", "Whole-step down", "D2 G2 C3 F3 A3 D4",
           "whole step down, d standard, full step down, whole step"),
    _named("dadgad", "DADGAD", "D2 A2 D3 G3 A3 D4", "d a d g a d, celtic"),
    _named("open-g", "Open G", "D2 G2 D3 G3 B3 D4", "open g, taro patch"),
    _named("open-d", "Open D", "D2 A2 D3 F#3 A3 D4", "open d"),
    _named("open-e", "Open E", "E2 B2 E3 G#3 B3 E4", "open e"),
    _named("7-string", "7-string (B standard)", "B1 E2 A2 D3 G3 B3 E4",
           "7 string, seven string, 7-string b standard, b standard 7"),
    _named("8-string", "8-string (F# standard)", "F#1 B1 E2 A2 D3 G3 B3 E4",
           "8 string, eight string, f# standard 8"),
    _named("bass", "4-string bass", "E1 A1 D2 G2", "bass 4, 4 string bass, bass guitar, "
           "4-string bass, four string bass"),
    _named("bass-5", "5-string bass", "B0 E1 A1 D2 G2", "bass 5, 5 string bass, "
           "5-string bass, five string bass"),
)

#: The named tunings, in the order help texts list them.
TUNINGS: tuple[Tuning, ...] = tuple(t for t, _ in _TABLE)
TUNINGS_BY_KEY: dict[str, Tuning] = {t.key: t for t in TUNINGS}
STANDARD = TUNINGS_BY_KEY["standard"]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[-_/]+", " ", text.lower()).split())


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for tuning, aliases in _TABLE:
        for name in (tuning.key, *aliases):
            out[_norm(name)] = tuning.key
    return out


_ALIASES = _aliases()
_TOKEN_RE = re.compile(r"^([A-Ga-g])((?:#|b|x)*)(-?\d+)?$")


def parse_tuning(text: str | None) -> Tuning:
    """A named tuning ("standard", "Drop D", "dadgad") or custom notes ("D A D G B E",
    "D2 A2 D3 G3 B3 E4"); None or blank is standard. Raises UsageError with a one-line
    reason (and close names for a typo)."""
    if text is None or not str(text).strip():
        return STANDARD
    original = " ".join(str(text).split())
    key = _ALIASES.get(_norm(original))
    if key is not None:
        return TUNINGS_BY_KEY[key]
    folded = notes.fold_accidentals(original)
    tokens = [t for t in re.split(r"[\s,/|]+", folded) if t]
    if not all(_TOKEN_RE.match(t) for t in tokens) and not _looks_like_notes(tokens):
        close = difflib.get_close_matches(_norm(original), list(_ALIASES), n=3, cutoff=0.6)
        names = ", ".join(dict.fromkeys(_ALIASES[c] for c in close))
        hint = (f"did you mean: {names}?" if names else
                f"use a name ({', '.join(TUNINGS_BY_KEY)}) or the strings' notes, low to "
                f"high, separated by spaces: \"D A D G B E\"")
        raise UsageError(f"unknown tuning {original!r}", hint=hint)
    return _parse_custom(original, tokens)


def _looks_like_notes(tokens: list[str]) -> bool:
    """Most tokens are notes: the user meant a custom tuning (report the bad token)."""
    return len(tokens) > 1 and sum(bool(_TOKEN_RE.match(t)) for t in tokens) > len(tokens) / 2


def _parse_custom(original: str, tokens: list[str]) -> Tuning:
    if not MIN_STRINGS <= len(tokens) <= MAX_STRINGS:
        raise UsageError(f"tuning {original!r} has {len(tokens)} strings",
                         hint=f"give {MIN_STRINGS}–{MAX_STRINGS} notes, low string first")
    parsed: list[tuple[int, int | None]] = []  # (pitch class, midi if an octave was given)
    for tok in tokens:
        m = _TOKEN_RE.match(tok)
        if not m:
            raise UsageError(f"tuning {original!r}: {tok!r} is not a note",
                             hint="write each string as a letter A–G with optional #/b and "
                                  "octave, separated by spaces: \"D A D G B E\"")
        acc = m.group(2).replace("x", "##")
        if abs(notes.accidental_offset(acc)) > 2:
            raise UsageError(f"tuning {original!r}: {tok!r} has too many accidentals")
        pc = (notes.LETTER_PC[m.group(1).upper()] + notes.accidental_offset(acc)) % 12
        midi = notes.parse_note(tok) if m.group(3) is not None else None
        parsed.append((pc, midi))
    with_octave = [midi for _, midi in parsed if midi is not None]
    if with_octave and len(with_octave) != len(parsed):
        raise UsageError(f"tuning {original!r} gives octaves for some strings only",
                         hint="give an octave for every string (\"D2 A2 D3 G3 B3 E4\") or "
                              "for none (\"D A D G B E\")")
    strings = tuple(with_octave) if with_octave else _infer_octaves([pc for pc, _ in parsed])
    for tok, midi in zip(tokens, strings, strict=True):
        if not LOWEST_MIDI <= midi <= HIGHEST_MIDI:
            raise UsageError(f"tuning {original!r}: {tok} is out of range",
                             hint="strings must lie between A0 and C6")
    flats = any(re.search(r"[A-Ga-g]b", t) for t in tokens)
    for named in TUNINGS:  # "E A D G B E" is the standard tuning, named as such
        if named.strings == strings:
            return named
    return Tuning("custom", f"Custom ({' '.join(tokens)})", strings, flats)


def _infer_octaves(pcs: list[int]) -> tuple[int, ...]:
    """Ascending strings from pitch classes: each string the first such note above the one
    before; the lowest string's octave puts the set nearest a guitar's E2…E4."""
    best: tuple[int, tuple[int, ...]] | None = None
    for first in range(LOWEST_MIDI, LOWEST_MIDI + 48):
        if first % 12 != pcs[0]:
            continue
        out = [first]
        for pc in pcs[1:]:
            step = (pc - out[-1]) % 12 or 12
            out.append(out[-1] + step)
        cost = abs(out[0] - _GUITAR_LOW) + abs(out[-1] - _GUITAR_HIGH)
        if best is None or cost < best[0]:
            best = (cost, tuple(out))
    assert best is not None
    return best[1]


def validate_tuner_a4(a4: float) -> float:
    """The reference pitch for tuning, 432–446 Hz, or a UsageError naming the range."""
    return notes.validate_a4(a4, A4_TUNER_MIN_HZ, A4_TUNER_MAX_HZ, " for tuning")


def nearest_string(midi: float, tuning: Tuning) -> tuple[int, float]:
    """(index of the open string nearest ``midi``, signed cents from it); ties go low."""
    index = min(range(len(tuning.strings)),
                key=lambda i: (abs(midi - tuning.strings[i]), i))
    return index, (midi - tuning.strings[index]) * 100.0


def advice(offset_cents: float, tolerance: float = 3.0) -> str:
    """"tighten" (the string is flat), "loosen" (sharp) or "in tune" within ``tolerance``."""
    if offset_cents < -tolerance:
        return "tighten"
    if offset_cents > tolerance:
        return "loosen"
    return "in tune"


def describe() -> list[tuple[str, str]]:
    """(key, name) of every named tuning, for help texts and `tune --help`."""
    return [(t.key, t.name) for t in TUNINGS]
