"""Per-note judgement: is the note in the scale, in tune, and on the beat?

Everything here is a pure function of a ``NoteEvent`` plus the practice settings, so the live
view, the stored session and the coach all agree on what a "good note" is.

Tuning tolerance (cents) tightens linearly with strictness s ∈ [0, 1]::

    tolerance(s) = 35 − 25·s        (35 ¢ lenient … 22.5 ¢ at 0.5 … 10 ¢ strict)

Why these ends: 35 ¢ still forgives the pitch bend of a heavy pick attack and slightly worn
strings, yet catches a string that is clearly out (50 ¢ is already the next semitone's
border); 10 ¢ is about where trained listeners hear two tones beat against each other, i.e.
the best a careful player can be held to. Linear keeps the slider predictable.

Timing against a tempo: with ``bpm`` set, the grid lines are every ``60 / bpm / subdivision``
seconds (default subdivision 2 = eighth notes, so quarter notes and eighth notes are both
"on the grid"; pass 4 for sixteenths, 3 for triplets). A note's offset is its signed distance
to the nearest grid line. The grid's origin is the click's start when the caller knows it;
otherwise it is estimated as the circular mean phase of the onsets (a constant input latency
or a late first note then costs nothing — only unsteadiness does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import Scale
from fretcoach_cli.music.tempo import validate_bpm

TOLERANCE_LENIENT_CENTS = 35.0
TOLERANCE_STRICT_CENTS = 10.0
DEFAULT_SUBDIVISION = 2
SUBDIVISIONS = (1, 2, 3, 4, 6, 8)


def validate_strictness(strictness: float) -> float:
    """Return strictness as a float in [0, 1], or raise UsageError."""
    try:
        value = float(strictness)
    except (TypeError, ValueError):
        raise UsageError(f"strictness {strictness!r} is not a number",
                         hint="use 0 (lenient) … 1 (strict)") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"strictness {value:g} is out of range",
                         hint="use 0 (lenient) … 1 (strict)")
    return value


def tolerance_cents(strictness: float = 0.5) -> float:
    """In-tune tolerance in cents: 35 at strictness 0, linearly down to 10 at strictness 1."""
    s = validate_strictness(strictness)
    return TOLERANCE_LENIENT_CENTS - (TOLERANCE_LENIENT_CENTS - TOLERANCE_STRICT_CENTS) * s


@dataclass(frozen=True, slots=True)
class Grid:
    """A tempo grid: lines every ``period_s`` seconds starting at ``origin_s``."""

    bpm: float
    subdivision: int = DEFAULT_SUBDIVISION
    origin_s: float = 0.0

    def __post_init__(self) -> None:
        validate_bpm(self.bpm)
        if self.subdivision not in SUBDIVISIONS:
            raise UsageError(f"subdivision {self.subdivision} is not supported",
                             hint=f"use one of {', '.join(map(str, SUBDIVISIONS))}")

    @property
    def period_s(self) -> float:
        return 60.0 / self.bpm / self.subdivision

    def offset_s(self, t: float) -> float:
        """Signed distance from ``t`` to the nearest grid line (negative = early)."""
        p = self.period_s
        return (t - self.origin_s + p / 2.0) % p - p / 2.0


def estimate_origin(onsets: Iterable[float], bpm: float,
                    subdivision: int = DEFAULT_SUBDIVISION) -> float:
    """Grid origin that best fits the onsets: their circular mean phase modulo the period.

    Returns 0.0 when there are no onsets or their phases cancel out exactly.
    """
    period = 60.0 / validate_bpm(bpm) / subdivision
    sx = sy = 0.0
    for t in onsets:
        angle = 2.0 * math.pi * (t % period) / period
        sx += math.cos(angle)
        sy += math.sin(angle)
    if math.hypot(sx, sy) < 1e-12:
        return 0.0
    return (math.atan2(sy, sx) / (2.0 * math.pi) % 1.0) * period


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one event. ``judged`` is False for polyphonic/unclear onsets, which
    count against clean playing only — never as wrong notes — so their pitch fields are None."""

    onset_s: float
    kind: str
    judged: bool
    midi: float | None
    pitch_class: int | None
    name: str | None
    cents: float | None
    in_scale: bool | None
    degree: int | None
    degree_label: str | None
    in_tune: bool | None
    grid_offset_ms: float | None

    @property
    def correct(self) -> bool:
        """In the scale and in tune."""
        return bool(self.in_scale and self.in_tune)


def judge_note(event: NoteEvent, scale: Scale, *, tolerance: float,
               grid: Grid | None = None) -> Verdict:
    """Judge one event against a scale, a cents tolerance and an optional tempo grid.

    ``in_tune`` is decided for every pitched note (|cents| ≤ tolerance); the metrics only
    count it for in-scale notes. The grid offset is given for every onset, pitched or not.
    """
    offset_ms = None if grid is None else grid.offset_s(event.onset_s) * 1000.0
    if not event.is_note:
        return Verdict(event.onset_s, event.kind, False, None, None, None, None, None, None,
                       None, None, offset_ms)
    assert event.midi is not None
    pc = event.pitch_class
    cents = event.cents
    assert pc is not None and cents is not None
    degree = scale.degree_of(pc)
    return Verdict(
        onset_s=event.onset_s,
        kind=event.kind,
        judged=True,
        midi=event.midi,
        pitch_class=pc,
        name=scale.note_name(event.midi),
        cents=cents,
        in_scale=degree is not None,
        degree=degree,
        degree_label=None if degree is None else scale.degree_labels[degree - 1],
        in_tune=abs(cents) <= tolerance + 1e-9,
        grid_offset_ms=offset_ms,
    )


def judge_notes(events: Iterable[NoteEvent], scale: Scale, *, strictness: float = 0.5,
                bpm: float | None = None, subdivision: int = DEFAULT_SUBDIVISION,
                grid_origin_s: float | None = None) -> list[Verdict]:
    """Judge a sequence of events with one tolerance and one grid (origin estimated from the
    pitched onsets when ``grid_origin_s`` is None)."""
    events = list(events)
    tol = tolerance_cents(strictness)
    grid = make_grid(events, bpm, subdivision, grid_origin_s)
    return [judge_note(e, scale, tolerance=tol, grid=grid) for e in events]


def make_grid(events: list[NoteEvent], bpm: float | None, subdivision: int,
              origin_s: float | None) -> Grid | None:
    if bpm is None:
        return None
    if origin_s is None:
        origin_s = estimate_origin((e.onset_s for e in events if e.is_note), bpm, subdivision)
    return Grid(float(bpm), subdivision, origin_s)


def describe_cents(cents: float) -> str:
    """"20 cents flat", "12 cents sharp", "in tune" (|cents| < 0.5)."""
    if abs(cents) < 0.5:
        return "in tune"
    return f"{abs(cents):.0f} cents {'sharp' if cents > 0 else 'flat'}"
