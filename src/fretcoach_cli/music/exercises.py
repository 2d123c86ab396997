"""Exercises: an expected sequence of notes — pitch, string, fret and beat — to play in time.

Built-in exercises are generated for any scale and key (custom scales included), so one
"thirds" exercise serves A minor pentatonic and Bb dorian alike. User exercises come from a
text tab file (``music.tab``, documented in docs/exercises.md).

Positions: a *position* is a five-fret window starting at fret ``p`` (frets p … p+4). The
notes of a position are taken string by string, low to high; on each string the scale notes
in the window that lie below the next string's lowest window note (the box rule guitarists
use: move to the next string as soon as the note is there). The default position starts at
the root on the lowest string, so "A minor pentatonic" defaults to the familiar box at fret 5.
Built-ins are written in eighth notes (half a beat each); ``--bpm`` is quarter notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fretcoach_cli.errors import UsageError
from fretcoach_cli.music.fretboard import MAX_FRET, STANDARD_TUNING
from fretcoach_cli.music.scales import Scale

#: Length of one note of a built-in exercise, in beats (eighth notes).
STEP_BEATS = 0.5
POSITION_WIDTH = 5  # frets p … p+4


@dataclass(frozen=True, slots=True)
class ExpectedNote:
    """One written note. ``string`` 0 is the lowest string (fretboard's convention)."""

    midi: int
    string: int
    fret: int
    beat: float
    beats: float = STEP_BEATS


@dataclass(frozen=True)
class Exercise:
    """A named, ordered sequence of expected notes on one tuning."""

    name: str
    description: str
    notes: tuple[ExpectedNote, ...]
    tuning: tuple[int, ...] = STANDARD_TUNING
    bpm: float | None = None  # a tab file may name its tempo
    source: str = "built-in"
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def length_beats(self) -> float:
        return max((n.beat + n.beats for n in self.notes), default=0.0)

    def times_s(self, bpm: float) -> list[float]:
        """Onset of each note in seconds from beat 0 at ``bpm`` quarter notes a minute."""
        return [n.beat * 60.0 / bpm for n in self.notes]

    def pitch_classes(self) -> tuple[int, ...]:
        return tuple(sorted({n.midi % 12 for n in self.notes}))


Fingering = tuple[int, int, int]  # (midi, string, fret)


# --------------------------------------------------------------------------------------------
# Note pools


def default_position(scale: Scale, tuning: Sequence[int] = STANDARD_TUNING) -> int:
    """Fret of the root on the lowest string (0 when it is the open string)."""
    return (scale.root_pc - tuning[0]) % 12


def position_notes(scale: Scale, position: int,
                   tuning: Sequence[int] = STANDARD_TUNING) -> list[Fingering]:
    """The scale's notes in the five-fret window at ``position``, ascending (box rule)."""
    _check_position(position)
    out: list[Fingering] = []
    for s, open_midi in enumerate(tuning):
        ceiling = tuning[s + 1] + position if s + 1 < len(tuning) else 10_000
        for fret in range(position, position + POSITION_WIDTH):
            midi = open_midi + fret
            if midi >= ceiling or (out and midi <= out[-1][0]):
                continue
            if scale.contains(midi % 12):
                out.append((midi, s, fret))
    return out


# CAGED: each shape is the five-fret window around the scale's root on one string, as the
# open chord of that name is fingered there: (string of the root, window start - root fret).
# For G major: E shape frets 2–6 (root on the low E, fret 3), D shape 4–8 (root on the D
# string, fret 5), C shape 7–11 and A shape 9–13 (root on the A string, fret 10), G shape
# 12–16 (root on the low E, fret 15; the open G shape when it fits: frets 0–4). The notes
# of the window are then taken with the box rule above, as for any position. A minor
# scale's shapes are named after its own root (the minor CAGED system: box 1 of A minor
# pentatonic is its E shape).
CAGED_SHAPES: dict[str, tuple[int, int]] = {
    "C": (1, -3), "A": (1, -1), "G": (0, -3), "E": (0, -1), "D": (2, -1)}


def caged_position(scale: Scale, shape: str, tuning: Sequence[int] = STANDARD_TUNING) -> int:
    """The first fret of ``shape``'s window for ``scale`` (the lowest on the neck)."""
    key = shape.strip().upper().removeprefix("CAGED-")
    if key not in CAGED_SHAPES:
        raise UsageError(f"unknown CAGED shape {shape!r}", hint="use C, A, G, E or D")
    if tuple(tuning) != STANDARD_TUNING:
        raise UsageError("CAGED shapes are drawn for standard tuning",
                         hint="use --position FRET in other tunings")
    string, offset = CAGED_SHAPES[key]
    start = (scale.root_pc - tuning[string]) % 12 + offset
    return start + 12 if start < 0 else start


def caged_notes(scale: Scale, shape: str,
                tuning: Sequence[int] = STANDARD_TUNING) -> list[Fingering]:
    """The scale's notes in a CAGED shape, ascending (one five-fret position)."""
    return position_notes(scale, caged_position(scale, shape, tuning), tuning)


def three_per_string(scale: Scale, position: int,
                     tuning: Sequence[int] = STANDARD_TUNING) -> list[Fingering]:
    """Three consecutive scale notes on every string, from the first scale note at or above
    fret ``position`` on the lowest string."""
    _check_position(position)
    start = tuning[0] + position
    midi = next(m for m in range(start, start + 12) if scale.contains(m % 12))
    out: list[Fingering] = []
    for s, open_midi in enumerate(tuning):
        for _ in range(3):
            out.append((midi, s, midi - open_midi))
            midi = _next_in_scale(scale, midi)
    return out


def _next_in_scale(scale: Scale, midi: int) -> int:
    m = midi + 1
    while not scale.contains(m % 12):
        m += 1
    return m


def _check_position(position: int) -> None:
    if not 0 <= position <= MAX_FRET - POSITION_WIDTH + 1:
        raise UsageError(f"position {position} is outside the neck",
                         hint=f"use a fret from 0 to {MAX_FRET - POSITION_WIDTH + 1}")


# --------------------------------------------------------------------------------------------
# Patterns over an ascending pool


def up_down(pool: list[Fingering]) -> list[Fingering]:
    """Up and back down, without repeating the top note."""
    return pool + pool[-2::-1]


def intervals_sequence(pool: list[Fingering], step: int) -> list[Fingering]:
    """Pairs a scale ``step`` apart, up then down: in 3rds (step 2) 1-3 2-4 3-5 …"""
    up = [n for k in range(len(pool) - step) for n in (pool[k], pool[k + step])]
    down = [n for k in range(len(pool) - 1, step - 1, -1) for n in (pool[k], pool[k - step])]
    return up + down


def groups(pool: list[Fingering], size: int) -> list[Fingering]:
    """Groups of ``size`` ascending notes each starting one degree higher, then descending."""
    up = [n for k in range(len(pool) - size + 1) for n in pool[k:k + size]]
    down = [pool[k - i] for k in range(len(pool) - 1, size - 2, -1) for i in range(size)]
    return up + down


def arpeggios(pool: list[Fingering], scale_size: int) -> list[Fingering]:
    """The scale's chords: a triad stacked in scale thirds on each degree of the pool's
    first octave (root, 3rd, 5th up, then the 3rd back down), one chord after another."""
    if scale_size < 5:
        raise UsageError("arpeggios need a scale of at least 5 notes",
                         hint="pick a pentatonic, diatonic or larger scale")
    out: list[Fingering] = []
    for k in range(min(scale_size, len(pool) - 4)):
        out.extend((pool[k], pool[k + 2], pool[k + 4], pool[k + 2]))
    if not out:
        raise UsageError("the position has too few notes for arpeggios",
                         hint="choose another --position")
    return out


# --------------------------------------------------------------------------------------------
# Built-ins


@dataclass(frozen=True)
class BuiltIn:
    name: str
    description: str
    make: Callable[[Scale, int, Sequence[int]], list[Fingering]]


BUILTINS: tuple[BuiltIn, ...] = (
    BuiltIn("scale-run", "the scale up and down in one position (a five-fret box)",
            lambda sc, p, t: up_down(position_notes(sc, p, t))),
    BuiltIn("three-per-string", "three notes on every string, low E to high e and back",
            lambda sc, p, t: up_down(three_per_string(sc, p, t))),
    BuiltIn("thirds", "the position in 3rds: 1-3, 2-4, 3-5 … up, then down",
            lambda sc, p, t: intervals_sequence(position_notes(sc, p, t), 2)),
    BuiltIn("fourths", "the position in 4ths: 1-4, 2-5, 3-6 … up, then down",
            lambda sc, p, t: intervals_sequence(position_notes(sc, p, t), 3)),
    BuiltIn("groups-of-4", "groups of four: 1234 2345 3456 … up, then down",
            lambda sc, p, t: groups(position_notes(sc, p, t), 4)),
    BuiltIn("arpeggios", "the scale's chords as arpeggios (root-3rd-5th-3rd on each degree)",
            lambda sc, p, t: arpeggios(position_notes(sc, p, t), sc.size)),
)
BUILTINS_BY_NAME = {b.name: b for b in BUILTINS}


def builtin(name: str, scale: Scale, *, position: int | None = None,
            tuning: Sequence[int] = STANDARD_TUNING, shape: str | None = None) -> Exercise:
    """A built-in exercise for ``scale`` at ``position`` (default: the root's fret) or in a
    CAGED ``shape`` (``caged-E`` is the scale run in the E shape)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key.startswith("caged-") and key[6:].upper() in CAGED_SHAPES:
        if shape is not None and shape.strip().upper().removeprefix("CAGED-") != key[6:].upper():
            raise UsageError(f"exercise {name!r} and --shape {shape} name two shapes")
        key, shape = "scale-run", key[6:].upper()
    try:
        spec = BUILTINS_BY_NAME[key]
    except KeyError:
        raise _unknown(name) from None
    if shape is not None:
        if position is not None:
            raise UsageError("give --position or --shape, not both")
        if spec.name == "three-per-string":
            raise UsageError("three-per-string crosses the CAGED shapes",
                             hint="use --position FRET for it")
        pos = caged_position(scale, shape, tuning)
    else:
        pos = default_position(scale, tuning) if position is None else position
    fingerings = spec.make(scale, pos, tuning)
    notes = tuple(ExpectedNote(m, s, f, i * STEP_BEATS) for i, (m, s, f) in enumerate(fingerings))
    meta = {"scale": scale.display_name, "position": str(pos)}
    title, where = spec.name, ""
    if shape is not None:
        meta["shape"] = letter = shape.strip().upper()[-1]
        title = f"caged-{letter}" if spec.name == "scale-run" else f"{spec.name} caged-{letter}"
        where = f" in the CAGED {letter} shape"
    ex = Exercise(title, f"{scale.display_name}{where}: {spec.description}", notes,
                  tuple(tuning), meta=meta)
    check_range(ex)
    return ex


def check_range(ex: Exercise, max_fret: int = MAX_FRET) -> None:
    """Raise a one-line UsageError when a note lies outside the instrument's range."""
    low, high = min(ex.tuning), max(ex.tuning) + max_fret
    for i, n in enumerate(ex.notes, start=1):
        if not 0 <= n.fret <= max_fret or not 0 <= n.string < len(ex.tuning):
            raise UsageError(f"exercise {ex.name!r} note {i} (string {len(ex.tuning) - n.string}, "
                             f"fret {n.fret}) is outside the instrument's range",
                             hint=f"frets 0–{max_fret}; try a lower --position")
        if not low <= n.midi <= high:
            raise UsageError(f"exercise {ex.name!r} note {i} (MIDI {n.midi}) is outside the "
                             f"instrument's range (MIDI {low}–{high})")


def load(name_or_path: str, scale: Scale | None, *, position: int | None = None,
         tuning: Sequence[int] = STANDARD_TUNING, shape: str | None = None) -> Exercise:
    """A built-in by name (needs ``scale``), a text tab, MusicXML or Guitar Pro 3–5 file."""
    key = name_or_path.strip().lower().replace("_", "-").replace(" ", "-")
    if key in BUILTINS_BY_NAME or (key.startswith("caged-") and key[6:].upper() in CAGED_SHAPES):
        if scale is None:
            raise UsageError(f"exercise {key!r} needs a scale", hint="add --scale, e.g. "
                             "--scale \"A minor pentatonic\"")
        return builtin(key, scale, position=position, tuning=tuning, shape=shape)
    if shape is not None:
        raise UsageError("--shape applies to the built-in exercises")
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".musicxml", ".xml", ".mxl"):
        from fretcoach_cli.music.musicxml import read_musicxml

        return read_musicxml(path)
    if path.suffix.lower() in (".gp3", ".gp4", ".gp5"):
        from fretcoach_cli.errors import NotFoundError
        from fretcoach_cli.music.gp_file import read_gp

        if not path.is_file():
            raise NotFoundError(f"no such exercise file: {path}")
        return read_gp(path)
    if path.suffix.lower() in (".gp", ".gpx"):
        raise UsageError(f"{path.name}: Guitar Pro 6/7 files cannot be read",
                         hint="export it as .gp5 or as a text tab (docs/exercises.md)")
    if path.suffix or path.exists() or "/" in name_or_path:
        from fretcoach_cli.music.tab import read_tab

        return read_tab(path)
    raise _unknown(name_or_path)


def _unknown(name: str) -> UsageError:
    import difflib

    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    close = difflib.get_close_matches(key, list(BUILTINS_BY_NAME), n=2, cutoff=0.6)
    hint = (f"did you mean: {', '.join(close)}?" if close else
            f"built-ins: {', '.join(BUILTINS_BY_NAME)}; or a tab file path")
    return UsageError(f"unknown exercise {name!r}", hint=hint)


def describe() -> list[dict[str, str]]:
    """(name, description) of every built-in, for `fretcoach exercises`."""
    caged = [{"name": f"caged-{k}", "description": f"the scale up and down in the CAGED {k} "
              "shape (any exercise takes --shape too)"} for k in CAGED_SHAPES]
    return [{"name": b.name, "description": b.description} for b in BUILTINS] + caged


def exercise_scale(ex: Exercise) -> Scale:
    """The scale an exercise file implies when none is given: its own pitch classes, rooted
    on its first note (a built-in type when the set is one, else a custom scale)."""
    from fretcoach_cli.music import notes
    from fretcoach_cli.music.scales import SCALE_TYPES_BY_KEY

    root = ex.notes[0].midi % 12
    labels = SCALE_TYPES_BY_KEY["chromatic"].degree_labels
    rel = sorted({(pc - root) % 12 for pc in ex.pitch_classes()} | {0})
    spelling = " ".join(labels[i] for i in rel) if len(rel) > 1 else "1 5"
    return Scale.custom(notes.pc_name(root), spelling)
