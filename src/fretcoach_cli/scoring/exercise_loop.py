"""`practice --exercise --ramp`: an exercise looped on the speed trainer's click, pass by pass.

The passes are laid out on the ramp's tempo map (``scoring.ramp``): pass 0 starts on beat 0
(after the count-in) and pass *k* on the bar line after pass *k−1*'s last note is due, so the
loop is seamless and bar-aligned and every pass takes the same number of bars. Pass *k* is
unit *k* of a :class:`~fretcoach_cli.scoring.ramp.TempoRamp` whose unit is a pass of that many
bars (``unit="pass"``), so
each pass has one tempo and a tempo changes only at a pass boundary.

Each pass is one take of the exercise at its tempo whose beat 0 is known (its first
downbeat): an :class:`~fretcoach_cli.scoring.exercise_live.ExerciseTracker` gives its live
verdicts and :func:`~fretcoach_cli.scoring.exercise.judge_exercise` its final ones, exactly as
for a single ``--exercise`` take.

A played note belongs to the pass whose span holds it, the boundary between two passes lying
half-way between pass *k*'s last expected note and pass *k+1*'s first (a late last note stays
in its pass, an early first note goes to the next). Notes during the count-in are not judged.

Pass *k* is closed once a note arrives that none of its expected notes could pair with any
more (past that boundary and its last note's pairing window): its tracker decides what is
still open and the ramp settles the pass as clean — every note hit and nothing extra, the rule
of ``ExerciseResult.clean`` — or sloppy, decided during the pass that note belongs to (so a
change applies from pass *k+2*, as a bar's does from bar *k+2*). A pass in which nothing was
played is empty: it breaks both runs, as an empty bar does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import Exercise
from fretcoach_cli.scoring.exercise import (
    DEFAULT_TOLERANCE_MS,
    ExerciseResult,
    NoteVerdict,
    judge_exercise,
    pairing_window,
)
from fretcoach_cli.scoring.exercise_live import ExerciseTracker
from fretcoach_cli.scoring.ramp import RampChange, TempoRamp


def bars_per_pass(exercise: Exercise, beats_per_bar: int) -> int:
    """Bars one pass takes: up to the bar line after its last note is due."""
    if not exercise.notes:
        raise ValueError("an exercise with no notes cannot be looped")
    last = max(n.beat for n in exercise.notes)
    return math.floor(last / beats_per_bar + 1e-9) + 1


@dataclass
class _Pass:
    index: int
    bpm: float
    start_s: float
    tracker: ExerciseTracker
    events: list[NoteEvent] = field(default_factory=list)
    clean: bool | None = None  # the live outcome the ramp was given (None: empty / open)
    closed: bool = False


@dataclass(frozen=True, slots=True)
class PassOutcome:
    """A closed pass as the ramp saw it."""

    index: int  # 0-based; players see index + 1
    bpm: float
    clean: bool | None  # None: nothing was played in it


@dataclass(frozen=True, slots=True)
class LoopUpdate:
    """What one played note did: the verdicts decided (any pass, in order), the pass it
    belongs to (None during the count-in), the next expected notes to play (wrapping into
    the next pass), the passes it closed and the tempo changes that scheduled."""

    decided: tuple[NoteVerdict, ...]
    pass_index: int | None
    next_indices: tuple[int, ...]
    closed: tuple[PassOutcome, ...] = ()
    changes: tuple[RampChange, ...] = ()


@dataclass(frozen=True)
class PassResult:
    """One pass judged at the end (``judge_exercise``), and whether it was played through."""

    index: int
    start_s: float
    result: ExerciseResult
    complete: bool  # False: the input ended before its last note was due

    @property
    def bpm(self) -> float:
        return self.result.bpm

    @property
    def clean(self) -> bool:
        return self.result.clean

    def to_dict(self) -> dict[str, object]:
        """One entry of `practice --json`'s ``passes``: number, tempo, verdicts."""
        return {"pass": self.index + 1, "bpm": self.bpm, "start_s": round(self.start_s, 4),
                "complete": self.complete, "clean": self.clean,
                "summary": self.result.summary(),
                "verdicts": [v.to_dict() for v in self.result.verdicts]}


class ExerciseLoop:
    """Feed the session's notes in onset order; see the module docstring. One caller (the
    speed trainer's lock guards the shared ramp)."""

    def __init__(self, exercise: Exercise, ramp: TempoRamp, *,
                 tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> None:
        want = bars_per_pass(exercise, ramp.spec.beats_per_bar)
        if ramp.unit != "pass" or ramp.unit_bars != want:
            raise ValueError(f"the ramp's unit must be one pass ({want} bars)")
        self.exercise = exercise
        self.ramp = ramp
        self.tolerance_ms = tolerance_ms
        self.passes: list[_Pass] = []
        self._closed = 0  # passes [0, _closed) are settled
        self.current = 0  # the pass of the latest note

    # -- the layout ----------------------------------------------------------------------
    def start_s(self, k: int) -> float:
        return self.ramp.unit_start(k)

    def bpm(self, k: int) -> float:
        return self.ramp.unit_bpm(k)

    def _due(self, k: int, i: int) -> float:
        return self.start_s(k) + self.exercise.notes[i].beat * 60.0 / self.bpm(k)

    def boundary(self, k: int) -> float:
        """Where pass ``k`` ends and pass ``k+1`` begins for the notes played."""
        return (self._due(k, -1) + self._due(k + 1, 0)) / 2.0

    def close_s(self, k: int) -> float:
        """From this time on no note can change pass ``k``'s verdicts."""
        return max(self.boundary(k), self._due(k, -1) + pairing_window(self.bpm(k)))

    def pass_of(self, t: float) -> int | None:
        """The pass a note played at ``t`` belongs to (None: during the count-in)."""
        if t < self._due(0, 0) - pairing_window(self.bpm(0)):
            return None
        k = max(0, self.ramp.map.bar_at(t) // self.ramp.unit_bars)
        while k > 0 and t < self.boundary(k - 1):
            k -= 1
        while t >= self.boundary(k):
            k += 1
        return k

    # -- live ----------------------------------------------------------------------------
    def add(self, event: NoteEvent, count: int = 2) -> LoopUpdate:
        """One engine note: route it to its pass's tracker, close what it closes."""
        if not event.is_note or event.midi is None:
            return LoopUpdate((), None, self.next_indices(count))
        k = self.pass_of(event.onset_s)
        if k is None or k < self._closed:  # count-in, or too late for a settled pass
            return LoopUpdate((), k, self.next_indices(count))
        decided, closed, changes = self._close_before(event.onset_s, k)
        p = self._pass(k)
        p.events.append(event)
        self.current = max(self.current, k)
        decided += list(p.tracker.add(event, count).decided)
        return LoopUpdate(tuple(decided), k, self.next_indices(count), tuple(closed),
                          tuple(changes))

    def flush(self, end_s: float, count: int = 2) -> LoopUpdate:
        """The input ended at ``end_s``: close every pass whose notes were all due by then;
        a pass cut off by the end decides its notes (the feed shows them) but the ramp never
        hears of it."""
        decided, closed, changes = self._close_before(end_s, None)
        for p in self.passes[self._closed:]:
            if p.events:
                decided += list(p.tracker.flush(count).decided)
        return LoopUpdate(tuple(decided), self.current, (), tuple(closed), tuple(changes))

    def next_indices(self, count: int = 2) -> tuple[int, ...]:
        """The next expected notes of the current pass, then the next pass's first ones."""
        if self.current < len(self.passes):
            nxt = self.passes[self.current].tracker.next_indices(count)
        else:
            nxt = ()
        n = len(self.exercise.notes)
        return nxt + tuple(i % n for i in range(count - len(nxt)))

    def tracker(self) -> ExerciseTracker:
        """The current pass's tracker (its live verdicts)."""
        return self._pass(self.current).tracker

    @property
    def fastest_clean_bpm(self) -> float | None:
        """The fastest pass settled clean so far."""
        return max((p.bpm for p in self.passes[:self._closed] if p.clean), default=None)

    # -- the end -------------------------------------------------------------------------
    def judge(self, events: Sequence[NoteEvent], end_s: float) -> list[PassResult]:
        """Every pass with notes, judged by ``judge_exercise`` on its own notes at its tempo
        and downbeat (notes routed as they were live, on the final tempo map)."""
        routed: dict[int, list[NoteEvent]] = {}
        for e in events:
            if e.is_note and e.midi is not None:
                k = self.pass_of(e.onset_s)
                if k is not None:
                    routed.setdefault(k, []).append(e)
        out = []
        for k in sorted(routed):
            result = judge_exercise(self.exercise, routed[k], bpm=self.bpm(k),
                                    tolerance_ms=self.tolerance_ms, origin_s=self.start_s(k))
            out.append(PassResult(k, self.start_s(k), result,
                                  complete=self._due(k, -1) <= end_s))
        return out

    # -- internals -----------------------------------------------------------------------
    def _pass(self, k: int) -> _Pass:
        while len(self.passes) <= k:
            j = len(self.passes)
            bpm = self.bpm(j)
            self.passes.append(_Pass(j, bpm, self.start_s(j), ExerciseTracker(
                self.exercise, bpm=bpm, tolerance_ms=self.tolerance_ms,
                origin_s=self.start_s(j))))
        return self.passes[k]

    def _close_before(self, t: float, k: int | None
                      ) -> tuple[list[NoteVerdict], list[PassOutcome], list[RampChange]]:
        """Close, in order, the passes before ``k`` (all, at the end: ``k`` None) that no note
        from ``t`` on can change; the ramp hears of each, decided during ``k``'s pass."""
        decided: list[NoteVerdict] = []
        closed: list[PassOutcome] = []
        changes: list[RampChange] = []
        while (k is None or self._closed < k) and self.close_s(self._closed) <= t:
            j = self._closed
            p = self._pass(j)
            if p.events:
                decided += list(p.tracker.flush().decided)
                p.clean = ExerciseResult(self.exercise, p.bpm, self.tolerance_ms, p.start_s,
                                         tuple(p.tracker.decided)).clean
            p.closed = True
            self._closed += 1
            during = k if k is not None else self.pass_of(t) or j + 1
            change = self.ramp.settle(j, p.clean, decided_in=max(during, j + 1))
            closed.append(PassOutcome(j, p.bpm, p.clean))
            if change is not None:
                changes.append(change)
        return decided, closed, changes
