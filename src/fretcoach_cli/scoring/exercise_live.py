"""Exercise verdicts as the notes come (live practice), on a sliding window.

:func:`~fretcoach_cli.scoring.exercise.judge_exercise` aligns a whole take at once. Live, a
verdict is wanted a moment after each note, so :class:`ExerciseTracker` re-aligns only the
*open* part of the exercise after every played note — the expected notes not decided yet
that a note played so far could still pair with, against the played notes not yet used —
with the same costs and the same dynamic programme (``_align``), and commits the prefix of
that alignment that no later note can change:

- an expected note is decided once its expected time is more than one pairing window behind
  the newest onset (a later note could never pair with it);
- an extra played note is decided once it lies more than a window before the first
  undecided expected note.

The grid's origin is estimated as ``judge_exercise`` does, from the opening notes (re-estimated
with every note until ``ANCHOR_NOTES`` pair at the right pitch, then kept), unless it is known.
Nothing is decided before the player has begun the exercise — one of its first three notes
and two more at the right pitch on that grid — so warming up first is not judged note by
note (those notes become extras once the exercise has begun).

Live verdicts are the player's running feedback. The session's stored verdicts are those of
``judge_exercise`` over the whole take at the end — the very function `analyze --exercise`
runs — so `practice --exercise --input F` and `analyze F --exercise` always agree.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from fretcoach_cli.events import NoteEvent
from fretcoach_cli.music.exercises import Exercise
from fretcoach_cli.music.tempo import validate_bpm
from fretcoach_cli.scoring.exercise import (
    ANCHOR_NOTES,
    DEFAULT_TOLERANCE_MS,
    NoteVerdict,
    _align,
    _estimate_origin,
    _verdicts,
    pairing_window,
)

LOOKAHEAD_NOTES = 4  # expected notes beyond those played that the origin estimate may use


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """What one played note decided: new verdicts (in order) and the next notes to play."""

    decided: tuple[NoteVerdict, ...]
    next_indices: tuple[int, ...]


class ExerciseTracker:
    """Feeds on the engine's notes; see the module docstring. Not thread-safe (one caller)."""

    def __init__(self, exercise: Exercise, *, bpm: float,
                 tolerance_ms: float = DEFAULT_TOLERANCE_MS,
                 origin_s: float | None = None) -> None:
        self.exercise = exercise
        self.bpm = validate_bpm(bpm)
        self.tolerance_ms = tolerance_ms
        self.rel = exercise.times_s(self.bpm)
        self.want = [n.midi for n in exercise.notes]
        self.window = pairing_window(self.bpm)
        self.origin: float | None = origin_s
        self._origin_known = origin_s is not None
        self._started = self._origin_known  # the player has begun the exercise
        self.played: list[tuple[float, float]] = []
        self.decided: list[NoteVerdict] = []
        self._k = 0  # first undecided expected note
        self._p = 0  # first played note not used by a decided verdict
        self._next = 0  # the next expected note to play (after the last tentative pair)

    @property
    def finished(self) -> bool:
        return self._k >= len(self.want)

    def next_indices(self, count: int = 2) -> tuple[int, ...]:
        """The next ``count`` expected notes to play (fewer near the end)."""
        return tuple(range(self._next, min(len(self.want), self._next + count)))

    def add(self, event: NoteEvent, count: int = 2) -> LiveUpdate:
        """One engine note; chords and unclear onsets take no part (as in judge_exercise)."""
        if not event.is_note or event.midi is None:
            return LiveUpdate((), self.next_indices(count))
        note = (event.onset_s, float(event.midi))
        at = bisect.bisect(self.played, note)
        if at < self._p:  # named after notes already decided: only the final verdicts see it
            return LiveUpdate((), self.next_indices(count))
        self.played.insert(at, note)
        if not self._origin_known:
            self._estimate()
        before = len(self.decided)
        if self._started:
            self._advance(self.played[-1][0])
        return LiveUpdate(tuple(self.decided[before:]), self.next_indices(count))

    def flush(self, count: int = 2) -> LiveUpdate:
        """The input ended: decide every note still open."""
        before = len(self.decided)
        if self.origin is not None and self.played:
            self._advance(math.inf)
        else:  # nothing was played: every note was missed
            self._k, self._next = 0, 0
            self.origin = self.origin or 0.0
            self._advance(math.inf)
        return LiveUpdate(tuple(self.decided[before:]), self.next_indices(count))

    def _estimate(self) -> None:
        """Re-estimate the origin from the notes so far. Nothing is decided before the
        player has begun (one of the first three notes and two more at the right pitch on
        this grid: warming up is not the exercise), and the origin is kept once
        ``ANCHOR_NOTES`` notes pair at the right pitch."""
        upto = min(len(self.rel), len(self.played) + LOOKAHEAD_NOTES)
        self.origin = _estimate_origin(self.rel[:upto], self.want[:upto], self.played,
                                       self.window, self.tolerance_ms / 1000.0)
        _, pairs = _align([self.origin + t for t in self.rel[:upto]], self.want[:upto],
                          self.played, self.window)
        right = [i for i, j in pairs if i is not None and j is not None
                 and round(self.played[j][1]) == self.want[i]]
        self._started = bool(right) and right[0] <= 2 and len(right) >= min(3, len(self.want))
        if len(right) >= min(ANCHOR_NOTES, len(self.want)):
            self._origin_known = self._started = True

    def _advance(self, now: float) -> None:
        assert self.origin is not None
        origin, k, p = self.origin, self._k, self._p
        hi = k
        while hi < len(self.rel) and origin + self.rel[hi] - self.window <= now:
            hi += 1
        played = self.played[p:]
        _, pairs = _align([origin + t for t in self.rel[k:hi]], self.want[k:hi], played,
                          self.window)
        paired = [i for i, j in pairs if i is not None and j is not None]
        self._next = max(self._next, k + paired[-1] + 1 if paired else k)
        commit: list[tuple[int | None, int | None]] = []
        extras: list[tuple[int | None, int | None]] = []  # wait for the next decided note
        for i, j in pairs:
            if i is None:
                assert j is not None
                extras.append((None, p + j))
            elif origin + self.rel[k + i] + self.window < now:
                commit += [*extras, (k + i, None if j is None else p + j)]
                extras = []
            else:  # open: extras too early to pair with it are decided (keeps the window small)
                limit = origin + self.rel[k + i] - self.window
                commit += [e for e in extras if e[1] is not None and self.played[e[1]][0] < limit]
                extras = []
                break
        else:  # trailing extras: decided when no expected note left can pair with them
            limit = origin + self.rel[hi] - self.window if hi < len(self.rel) else now
            commit += [e for e in extras if e[1] is not None and self.played[e[1]][0] < limit]
        if not commit:
            return
        self.decided += _verdicts(self.exercise, self.rel, origin, self.played, commit,
                                  self.tolerance_ms)
        self._k = max([k, *(i + 1 for i, _ in commit if i is not None)])
        self._p = max([p, *(j + 1 for _, j in commit if j is not None)])
        self._next = max(self._next, self._k)
