"""`practice --exercise`: the exercise side of a practice session.

The session's runner hands every judged note to :class:`ExerciseRun`, which feeds the live
tracker (scoring.exercise_live) and returns an :class:`ExerciseProgress` message for the
subscribers (the TUI lights the next notes on the fretboard and writes each verdict into the
note feed). At the end, :meth:`ExerciseRun.finish` judges the whole take with
``judge_exercise`` — what `analyze --exercise` runs — and puts those verdicts into the
session's summary fields, so they are journaled and stored with the session (see
``store.exercise_verdicts``).

With the speed trainer (``--ramp``) the exercise is looped on the click, pass by pass
(``scoring.exercise_loop``): each pass gets its own live and final verdicts, each pass is
clean or sloppy for the ramp, and the session's best clean tempo is its fastest clean pass.
``exercise_verdicts`` has no pass number (ddl/065), so the stored verdicts are those of the
*best* pass — the fastest clean one, else the last one played through — and the summary says
which pass that was.
"""

from __future__ import annotations

from typing import Any

from fretcoach_cli.errors import UsageError
from fretcoach_cli.events import NoteEvent
from fretcoach_cli.practice.messages import ExerciseProgress
from fretcoach_cli.scoring.exercise import ExerciseResult, judge_exercise
from fretcoach_cli.scoring.exercise_live import ExerciseTracker

NEXT_NOTES = 2  # how many upcoming notes the fretboard highlights
SUMMARY_KEY = "exercise_verdicts"  # the summary field that carries the verdict rows


class ExerciseRun:
    """Live verdicts during the session, ``judge_exercise`` verdicts at its end."""

    def __init__(self, exercise: Any, *, bpm: float, tolerance_ms: float,
                 trainer: Any = None) -> None:
        self.exercise = exercise
        self.bpm = bpm
        self.tolerance_ms = tolerance_ms
        self._tracker = ExerciseTracker(exercise, bpm=bpm, tolerance_ms=tolerance_ms)
        self.result: ExerciseResult | None = None
        #: --ramp: the speed trainer (practice.speed_trainer.SpeedTrainer) whose ramp judges
        #: passes, and the loop laid on it; ``tempo`` is the TempoUpdate after each note
        self.trainer = trainer
        self.loop: Any = None
        self.tempo: Any = None
        self.passes: list[Any] = []  # scoring.exercise_loop.PassResult, at the end
        self.best_pass: Any = None
        if trainer is not None:
            from fretcoach_cli.scoring.exercise_loop import ExerciseLoop

            self.loop = ExerciseLoop(exercise, trainer.ramp, tolerance_ms=tolerance_ms)

    @property
    def looped(self) -> bool:
        return self.loop is not None

    @property
    def tracker(self) -> ExerciseTracker:
        """The live tracker of the take (looped: of the pass being played)."""
        if self.loop is not None:
            with self.trainer.holding():
                return self.loop.tracker()
        return self._tracker

    def pass_at(self, t: float) -> int | None:
        """The 1-based pass the click is in at audio time ``t`` (None: not looped, or the
        count-in), so the room's pass number follows the click when nothing is played."""
        if self.loop is None:
            return None
        with self.trainer.holding():
            k = self.loop.pass_of(t)
        return None if k is None else k + 1

    def progress(self) -> ExerciseProgress:
        """The state before any note: nothing decided, the first notes next."""
        if self.loop is not None:
            self.tempo = self.trainer.update(unit="pass", pass_number=1)
            return ExerciseProgress((), self.loop.next_indices(NEXT_NOTES), self.exercise,
                                    pass_number=1, bpm=self.trainer.spec.start_bpm)
        return ExerciseProgress((), self._tracker.next_indices(NEXT_NOTES), self.exercise)

    def on_note(self, event: NoteEvent) -> ExerciseProgress:
        if self.loop is not None:
            with self.trainer.holding():
                update = self.loop.add(event, NEXT_NOTES)
                k = self.loop.current
                bpm, best = self.loop.bpm(k), self.loop.fastest_clean_bpm
                now = tuple(v.verdict for v in self.loop.tracker().decided)
            self.tempo = self.trainer.update(update.changes[-1] if update.changes else None,
                                             unit="pass", pass_number=k + 1,
                                             best_clean_bpm=best)
            return ExerciseProgress(update.decided, update.next_indices, self.exercise,
                                    onset_s=event.onset_s, pass_number=k + 1, bpm=bpm,
                                    closed=update.closed, pass_verdicts=now)
        update = self._tracker.add(event, NEXT_NOTES)
        return ExerciseProgress(update.decided, update.next_indices, self.exercise,
                                onset_s=event.onset_s)

    def flush(self, end_s: float = 0.0) -> ExerciseProgress:
        """The input ended (at ``end_s``, for a looped exercise): decide what is open."""
        if self.loop is not None:
            with self.trainer.holding():
                update = self.loop.flush(end_s, NEXT_NOTES)
                k = self.loop.current
                best = self.loop.fastest_clean_bpm
                now = tuple(v.verdict for v in self.loop.tracker().decided)
            self.tempo = self.trainer.update(update.changes[-1] if update.changes else None,
                                             unit="pass", pass_number=k + 1,
                                             best_clean_bpm=best)
            return ExerciseProgress(update.decided, (), self.exercise, pass_number=k + 1,
                                    bpm=self.loop.bpm(k), closed=update.closed,
                                    pass_verdicts=now)
        update = self._tracker.flush(NEXT_NOTES)
        return ExerciseProgress(update.decided, update.next_indices, self.exercise)

    def finish(self, events: list[NoteEvent], fields: dict[str, Any],
               end_s: float = 0.0) -> ExerciseResult:
        """The final verdicts over the whole take, also put into the summary ``fields``.
        Looped: every pass judged, the best one's verdicts stored (see the docstring)."""
        if self.loop is None:
            self.result = judge_exercise(self.exercise, events, bpm=self.bpm,
                                         tolerance_ms=self.tolerance_ms)
            fields.update(stored_fields(self.result))
            return self.result
        with self.trainer.holding():
            self.passes = self.loop.judge(events, end_s)
        self.best_pass = best_pass(self.passes)
        if self.best_pass is None:  # nothing played after the count-in: one missed take
            self.result = judge_exercise(self.exercise, [], bpm=self.trainer.spec.start_bpm,
                                         tolerance_ms=self.tolerance_ms,
                                         origin_s=self.loop.start_s(0))
        else:
            self.result = self.best_pass.result
        fields.update(stored_fields(self.result))
        fields["max_clean_bpm"] = max((p.bpm for p in self.passes if p.clean), default=None)
        fields[BPM_KEY] = self.result.bpm  # the stored verdicts' tempo (ddl/065 exercise_bpm)
        return self.result


BPM_KEY = "exercise_bpm"  # summary field: the tempo of the stored verdicts (looped exercise)


def best_pass(passes: list[Any]) -> Any:
    """The pass whose verdicts are stored: the fastest clean one (the earliest of equals),
    else the last one played through, else the last one with notes; None without any."""
    clean = [p for p in passes if p.clean]
    if clean:
        return max(clean, key=lambda p: (p.bpm, -p.index))
    complete = [p for p in passes if p.complete]
    return (complete or passes or [None])[-1]


def loop_check(exercise: Any) -> None:
    """An exercise that cannot be looped is a one-line usage error (before anything opens)."""
    if not getattr(exercise, "notes", None):
        raise UsageError(f"exercise {exercise.name!r} has no notes to loop",
                         hint="give a tab or MusicXML file with at least one note")


def stored_fields(result: ExerciseResult) -> dict[str, Any]:
    """What a judged take adds to the session's summary: its verdict rows, and its tempo as
    the session's best clean tempo when every note was hit (so `stats`, `history` and
    `recommend` follow an exercise's clean tempo over time as they follow the ramp's)."""
    fields: dict[str, Any] = {SUMMARY_KEY: [v.to_dict() for v in result.verdicts]}
    if result.clean:
        fields["max_clean_bpm"] = result.bpm
    return fields
