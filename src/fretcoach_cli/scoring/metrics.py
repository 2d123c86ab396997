"""Session and sliding-window metrics: pure functions of note events (see docs/metrics.md).

Every 0–100 score is stored beside the raw figure it comes from (in_scale_ratio, in_tune_ratio,
mean_abs_cents, ioi_cv, mean_abs_grid_dev_ms, clean_ratio) so a score can be re-derived and
explained. A figure that cannot be computed honestly (too few notes) is None, with the reason
in ``Metrics.unavailable`` — never a flattering 100.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.scales import Scale
from fretcoach_cli.scoring.judge import (
    DEFAULT_SUBDIVISION,
    Verdict,
    judge_note,
    make_grid,
    tolerance_cents,
    validate_strictness,
)

#: The five scores, in display order; names match the database columns.
METRIC_NAMES: tuple[str, ...] = (
    "pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing", "scale_coverage",
)
#: Weights of the overall score (renormalised over the enabled metrics that have a value).
WEIGHTS: dict[str, float] = {
    "pitch_accuracy": 0.30,
    "scale_conformity": 0.30,
    "timing_stability": 0.20,
    "clean_playing": 0.10,
    "scale_coverage": 0.10,
}

MIN_NOTES_TIMING = 3  # pitched notes needed for any timing figure
MIN_IOIS = 2  # inter-onset intervals left after removing phrase breaks
PAUSE_FACTOR = 2.5  # an IOI over 2.5 × the median IOI is a phrase break, not a late note
FOLD_TOLERANCE = 0.25  # octaves (×/÷ 1.19) around 2× and ½× the pulse that count as on-pulse
WORST_LIMIT = 5

# Timing curves: score = 100 / (1 + (x / x50)²), x50 = the value scoring 50.
CV50_LENIENT, CV50_STRICT = 0.20, 0.10
GRID50_LENIENT_MS, GRID50_STRICT_MS = 40.0, 20.0


def _lerp(a: float, b: float, s: float) -> float:
    return a + (b - a) * s


def _half_score(x: float, x50: float) -> float:
    return 100.0 / (1.0 + (max(0.0, x) / x50) ** 2)


def timing_score_from_cv(ioi_cv: float, strictness: float = 0.5) -> float:
    """Timing stability from the IOI coefficient of variation: 100 / (1 + (cv / cv50)²),
    cv50 = 0.20 − 0.10·strictness. Strictly decreasing in cv; 100 only for perfect time."""
    s = validate_strictness(strictness)
    return _half_score(ioi_cv, _lerp(CV50_LENIENT, CV50_STRICT, s))


def timing_score_from_grid(mean_abs_dev_ms: float, strictness: float = 0.5) -> float:
    """Timing stability against a tempo grid: 100 / (1 + (dev / d50)²),
    d50 = 40 − 20·strictness milliseconds. Strictly decreasing in the mean |deviation|."""
    s = validate_strictness(strictness)
    return _half_score(mean_abs_dev_ms, _lerp(GRID50_LENIENT_MS, GRID50_STRICT_MS, s))


def _fold_factor(r: float) -> float:
    """½ or 2 when ``r`` is within ×/÷ 2^FOLD_TOLERANCE of it, else 1 (no fold)."""
    octaves = math.log2(r)
    for k in (-1, 1):
        if abs(octaves - k) <= FOLD_TOLERANCE:
            return 2.0 ** k
    return 1.0


def normalized_iois(onsets: Iterable[float]) -> tuple[list[float], int]:
    """Inter-onset intervals folded onto one pulse, and the number of phrase breaks dropped.

    With m the (low) median IOI and r = ioi / m: r > 2.5 is a phrase break or held note
    (dropped, counted); an IOI close to double or half the pulse (r within ×/÷ 1.19 of 2 or ½)
    is divided by that factor, so a steady mix of eighths and quarters — or one skipped note —
    is not counted as unsteadiness; anything else (a 1.5× hesitation) counts as it is.
    """
    times = sorted(onsets)
    iois = [b - a for a, b in itertools.pairwise(times) if b - a > 0]
    if not iois:
        return [], 0
    m = statistics.median_low(iois)  # an actual IOI: with two IOIs, not their average
    kept: list[float] = []
    breaks = 0
    for ioi in iois:
        r = ioi / m
        if r > PAUSE_FACTOR:
            breaks += 1
            continue
        kept.append(ioi / _fold_factor(r))
    return kept, breaks


def ioi_cv(onsets: Iterable[float]) -> tuple[float | None, int]:
    """(coefficient of variation of the folded IOIs, phrase breaks); cv None if < 2 IOIs."""
    kept, breaks = normalized_iois(onsets)
    if len(kept) < MIN_IOIS:
        return None, breaks
    mean = statistics.fmean(kept)
    return statistics.pstdev(kept) / mean, breaks


@dataclass(frozen=True, slots=True)
class DegreeStat:
    """How one scale degree was played."""

    degree: int
    label: str
    name: str
    count: int
    mean_cents: float | None
    mean_abs_cents: float | None
    in_tune_share: float | None


@dataclass(frozen=True, slots=True)
class WorstNote:
    """A note worth pointing at: out of the scale, or the furthest out of tune."""

    onset_s: float
    name: str
    midi: float
    cents: float
    in_scale: bool
    degree_label: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class OutOfScaleNote:
    """A pitch class played outside the scale, with its interval from the root ("b6")."""

    name: str
    interval: str
    count: int


@dataclass(frozen=True, slots=True)
class Metrics:
    """Scores (0–100 or None), their raw figures, counts and detail tables."""

    scale: str
    strictness: float
    tolerance_cents: float
    bpm: float | None
    subdivision: int
    enabled: tuple[str, ...]
    # scores
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    clean_playing: float | None
    scale_coverage: float | None
    overall_score: float | None
    weakest_area: str | None
    # raw figures
    mean_abs_cents: float | None
    mean_cents: float | None
    in_scale_ratio: float | None
    in_tune_ratio: float | None
    ioi_cv: float | None
    mean_abs_grid_dev_ms: float | None
    clean_ratio: float | None
    coverage_ratio: float | None
    # counts
    total_onsets: int
    total_notes_played: int
    correct_notes_played: int
    bad_notes_played: int
    out_of_tune_notes: int
    unclear_notes: int
    polyphonic_notes: int
    timing_breaks: int
    start_s: float | None
    end_s: float | None
    degrees_played: tuple[str, ...]
    degrees_missing: tuple[str, ...]
    per_degree: tuple[DegreeStat, ...]
    worst_notes: tuple[WorstNote, ...]
    out_of_scale_notes: tuple[OutOfScaleNote, ...]
    unavailable: dict[str, str] = field(default_factory=dict)

    def score(self, name: str) -> float | None:
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (lists, not tuples; no NaN/inf)."""
        return _jsonable(self)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _validate_enabled(enabled: Iterable[str] | None) -> tuple[str, ...]:
    if enabled is None:
        return METRIC_NAMES
    chosen = tuple(dict.fromkeys(enabled))
    unknown = [n for n in chosen if n not in WEIGHTS]
    if unknown:
        raise UsageError(f"unknown metric {unknown[0]!r}", hint=f"use {', '.join(METRIC_NAMES)}")
    if not chosen:
        raise UsageError("no metrics enabled",
                         hint=f"enable at least one of {', '.join(METRIC_NAMES)}")
    return tuple(n for n in METRIC_NAMES if n in chosen)


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def compute_metrics(notes: Iterable[NoteEvent], scale: Scale, *, strictness: float = 0.5,
                    bpm: float | None = None, enabled: Iterable[str] | None = None,
                    subdivision: int = DEFAULT_SUBDIVISION,
                    grid_origin_s: float | None = None, worst: int = WORST_LIMIT,
                    grid: Any = None) -> Metrics:
    """All figures over ``notes`` (any order) for ``scale``; see docs/metrics.md.

    ``grid`` is a ready timing grid (anything with ``offset_s(t)``, e.g. the speed trainer's
    tempo map, whose tempo changes bar by bar); it replaces the one built from ``bpm``."""
    strictness = validate_strictness(strictness)
    chosen = _validate_enabled(enabled)
    events = sorted(notes, key=lambda e: e.onset_s)
    tol = tolerance_cents(strictness)
    if grid is None:
        grid = make_grid(events, bpm, subdivision, grid_origin_s)
    verdicts = [judge_note(e, scale, tolerance=tol, grid=grid) for e in events]
    pitched = [v for v in verdicts if v.judged]
    in_scale = [v for v in pitched if v.in_scale]
    unavailable: dict[str, str] = {}

    # Scale conformity and coverage.
    if pitched:
        in_scale_ratio: float | None = len(in_scale) / len(pitched)
        played: set[int] = {v.degree for v in in_scale if v.degree is not None}
        coverage_ratio: float | None = len(played) / scale.size
    else:
        in_scale_ratio = coverage_ratio = None
        unavailable["scale_conformity"] = "no pitched notes"
        unavailable["scale_coverage"] = "no pitched notes"
        played = set()

    # Pitch accuracy (in-scale notes only: a wrong note is scored by conformity, not twice).
    in_tune = [v for v in in_scale if v.in_tune]
    if in_scale:
        in_tune_ratio: float | None = len(in_tune) / len(in_scale)
        mean_abs_cents = _mean([abs(v.cents or 0.0) for v in in_scale])
        mean_cents = _mean([v.cents or 0.0 for v in in_scale])
    else:
        in_tune_ratio = mean_abs_cents = mean_cents = None
        unavailable["pitch_accuracy"] = "no in-scale notes"

    # Clean playing: share of onsets that gave one clear pitch.
    clean_ratio = len(pitched) / len(verdicts) if verdicts else None
    if clean_ratio is None:
        unavailable["clean_playing"] = "no notes"

    # Timing.
    cv, breaks = ioi_cv(v.onset_s for v in pitched)
    grid_dev = None
    if grid is not None and len(pitched) >= MIN_NOTES_TIMING:
        grid_dev = statistics.fmean(abs(v.grid_offset_ms or 0.0) for v in pitched)
    if len(pitched) < MIN_NOTES_TIMING:
        timing = None
        unavailable["timing_stability"] = (
            f"needs at least {MIN_NOTES_TIMING} pitched notes (got {len(pitched)})")
    elif grid is not None:
        assert grid_dev is not None
        timing = timing_score_from_grid(grid_dev, strictness)
    elif cv is None:
        timing = None
        unavailable["timing_stability"] = "too few notes between phrase breaks"
    else:
        timing = timing_score_from_cv(cv, strictness)

    scores = {
        "pitch_accuracy": None if in_tune_ratio is None else 100.0 * in_tune_ratio,
        "scale_conformity": None if in_scale_ratio is None else 100.0 * in_scale_ratio,
        "timing_stability": timing,
        "clean_playing": None if clean_ratio is None else 100.0 * clean_ratio,
        "scale_coverage": None if coverage_ratio is None else 100.0 * coverage_ratio,
    }
    overall, weakest = _overall(scores, chosen)
    if len(pitched) < MIN_NOTES_TIMING:
        # no overall score (nor a weakest area) from a note or two: not enough evidence
        overall, weakest = None, None
        unavailable["overall_score"] = (
            f"needs at least {MIN_NOTES_TIMING} pitched notes (got {len(pitched)})")

    return Metrics(
        scale=scale.display_name,
        strictness=strictness,
        tolerance_cents=tol,
        bpm=None if bpm is None else float(bpm),
        subdivision=subdivision,
        enabled=chosen,
        **scores,
        overall_score=overall,
        weakest_area=weakest,
        mean_abs_cents=mean_abs_cents,
        mean_cents=mean_cents,
        in_scale_ratio=in_scale_ratio,
        in_tune_ratio=in_tune_ratio,
        ioi_cv=cv,
        mean_abs_grid_dev_ms=grid_dev,
        clean_ratio=clean_ratio,
        coverage_ratio=coverage_ratio,
        total_onsets=len(verdicts),
        total_notes_played=len(pitched),
        correct_notes_played=len(in_tune),
        bad_notes_played=len(pitched) - len(in_scale),
        out_of_tune_notes=len(in_scale) - len(in_tune),
        unclear_notes=sum(1 for v in verdicts if v.kind == "unclear"),
        polyphonic_notes=sum(1 for v in verdicts if v.kind == "polyphonic"),
        timing_breaks=breaks,
        start_s=events[0].onset_s if events else None,
        end_s=max((e.offset_s for e in events), default=None),
        degrees_played=tuple(scale.degree_labels[d - 1] for d in sorted(played) if d),
        degrees_missing=tuple(lab for i, lab in enumerate(scale.degree_labels, 1)
                              if i not in played),
        per_degree=_per_degree(in_scale, scale),
        worst_notes=_worst(pitched, worst),
        out_of_scale_notes=_out_of_scale(pitched, scale),
        unavailable=unavailable,
    )


def _overall(scores: dict[str, float | None],
             chosen: tuple[str, ...]) -> tuple[float | None, str | None]:
    present = [(n, s) for n in chosen if (s := scores[n]) is not None]
    if not present:
        return None, None
    total_w = sum(WEIGHTS[n] for n, _ in present)
    overall = sum(WEIGHTS[n] * s for n, s in present) / total_w
    weakest = min(present, key=lambda ns: ns[1])[0]  # first in METRIC_NAMES order on ties
    return overall, weakest


def _per_degree(in_scale: list[Verdict], scale: Scale) -> tuple[DegreeStat, ...]:
    names = scale.note_names()
    out = []
    for i, label in enumerate(scale.degree_labels, 1):
        vs = [v for v in in_scale if v.degree == i]
        cents = [v.cents or 0.0 for v in vs]
        out.append(DegreeStat(
            degree=i, label=label, name=names[i - 1], count=len(vs),
            mean_cents=_mean(cents),
            mean_abs_cents=_mean([abs(c) for c in cents]),
            in_tune_share=(sum(1 for v in vs if v.in_tune) / len(vs)) if vs else None,
        ))
    return tuple(out)


def _worst(pitched: list[Verdict], limit: int) -> tuple[WorstNote, ...]:
    """Out-of-scale notes first (a wrong note outranks a sour one), then by |cents|."""
    from fretcoach_cli.scoring.judge import describe_cents

    faulty = [v for v in pitched if not v.in_scale or not v.in_tune]
    faulty.sort(key=lambda v: (bool(v.in_scale), -abs(v.cents or 0.0), v.onset_s))
    out = []
    for v in faulty[:limit]:
        assert v.midi is not None and v.cents is not None and v.name is not None
        reason = "out of scale" if not v.in_scale else describe_cents(v.cents)
        out.append(WorstNote(v.onset_s, v.name, v.midi, v.cents, bool(v.in_scale),
                             v.degree_label, reason))
    return tuple(out)


def _out_of_scale(pitched: list[Verdict], scale: Scale) -> tuple[OutOfScaleNote, ...]:
    counts = Counter(v.pitch_class for v in pitched if not v.in_scale)
    return tuple(
        OutOfScaleNote(scale.name_of(pc), scale.interval_label(pc), n)
        for pc, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if pc is not None
    )


class SlidingWindow:
    """Metrics over the last ``seconds`` of playing and/or the last ``max_notes`` events, for
    the live view. With neither limit it covers the whole session.

    The window is defined on the audio clock: an event stays while its onset is within
    ``seconds`` of the newest time seen (the latest onset, or ``advance(now_s)`` when the
    player has stopped). The figures are exactly ``compute_metrics`` over the events in the
    window, recomputed only when the window changes.
    """

    def __init__(self, scale: Scale, *, seconds: float | None = None,
                 max_notes: int | None = None, strictness: float = 0.5,
                 bpm: float | None = None, enabled: Iterable[str] | None = None,
                 subdivision: int = DEFAULT_SUBDIVISION,
                 grid_origin_s: float | None = None, grid: Any = None) -> None:
        if seconds is not None and seconds <= 0:
            raise UsageError(f"window of {seconds:g} s is too short", hint="use a positive length")
        if max_notes is not None and max_notes < 1:
            raise UsageError(f"window of {max_notes} notes is too short", hint="use at least 1")
        self.scale = scale
        self.seconds = seconds
        self.max_notes = max_notes
        self._kwargs: dict[str, Any] = dict(
            strictness=validate_strictness(strictness), bpm=bpm,
            enabled=_validate_enabled(enabled), subdivision=subdivision,
            grid_origin_s=grid_origin_s, grid=grid,
        )
        self._events: deque[NoteEvent] = deque()
        self._now = -math.inf
        self._cached: Metrics | None = None

    @property
    def notes(self) -> tuple[NoteEvent, ...]:
        return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: NoteEvent) -> Metrics:
        """Add one event (in onset order) and return the window's metrics."""
        self._events.append(event)
        self._now = max(self._now, event.onset_s)
        self._cached = None
        self._evict()
        return self.metrics()

    def extend(self, events: Iterable[NoteEvent]) -> Metrics:
        for e in events:
            self._events.append(e)
            self._now = max(self._now, e.onset_s)
        self._cached = None
        self._evict()
        return self.metrics()

    def advance(self, now_s: float) -> Metrics:
        """Move the clock without a new note (silence ages old notes out)."""
        if now_s > self._now:
            self._now = now_s
            self._evict()
        return self.metrics()

    def metrics(self) -> Metrics:
        if self._cached is None:
            self._cached = compute_metrics(self._events, self.scale, **self._kwargs)
        return self._cached

    def _evict(self) -> None:
        before = len(self._events)
        if self.seconds is not None:
            horizon = self._now - self.seconds
            self._events = deque(e for e in self._events if e.onset_s >= horizon)
        if self.max_notes is not None:
            while len(self._events) > self.max_notes:
                self._events.popleft()
        if len(self._events) != before:
            self._cached = None
