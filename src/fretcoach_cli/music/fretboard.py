"""Where notes live on the neck: scale positions for diagrams and a plausible string/fret for a
played note, so feedback can say "your G is 20 cents flat on the 3rd string".

String indices run from the lowest string: index 0 is the low E (MIDI 40), index 5 the high
E (MIDI 64), matching the order of ``STANDARD_TUNING``. Guitarists number strings the other
way (1st = high E); :func:`string_number` and :func:`string_label` convert.
"""

from __future__ import annotations

from typing import NamedTuple

from fretcoach_cli.music.scales import Scale

#: Open-string MIDI numbers, low to high: E2 A2 D3 G3 B3 E4.
STANDARD_TUNING: tuple[int, ...] = (40, 45, 50, 55, 59, 64)
STRING_NAMES: tuple[str, ...] = ("E", "A", "D", "G", "B", "e")
MAX_FRET = 22

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


class Position(NamedTuple):
    """One scale note on the neck: (string_index, fret, pitch class, 1-based degree)."""

    string: int
    fret: int
    pc: int
    degree: int


def string_number(string_index: int, tuning: tuple[int, ...] = STANDARD_TUNING) -> int:
    """Guitarist's string number (1 = highest string) of a 0-based low-to-high index."""
    return len(tuning) - string_index


def string_label(string_index: int, tuning: tuple[int, ...] = STANDARD_TUNING) -> str:
    """"3rd string (G)" for index 3 in standard tuning."""
    n = string_number(string_index, tuning)
    ordinal = _ORDINALS.get(n, f"{n}th")
    name = STRING_NAMES[string_index] if tuning == STANDARD_TUNING else ""
    return f"{ordinal} string ({name})" if name else f"{ordinal} string"


def positions(scale: Scale, frets: range = range(0, 16),
              tuning: tuple[int, ...] = STANDARD_TUNING) -> list[Position]:
    """Every (string, fret) in ``frets`` whose note belongs to ``scale``, low string first."""
    out = []
    for s, open_midi in enumerate(tuning):
        for fret in frets:
            pc = (open_midi + fret) % 12
            degree = scale.degree_of(pc)
            if degree is not None:
                out.append(Position(s, fret, pc, degree))
    return out


def candidates(midi: float, tuning: tuple[int, ...] = STANDARD_TUNING,
               max_fret: int = MAX_FRET) -> list[tuple[int, int]]:
    """All (string, fret) pairs that produce the (rounded) MIDI note, low string first."""
    n = int(round(midi))  # noqa: RUF046 (numpy floats round to floats)
    return [(s, n - o) for s, o in enumerate(tuning) if 0 <= n - o <= max_fret]


def likely_position(midi: float, previous: tuple[int, int] | None = None,
                    tuning: tuple[int, ...] = STANDARD_TUNING,
                    max_fret: int = MAX_FRET) -> tuple[int, int] | None:
    """A plausible (string, fret) for a played note, or None when the guitar cannot play it.

    Without context the lowest fret wins (open position is where scales are learnt, and an
    open G is far more likely than the 15th fret of the low E). With the previous note's
    position, the hand is assumed to stay put: cost = fret distance + 0.5 × string distance,
    plus a penalty for leaving a four-fret box; ties go to the lower fret.
    """
    options = candidates(midi, tuning, max_fret)
    if not options:
        return None
    if previous is None:
        return min(options, key=lambda sf: (sf[1], -sf[0]))
    ps, pf = previous

    def cost(sf: tuple[int, int]) -> tuple[float, int]:
        s, f = sf
        distance = abs(f - pf)
        if f == 0 and pf <= 4:
            distance = 0  # open strings are free while the hand sits in open position
        stretch = max(0, distance - 3) * 2.0
        return distance + 0.5 * abs(s - ps) + stretch, f

    return min(options, key=cost)
