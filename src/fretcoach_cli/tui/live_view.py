"""Pure translations from session values to what the widgets show (easy to test, no I/O)."""

from __future__ import annotations

from typing import Any

from fretcoach_cli.music.fretboard import likely_position
from fretcoach_cli.practice.summary import METRIC_LABELS
from fretcoach_cli.scoring.judge import Verdict
from fretcoach_cli.tui.widgets.fretboard import FretMark
from fretcoach_cli.tui.widgets.metrics import MetricRow
from fretcoach_cli.tui.widgets.note_feed import FeedRow
from fretcoach_cli.tui.widgets.tuner import TunerReading

AREAS = ("pitch_accuracy", "scale_conformity", "timing_stability", "clean_playing")


def score(metrics: Any, key: str) -> float | None:
    value = getattr(metrics, key, None) if metrics is not None else None
    return None if value is None else float(value)


def weakest(metrics: Any) -> str | None:
    """Scoring's weakest area if it names one, else the lowest of the four areas."""
    named = getattr(metrics, "weakest_area", None) if metrics is not None else None
    if named:
        return str(named)
    values = [(score(metrics, k), k) for k in AREAS]
    known = [(v, k) for v, k in values if v is not None]
    return min(known)[1] if known else None


def metric_rows(window: Any, session: Any) -> tuple[MetricRow, ...]:
    weak = weakest(session)
    return tuple(MetricRow(key, label, score(window, key), score(session, key), key == weak)
                 for key, label in METRIC_LABELS)


def feed_row(verdict: Verdict) -> FeedRow:
    return FeedRow(verdict.onset_s, verdict.name, verdict.cents, verdict.in_scale,
                   verdict.in_tune, verdict.degree_label, verdict.grid_offset_ms, verdict.kind)


def reading_from_verdict(verdict: Verdict) -> TunerReading:
    if not verdict.judged:
        return TunerReading()
    return TunerReading(verdict.name, verdict.cents, verdict.in_scale, verdict.in_tune,
                        verdict.degree_label, settled=True)


def reading_from_pitch(midi: float, scale: Any, tolerance: float) -> TunerReading:
    """The needle while a note is still ringing/settling."""
    n = round(midi)
    cents = (midi - n) * 100.0
    pc = n % 12
    return TunerReading(scale.note_name(midi), cents, scale.contains(pc), abs(cents) <= tolerance,
                        scale.degree_label(pc), settled=False)


class MarkTrail:
    """The last few played notes placed on the neck, following the hand from note to note."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self.items: list[tuple[int, int, str]] = []
        self._previous: tuple[int, int] | None = None

    def add(self, verdict: Verdict) -> None:
        if not verdict.judged or verdict.midi is None:
            return
        pos = likely_position(verdict.midi, self._previous, max_fret=15)
        if pos is None:
            return
        self._previous = pos
        status = "wrong" if not verdict.in_scale else ("good" if verdict.in_tune else "off")
        self.items.append((pos[0], pos[1], status))
        del self.items[:-self.size]

    def marks(self) -> tuple[FretMark, ...]:
        n = len(self.items)
        return tuple(FretMark(s, f, st, n - 1 - i)  # type: ignore[arg-type]
                     for i, (s, f, st) in enumerate(self.items))
