"""Per-note verdicts of an exercise: align the played notes to the expected ones, judge each.

Alignment is a small dynamic programme (Needleman–Wunsch: an edit distance with custom costs)
over the two ordered sequences, so a missed, an extra or a repeated note costs one gap and
never shifts every later verdict. Costs, chosen so the cheapest story is the musical one:

- a played note for an expected one: ``|Δt| / window`` (0 … 1) plus 1.5 when the pitch differs;
  pairs further apart than the window cannot be matched;
- an expected note nobody played (missed) or a played note nobody asked for (extra): 1 each.

So a wrong note at the right time (≤ 1.5 + a little) beats "missed + extra" (2), a note played
twice pairs the one nearer its time, and a skipped note is one gap. DTW packages (dtw-python,
fastdtw) were considered and rejected: DTW maps every element to something (many-to-one), with
no notion of a missed or an extra note, which is exactly what has to be reported here.

The time grid: expected onset = origin + beat · 60 / bpm. The origin (when beat 0 was) is
unknown in a recording, so it is estimated: candidate origins come from same-pitch pairs, the
alignment with the lowest cost wins, and the origin is then anchored on the *opening* notes —
the median offset of the largest cluster (within the tolerance) among the first eight matched
notes. A player starts with the count-in and drifts later, so a drift shows as late (or
early) notes at the end, not as a shifted grid that blames the start. Pass ``origin_s`` when
the click's start is known (live practice). A constant input latency is absorbed the same way.

Verdicts, one per expected note (plus one per extra note): hit (right pitch, |offset| ≤
tolerance), early / late (right pitch, outside the tolerance), wrong_pitch (paired, other
pitch), missed (nothing paired), extra (a played note paired with nothing). ``offset_ms`` is
played − expected (positive = late) whenever a played note is paired.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import Exercise
from fretcoach_cli.music.tempo import validate_bpm

VERDICTS = ("hit", "wrong_pitch", "missed", "extra", "early", "late")
DEFAULT_TOLERANCE_MS = 30.0
GAP_COST = 1.0
WRONG_PITCH_COST = 1.5
ANCHOR_NOTES = 8
_INF = float("inf")
Pairs = list[tuple[int | None, int | None]]  # (expected index, played index), None = a gap


@dataclass(frozen=True, slots=True)
class NoteVerdict:
    """The judgement of one expected note (``index`` ≥ 0) or of an extra played note."""

    index: int | None  # position in the exercise; None for an extra note
    verdict: str
    beat: float | None
    string: int | None  # 0 = lowest string
    fret: int | None
    expected_midi: int | None
    expected_s: float | None  # on the recording's clock
    played_midi: float | None
    onset_s: float | None
    offset_ms: float | None  # played − expected, + = late

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for key, digits in (("expected_s", 4), ("onset_s", 4), ("offset_ms", 1),
                            ("played_midi", 3)):
            if d[key] is not None:
                d[key] = round(float(d[key]), digits)
        return d


@dataclass(frozen=True)
class ExerciseResult:
    exercise: Exercise
    bpm: float
    tolerance_ms: float
    origin_s: float
    verdicts: tuple[NoteVerdict, ...]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for v in self.verdicts:
            out[v.verdict] += 1
        return out

    @property
    def clean(self) -> bool:
        """Every expected note hit (right pitch, within the tolerance) and nothing extra: the
        take counts as a clean tempo for the exercise, as a clean bar does for the ramp."""
        return bool(self.verdicts) and all(v.verdict == "hit" for v in self.verdicts)

    def summary(self) -> dict[str, object]:
        """Counts, the share of expected notes hit, and the timing of the paired notes."""
        return verdict_summary([asdict(v) for v in self.verdicts], len(self.exercise.notes))


def verdict_summary(verdicts: Sequence[Mapping[str, Any]], expected: int) -> dict[str, object]:
    """The ``summary`` of a verdict list (also of verdicts read back from the store)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for v in verdicts:
        counts[str(v["verdict"])] += 1
    offsets = [float(v["offset_ms"]) for v in verdicts
               if v.get("offset_ms") is not None and v["verdict"] in ("hit", "early", "late")]
    return {
        "expected_notes": expected,
        **counts,
        "hit_ratio": round(counts["hit"] / expected, 4) if expected else None,
        "mean_offset_ms": round(statistics.fmean(offsets), 1) if offsets else None,
        "mean_abs_offset_ms": round(statistics.fmean(abs(o) for o in offsets), 1)
        if offsets else None,
    }


def judge_exercise(exercise: Exercise, events: Sequence[NoteEvent], *, bpm: float,
                   tolerance_ms: float = DEFAULT_TOLERANCE_MS,
                   origin_s: float | None = None) -> ExerciseResult:
    """Verdicts for every expected note of ``exercise`` given the engine's ``events``.

    Only clear single notes take part (chords and unclear onsets are neither hits nor
    extras: the engine could not say what they were)."""
    bpm = validate_bpm(bpm)
    played = [(e.onset_s, float(e.midi)) for e in events if e.is_note and e.midi is not None]
    played.sort()
    rel = exercise.times_s(bpm)
    want = [n.midi for n in exercise.notes]
    window = pairing_window(bpm)
    if origin_s is None:
        origin_s = _estimate_origin(rel, want, played, window, tolerance_ms / 1000.0)
    _, pairs = _align([origin_s + t for t in rel], want, played, window)
    return ExerciseResult(exercise, bpm, tolerance_ms, origin_s,
                          tuple(_verdicts(exercise, rel, origin_s, played, pairs, tolerance_ms)))


def pairing_window(bpm: float) -> float:
    """How far apart (s) a played and an expected note may be and still pair: ¾ of a beat,
    at least 120 ms."""
    return max(0.12, 0.75 * 60.0 / bpm)


def _align(times: list[float], want: list[int], played: list[tuple[float, float]],
           window: float) -> tuple[float, Pairs]:
    """Total cost and the optimal (expected index, played index) pairs (gaps as None)."""
    n, m = len(times), len(played)
    cost = [[_INF] * (m + 1) for _ in range(n + 1)]
    move = [[0] * (m + 1) for _ in range(n + 1)]  # 0 pair, 1 missed, 2 extra
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == j == 0:
                continue
            best, how = _INF, 0
            if i and j:
                c = _pair_cost(times[i - 1], want[i - 1], played[j - 1], window)
                if c < _INF and cost[i - 1][j - 1] + c < best:
                    best, how = cost[i - 1][j - 1] + c, 0
            if i and cost[i - 1][j] + GAP_COST < best:
                best, how = cost[i - 1][j] + GAP_COST, 1
            if j and cost[i][j - 1] + GAP_COST < best:
                best, how = cost[i][j - 1] + GAP_COST, 2
            cost[i][j], move[i][j] = best, how
    out: Pairs = []
    i, j = n, m
    while i or j:
        how = move[i][j]
        if how == 0:
            out.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif how == 1:
            out.append((i - 1, None))
            i -= 1
        else:
            out.append((None, j - 1))
            j -= 1
    out.reverse()
    return cost[n][m], out


def _pair_cost(t: float, midi: int, note: tuple[float, float], window: float) -> float:
    dt = abs(note[0] - t)
    if dt > window:
        return _INF
    return dt / window + (0.0 if round(note[1]) == midi else WRONG_PITCH_COST)


def _estimate_origin(rel: list[float], want: list[int], played: list[tuple[float, float]],
                     window: float, tol_s: float) -> float:
    """When beat 0 was on the recording's clock (see the module docstring)."""
    if not played:
        return 0.0
    # candidate origins: same-pitch pairs, voted into 25 ms bins; the best-supported few
    votes: dict[int, list[float]] = {}
    for t, midi in zip(rel, want, strict=True):
        for onset, played_midi in played:
            if round(played_midi) == midi:
                o = onset - t
                votes.setdefault(round(o / 0.025), []).append(o)
    ranked = sorted(votes.values(), key=len, reverse=True)[:12]
    candidates = [statistics.median(v) for v in ranked] or [played[0][0] - rel[0]]
    best_cost, best_pairs, best_origin = _INF, [], candidates[0]
    for origin in candidates:
        c, pairs = _align([origin + t for t in rel], want, played, window)
        if c < best_cost:
            best_cost, best_pairs, best_origin = c, pairs, origin
    # anchor on the opening matched notes: the largest cluster of their offsets
    offsets = [played[j][0] - (best_origin + rel[i]) for i, j in best_pairs
               if i is not None and j is not None and round(played[j][1]) == want[i]]
    opening = offsets[:ANCHOR_NOTES]
    if not opening:
        return best_origin
    cluster = max(([o for o in opening if abs(o - c) <= tol_s] for c in opening),
                  key=lambda cl: (len(cl), -statistics.pstdev(cl) if len(cl) > 1 else 0.0))
    return best_origin + statistics.median(cluster)


def _verdicts(exercise: Exercise, rel: list[float], origin: float,
              played: list[tuple[float, float]], pairs: Pairs,
              tolerance_ms: float) -> list[NoteVerdict]:
    out: list[NoteVerdict] = []
    for i, j in pairs:
        if i is None:
            assert j is not None
            onset, midi = played[j]
            out.append(NoteVerdict(None, "extra", None, None, None, None, None, midi, onset,
                                   None))
            continue
        note = exercise.notes[i]
        expected_s = origin + rel[i]
        if j is None:
            out.append(NoteVerdict(i, "missed", note.beat, note.string, note.fret, note.midi,
                                   expected_s, None, None, None))
            continue
        onset, midi = played[j]
        offset_ms = (onset - expected_s) * 1000.0
        if round(midi) != note.midi:
            verdict = "wrong_pitch"
        elif abs(offset_ms) <= tolerance_ms:
            verdict = "hit"
        else:
            verdict = "late" if offset_ms > 0 else "early"
        out.append(NoteVerdict(i, verdict, note.beat, note.string, note.fret, note.midi,
                               expected_s, midi, onset, offset_ms))
    return out


def exercise_document(result: ExerciseResult) -> dict[str, object]:
    """The exercise part of a JSON document (stable), shared by `analyze --exercise --json`
    and `practice --exercise --json` so both print the same shape: the exercise, its
    summary, and ``verdicts``, one per expected note in order with extra played notes where
    they fell."""
    ex = result.exercise
    return {
        "exercise": {"name": ex.name, "description": ex.description, "source": ex.source,
                     "bpm": result.bpm, "tolerance_ms": result.tolerance_ms,
                     "origin_s": round(result.origin_s, 4), "summary": result.summary()},
        "verdicts": [v.to_dict() for v in result.verdicts],
    }
