"""Pure translations from session values to what the widgets show (easy to test, no I/O)."""

from __future__ import annotations

from typing import Any

from fretcoach_cli.music.fretboard import STANDARD_TUNING, likely_position
from fretcoach_cli.practice.messages import NoteHeard
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


def heard_row(heard: NoteHeard) -> FeedRow:
    """A provisional row: the note's name only (its cents are not settled yet)."""
    return FeedRow(heard.onset_s, heard.name, None, heard.in_scale, None, heard.degree,
                   provisional=True)


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


STEADY_CENTS = 2.0  # a live reading this steady ...
STEADY_S = 0.3  # ... for this long (audio time) is shown settled
SAME_NOTE_CENTS = 35.0  # readings further apart than this are another note


class LiveNeedle:
    """The tuner pane's needle from the tuner core's readings (``PitchUpdate``).

    The core holds a note for as long as it rings, so the pane follows it; a reading is
    shown settled once the same note has stayed within ``STEADY_CENTS`` for ``STEADY_S``
    (a held note stops saying "settling" however long it rings).
    """

    def __init__(self) -> None:
        self._since: float | None = None  # when the note being shown was first read
        self._recent: list[tuple[float, float]] = []  # (time, midi) of its latest readings

    def reading(self, time_s: float, midi: float, scale: Any, tolerance: float
                ) -> TunerReading:
        if self._recent and abs(midi - self._recent[-1][1]) * 100.0 > SAME_NOTE_CENTS:
            self.silence()
        if self._since is None:
            self._since = time_s
        # the readings of the last STEADY_S, and at least the one before (the UI may see
        # only every few of them when input is read faster than real time)
        keep = [r for r in self._recent if r[0] >= time_s - STEADY_S - 1e-9]
        self._recent = [*(keep or self._recent[-1:]), (time_s, midi)]
        spread = (max(m for _, m in self._recent) - min(m for _, m in self._recent)) * 100.0
        steady = time_s - self._since >= STEADY_S - 1e-9 and spread <= STEADY_CENTS
        shown = reading_from_pitch(midi, scale, tolerance)
        return TunerReading(shown.name, shown.cents, shown.in_scale, shown.in_tune,
                            shown.degree, settled=steady)

    def silence(self) -> None:
        self._since, self._recent = None, []


def _place(midi: float, previous: tuple[int, int] | None,
           tuning: tuple[int, ...] = STANDARD_TUNING) -> tuple[int, int] | None:
    """Where on the neck a note was most likely played: within the first 15 frets as ever,
    else higher up (a wide terminal shows all 24 frets)."""
    return (likely_position(midi, previous, tuning=tuning, max_fret=15)
            or likely_position(midi, previous, tuning=tuning, max_fret=24))


class MarkTrail:
    """The last few played notes placed on the neck, following the hand from note to note.

    A note heard but not judged yet is placed at once as "pending"; its verdict then replaces
    that mark in place (placed again from the same previous position, so the trail ends up
    exactly as if only judged notes had been added), or a retraction removes it.
    """

    def __init__(self, size: int = 6, tuning: tuple[int, ...] = STANDARD_TUNING) -> None:
        self.size = size
        self.tuning = tuning  # the open strings, low to high (practice --tuning)
        self.items: list[tuple[int, int, str]] = []
        self._previous: tuple[int, int] | None = None
        # onset → (index in items, position the hand was at before it)
        self._pending: dict[float, tuple[int, tuple[int, int] | None]] = {}

    def add(self, verdict: Verdict) -> None:
        if not verdict.judged or verdict.midi is None:
            return
        pos = _place(verdict.midi, self._previous, self.tuning)
        if pos is None:
            return
        self._previous = pos
        status = "wrong" if not verdict.in_scale else ("good" if verdict.in_tune else "off")
        self.items.append((pos[0], pos[1], status))
        self._trim()

    def add_pending(self, onset_s: float, midi: float | None) -> None:
        """A note just heard (rough pitch): lit now, settled or retracted later."""
        if midi is None or onset_s in self._pending:
            return
        pos = _place(midi, self._previous, self.tuning)
        if pos is None:
            return
        self._pending[onset_s] = (len(self.items), self._previous)
        self._previous = pos
        self.items.append((pos[0], pos[1], "pending"))
        self._trim()

    def settle(self, onset_s: float, verdict: Verdict) -> None:
        """The verdict for a note: replaces its pending mark (or is added as a new one)."""
        index = self._drop_pending(onset_s)
        if index is None:
            self.add(verdict)
            return
        if not verdict.judged or verdict.midi is None:
            return
        pos = _place(verdict.midi, self._previous, self.tuning)
        if pos is None:
            return
        self._previous = pos
        status = "wrong" if not verdict.in_scale else ("good" if verdict.in_tune else "off")
        self.items.insert(index, (pos[0], pos[1], status))
        self._shift(index, +1)
        self._trim()

    def retract(self, onset_s: float) -> None:
        if self._drop_pending(onset_s) is not None:
            self._trim()

    def _drop_pending(self, onset_s: float) -> int | None:
        """Remove a pending mark (restoring the hand position before it); its index."""
        key = next((k for k in self._pending if abs(k - onset_s) <= 0.001), None)
        if key is None:
            return None
        index, before = self._pending.pop(key)
        if not 0 <= index < len(self.items):  # it fell off the trail meanwhile
            return None
        del self.items[index]
        self._shift(index, -1)
        self._previous = before
        return index

    def _trim(self) -> None:
        """Keep ``size`` judged marks; pending ones ride on top, so dropping one later
        leaves the trail exactly as if it had never been heard."""
        extra = len(self.items) - self.size - len(self._pending)
        if extra > 0:
            del self.items[:extra]
            self._shift(0, -extra)

    def _shift(self, start: int, by: int) -> None:
        """Keep pending indices pointing at their items after an insert/delete at ``start``."""
        self._pending = {k: ((i + by) if i >= start else i, b)
                         for k, (i, b) in self._pending.items()}

    def marks(self) -> tuple[FretMark, ...]:
        n = len(self.items)
        return tuple(FretMark(s, f, st, n - 1 - i)  # type: ignore[arg-type]
                     for i, (s, f, st) in enumerate(self.items))
