"""Words and figures about exercise verdicts, for the summary, `sessions show`, the coach and
`recommend` (pure functions over verdict dicts — the `verdicts` entries of `--json`, which are
also what the store returns).

The weakest expected notes are found across one session or several: for each expected note
(by its index in the exercise) the share of takes where it was not a hit and the mean timing
offset of the takes where it was played at the right pitch. "Your 4th note, D on the G string
(fret 7), is late by 35 ms on average" is the sentence the coach says about the worst one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fretcoach_cli.music.fretboard import STANDARD_TUNING
from fretcoach_cli.music.notes import note_name, pc_name

Verdict = Mapping[str, Any]
TIMING_NOTE_MS = 20.0  # a mean offset beyond this is worth naming


def ordinal(n: int) -> str:
    """1 → '1st', 4 → '4th', 22 → '22nd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def string_name(string: int, tuning: Sequence[int] = STANDARD_TUNING) -> str:
    """'G string'; the lowest and highest of equal names are 'low E' and 'high e'."""
    name = pc_name(tuning[string] % 12)
    same = [i for i, m in enumerate(tuning) if m % 12 == tuning[string] % 12]
    if len(same) > 1 and string == min(same):
        return f"low {name} string"
    if len(same) > 1 and string == max(same):
        return f"high {name.lower()} string"
    return f"{name} string"


def where(v: Verdict, tuning: Sequence[int] = STANDARD_TUNING) -> str:
    """'D3 on the G string, fret 7' for an expected note."""
    if v.get("expected_midi") is None:
        return note_name(float(v["played_midi"])) if v.get("played_midi") is not None else "?"
    place = ""
    if v.get("string") is not None and 0 <= int(v["string"]) < len(tuning):
        place = f" on the {string_name(int(v['string']), tuning)}, fret {v['fret']}"
    return f"{note_name(float(v['expected_midi']))}{place}"


def verdict_label(v: Verdict) -> str:
    """'hit', 'late +42 ms', 'wrong pitch (C#3)', 'missed', 'extra E4'."""
    kind = str(v["verdict"])
    off = v.get("offset_ms")
    if kind in ("early", "late", "hit") and off is not None:
        return f"{kind} {float(off):+.0f} ms"
    if kind == "wrong_pitch":
        got = v.get("played_midi")
        return "wrong pitch" + (f" ({note_name(float(got))})" if got is not None else "")
    if kind == "extra":
        got = v.get("played_midi")
        return "extra" + (f" {note_name(float(got))}" if got is not None else "")
    return kind


@dataclass(frozen=True)
class NoteStat:
    """One expected note over one or more takes."""

    index: int
    example: Verdict  # one of its verdicts (for its pitch, string and fret)
    takes: int
    misses: int  # takes that were not a hit
    worst: str  # the most frequent non-hit verdict ('' when always hit)
    mean_offset_ms: float | None  # over takes at the right pitch

    @property
    def score(self) -> float:
        """Badness: the share of takes gone wrong, then the mean timing error."""
        return self.misses / self.takes + abs(self.mean_offset_ms or 0.0) / 1000.0


def note_stats(verdicts: Iterable[Verdict]) -> list[NoteStat]:
    """Per expected note (extras left out), worst first."""
    by_index: dict[int, list[Verdict]] = {}
    for v in verdicts:
        if v.get("index") is not None:
            by_index.setdefault(int(v["index"]), []).append(v)
    out = []
    for index, vs in by_index.items():
        bad = [str(v["verdict"]) for v in vs if v["verdict"] != "hit"]
        offsets = [float(v["offset_ms"]) for v in vs if v.get("offset_ms") is not None
                   and v["verdict"] in ("hit", "early", "late")]
        worst = max(set(bad), key=bad.count) if bad else ""
        out.append(NoteStat(index, vs[0], len(vs), len(bad), worst,
                            statistics.fmean(offsets) if offsets else None))
    return sorted(out, key=lambda s: (-s.score, s.index))


def weakest_notes(verdicts: Iterable[Verdict], count: int = 3) -> list[NoteStat]:
    """The expected notes that most need work (never a note that is always a clean hit)."""
    return [s for s in note_stats(verdicts)
            if s.misses or abs(s.mean_offset_ms or 0.0) > TIMING_NOTE_MS][:count]


def describe_stat(stat: NoteStat, tuning: Sequence[int] = STANDARD_TUNING) -> str:
    """'your 4th note, D3 on the G string, fret 7, is late by 35 ms on average'."""
    head = f"your {ordinal(stat.index + 1)} note, {where(stat.example, tuning)},"
    avg = " on average" if stat.takes > 1 else ""
    off = stat.mean_offset_ms
    if stat.worst in ("early", "late") or (not stat.worst and off is not None):
        assert off is not None
        side = "late" if off > 0 else "early"
        return f"{head} is {side} by {abs(off):.0f} ms{avg}"
    of = f" ({stat.misses} of {stat.takes} takes)" if stat.takes > 1 else ""
    if stat.worst == "missed":
        return f"{head} was missed{of}"
    if stat.worst == "wrong_pitch":
        return f"{head} was played at the wrong pitch{of}"
    return f"{head} needs work{of}"
