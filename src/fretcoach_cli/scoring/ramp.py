"""The speed trainer's tempo ramp: a pure state machine on the audio clock.

A count-in of whole bars at the start tempo fixes beat 0 of the grid; from there the grid is a
sequence of bars, each with one tempo. Notes are fed in (onset on the audio clock, whether the
pitch was right); a bar is *clean* when it holds at least one note and every note is the right
pitch and within ±``tolerance_ms`` of the nearest grid line. After ``clean_bars`` clean bars in
a row the tempo rises by the step, after ``fail_bars`` sloppy bars in a row it falls back by a
step; never below the start nor above the target. A bar with no notes breaks both runs.

Tempo changes happen at bar lines. A bar is closed by the first note of a later bar (or by
:meth:`TempoRamp.close` at the end), so the decision about bar *k* is known during bar *k+1*
and applies from bar *k+2* on — the same bar whether the notes come from a file as fast as
possible or live. A click that has already started playing bars calls
:meth:`TempoRamp.lock_until` so a late decision never changes a bar it has begun.

The ramp's *unit* is what is judged clean or sloppy: a bar for a scale (``unit_bars=1``, the
notes fed with :meth:`TempoRamp.feed`), a pass of a looped exercise for ``practice --exercise
--ramp`` (``unit_bars`` = the bars one pass takes; ``scoring.exercise_loop`` judges each pass
and hands the outcome to :meth:`TempoRamp.settle`). The up/down rules, the bounds, the best
clean tempo and "decided during unit *k+1*, applied from unit *k+2*" are the same for both.

Everything is a function of onset times (never wall-clock time): the timing judgement lives in
:meth:`TempoMap.offset_ms`, the one place a latency correction has to be applied before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_CLEAN_BARS = 2
DEFAULT_FAIL_BARS = 2
DEFAULT_TOLERANCE_MS = 30.0
BEATS_PER_BAR = 4
DEFAULT_SUBDIVISION = 2  # eighth notes: quarters and eighths are both "on the grid"


@dataclass(frozen=True, slots=True)
class RampSpec:
    """What the player asked for (validated by ``music.tempo.parse_ramp``)."""

    start_bpm: float
    target_bpm: float
    step_bpm: float
    clean_bars: int = DEFAULT_CLEAN_BARS
    fail_bars: int = DEFAULT_FAIL_BARS
    count_in_bars: int = 1
    beats_per_bar: int = BEATS_PER_BAR
    subdivision: int = DEFAULT_SUBDIVISION
    tolerance_ms: float = DEFAULT_TOLERANCE_MS

    @property
    def text(self) -> str:
        """The ``--ramp`` spelling, as stored with the session."""
        return f"{self.start_bpm:g}:{self.target_bpm:g}:+{self.step_bpm:g}"


@dataclass(frozen=True, slots=True)
class Segment:
    """From bar ``first_bar`` on (starting at ``start_s``) every bar has tempo ``bpm``."""

    first_bar: int
    start_s: float
    bpm: float


class TempoMap:
    """Bars of varying tempo after a count-in; bar 0 starts at beat 0 of the grid."""

    def __init__(self, bpm: float, *, count_in_bars: int = 1, beats_per_bar: int = BEATS_PER_BAR,
                 subdivision: int = DEFAULT_SUBDIVISION, origin_s: float | None = None) -> None:
        self.beats_per_bar = beats_per_bar
        self.subdivision = subdivision
        self.count_in_bars = count_in_bars
        # beat 0: after the count-in, or a bar line given by a click already running
        self.origin_s = (count_in_bars * beats_per_bar * 60.0 / bpm if origin_s is None
                         else origin_s)
        self.segments: list[Segment] = [Segment(0, self.origin_s, bpm)]

    def bar_seconds(self, bpm: float) -> float:
        return self.beats_per_bar * 60.0 / bpm

    def _segment_of_bar(self, bar: int) -> Segment:
        for seg in reversed(self.segments):
            if bar >= seg.first_bar:
                return seg
        return self.segments[0]

    def bar_start(self, bar: int) -> float:
        """Audio time of bar ``bar``'s downbeat (negative bars: the count-in)."""
        seg = self._segment_of_bar(bar)
        return seg.start_s + (bar - seg.first_bar) * self.bar_seconds(seg.bpm)

    def bpm_of_bar(self, bar: int) -> float:
        return self._segment_of_bar(bar).bpm

    def bar_at(self, t: float) -> int:
        """The bar whose span [downbeat, next downbeat) holds ``t``."""
        seg = self.segments[0]
        for s in self.segments:
            if t >= s.start_s:
                seg = s
        return seg.first_bar + math.floor((t - seg.start_s) / self.bar_seconds(seg.bpm))

    def nearest_line(self, t: float) -> tuple[int, float]:
        """(bar, time) of the grid line nearest ``t``; a note just before a downbeat belongs
        to the bar that downbeat starts."""
        bar = self.bar_at(t)
        best: tuple[float, int, float] | None = None
        for b in (bar, bar + 1):
            start, bpm = self.bar_start(b), self.bpm_of_bar(b)
            period = 60.0 / bpm / self.subdivision
            k = round((t - start) / period)
            k = min(max(k, 0), self.beats_per_bar * self.subdivision)
            line = start + k * period
            owner = b + 1 if k == self.beats_per_bar * self.subdivision else b
            cand = (abs(t - line), owner, line)
            if best is None or cand[0] < best[0]:
                best = cand
        assert best is not None
        return best[1], best[2]

    def offset_ms(self, onset_s: float) -> float:
        """Signed distance of an onset from its nearest grid line (+ = late)."""
        return (onset_s - self.nearest_line(onset_s)[1]) * 1000.0

    def offset_s(self, onset_s: float) -> float:
        """:meth:`offset_ms` in seconds (the interface of ``scoring.judge.Grid``, so the
        session's metrics judge timing against the ramp's own bars)."""
        return self.offset_ms(onset_s) / 1000.0

    def change_from(self, bar: int, bpm: float) -> None:
        """Every bar from ``bar`` on gets ``bpm`` (later changes are dropped)."""
        start = self.bar_start(bar)
        self.segments = [s for s in self.segments if s.first_bar < bar]
        if self.segments[-1].bpm != bpm:
            self.segments.append(Segment(bar, start, bpm))

    def beats(self, t0: float, t1: float) -> list[tuple[float, bool]]:
        """Clicks in [t0, t1): (time, downbeat?), count-in included (from audio time 0)."""
        out: list[tuple[float, bool]] = []
        bar = self.bar_at(max(t0, 0.0))
        while True:
            start, bpm = self.bar_start(bar), self.bpm_of_bar(bar)
            if start >= t1:
                return out
            for i in range(self.beats_per_bar):
                t = start + i * 60.0 / bpm
                if t0 <= t < t1 and t >= -1e-9:
                    out.append((max(t, 0.0), i == 0))
            bar += 1


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One closed unit (a bar, or an exercise's pass): its first downbeat, its tempo, and
    whether it was clean (None = empty)."""

    t_s: float
    bpm: float
    clean: bool | None

    def to_dict(self) -> dict[str, float | bool | None]:
        return {"t": round(self.t_s, 3), "bpm": self.bpm, "clean": self.clean}


@dataclass(frozen=True, slots=True)
class RampChange:
    """The tempo changes to ``bpm`` at ``at_s`` (the bar line starting bar ``bar``)."""

    at_s: float
    bar: int
    bpm: float
    previous_bpm: float
    reason: str  # "clean" | "sloppy"


@dataclass
class _Bar:
    index: int
    notes: int = 0
    bad: int = 0


@dataclass
class RampState:
    """What the front ends show."""

    bpm: float
    best_clean_bpm: float | None
    clean_run: int
    sloppy_run: int
    curve: list[CurvePoint] = field(default_factory=list)


class TempoRamp:
    """Feed notes in onset order; read the tempo map, the curve and the best clean tempo."""

    def __init__(self, spec: RampSpec, *, origin_s: float | None = None,
                 unit: str = "bar", unit_bars: int = 1) -> None:
        if unit not in ("bar", "pass") or unit_bars < 1 or (unit == "bar" and unit_bars != 1):
            raise ValueError(f"a ramp's unit is a bar or a pass of bars, not {unit_bars} "
                             f"{unit}s")
        self.spec = spec
        self.unit = unit  # "bar": notes fed and judged here; "pass": settled from outside
        self.unit_bars = unit_bars  # bars one unit takes
        self.map = TempoMap(spec.start_bpm, count_in_bars=spec.count_in_bars,
                            beats_per_bar=spec.beats_per_bar, subdivision=spec.subdivision,
                            origin_s=origin_s)
        self.curve: list[CurvePoint] = []
        self.best_clean_bpm: float | None = None
        self.clean_run = 0
        self.sloppy_run = 0
        self.active = True  # False: the tempo holds (the TUI's key); bars are still judged
        self._bar: _Bar | None = None
        self._locked_bar = -1  # bars up to this one have begun playing: never changed
        self._count_from = 0  # units before a scheduled change do not count toward the next

    @property
    def origin_s(self) -> float:
        return self.map.origin_s

    def bpm_at(self, t: float) -> float:
        return self.map.bpm_of_bar(max(self.map.bar_at(t), 0))

    @property
    def current_bpm(self) -> float:
        """The tempo of the latest bar decided so far (what the player is heading into)."""
        return self.map.segments[-1].bpm

    def lock_until(self, t: float) -> None:
        """Bars that have begun by audio time ``t`` keep their tempo (the click plays them)."""
        self._locked_bar = max(self._locked_bar, self.map.bar_at(t))

    def unit_start(self, unit: int) -> float:
        """Audio time of the first downbeat of unit ``unit`` (a bar, or a pass)."""
        return self.map.bar_start(unit * self.unit_bars)

    def unit_bpm(self, unit: int) -> float:
        return self.map.bpm_of_bar(unit * self.unit_bars)

    def judge(self, onset_s: float, pitch_ok: bool) -> tuple[int, float, bool]:
        """(bar, offset ms, ok) of one note against the grid — the one timing judgement."""
        bar, _line = self.map.nearest_line(onset_s)
        offset = self.map.offset_ms(onset_s)
        return bar, offset, pitch_ok and abs(offset) <= self.spec.tolerance_ms + 1e-9

    def feed(self, onset_s: float, pitch_ok: bool) -> list[RampChange]:
        """One note; the tempo changes its bar's closing caused (usually none). Bars only:
        a ramp over passes is told each pass's outcome with :meth:`settle`."""
        if self.unit != "bar":
            raise ValueError("feed() judges bars; settle() passes")
        if onset_s < self.origin_s - self.spec.tolerance_ms / 1000.0:
            return []  # during the count-in
        bar, _offset, ok = self.judge(onset_s, pitch_ok)
        changes: list[RampChange] = []
        if self._bar is not None and bar > self._bar.index:
            changes += self._close_through(bar - 1, decided_in=bar)
        if self._bar is None:
            self._bar = _Bar(bar)
        if bar >= self._bar.index:  # a straggler of a closed bar is too late to count
            self._bar.notes += 1
            self._bar.bad += 0 if ok else 1
        return changes

    def close(self, end_s: float) -> list[RampChange]:
        """The session ended at ``end_s``: close the bars that ended before it (a ramp over
        passes has had each pass settled already)."""
        if self.unit != "bar":
            return []
        last = self.map.bar_at(end_s) - 1
        if last < 0:
            return []
        if self._bar is None:
            self._bar = _Bar(0)
        return self._close_through(last, decided_in=last + 1)

    def state(self) -> RampState:
        return RampState(self.current_bpm, self.best_clean_bpm, self.clean_run,
                         self.sloppy_run, list(self.curve))

    # -- internals -----------------------------------------------------------------------
    def _close_through(self, last: int, *, decided_in: int) -> list[RampChange]:
        """Close the open bar and the empty bars after it up to ``last``; ``decided_in`` is
        the bar during which the closing became known (changes apply from the next one)."""
        assert self._bar is not None
        changes: list[RampChange] = []
        bar = self._bar
        while bar.index <= last:
            change = self._close(bar, decided_in)
            if change is not None:
                changes.append(change)
            bar = _Bar(bar.index + 1)
        self._bar = bar
        return changes

    def _close(self, bar: _Bar, decided_in: int) -> RampChange | None:
        clean = None if bar.notes == 0 else bar.bad == 0
        return self.settle(bar.index, clean, decided_in=decided_in)

    def settle(self, unit: int, clean: bool | None, *, decided_in: int) -> RampChange | None:
        """Unit ``unit`` (a bar or a pass) was ``clean`` (None: nothing played in it), which
        became known during unit ``decided_in``: the rules that follow, in one place. A
        change applies from unit ``decided_in + 1`` on, or the first unit the click has not
        begun. Units are settled in order, each once."""
        bpm = self.unit_bpm(unit)
        self.curve.append(CurvePoint(self.unit_start(unit), bpm, clean))
        if unit < self._count_from:
            return None  # played at the old tempo while the change was on its way
        if clean is None:
            self.clean_run = self.sloppy_run = 0
            return None
        if clean:
            self.clean_run += 1
            self.sloppy_run = 0
        else:
            self.sloppy_run += 1
            self.clean_run = 0
        if self.clean_run >= self.spec.clean_bars:
            self.best_clean_bpm = max(self.best_clean_bpm or 0.0, bpm)
            self.clean_run = 0
            return self._change(bpm + self.spec.step_bpm, decided_in, "clean")
        if self.sloppy_run >= self.spec.fail_bars:
            self.sloppy_run = 0
            return self._change(bpm - self.spec.step_bpm, decided_in, "sloppy")
        return None

    def _change(self, bpm: float, decided_in: int, reason: str) -> RampChange | None:
        if not self.active:
            return None
        bpm = min(max(bpm, self.spec.start_bpm), self.spec.target_bpm)
        at_unit = max(decided_in + 1, self._locked_bar // self.unit_bars + 1)
        at_bar = at_unit * self.unit_bars
        previous = self.map.bpm_of_bar(at_bar)
        if bpm == previous or bpm == self.current_bpm:
            return None
        self.map.change_from(at_bar, bpm)
        self._count_from = at_unit
        self.clean_run = self.sloppy_run = 0
        return RampChange(self.map.bar_start(at_bar), at_bar, bpm, previous, reason)
