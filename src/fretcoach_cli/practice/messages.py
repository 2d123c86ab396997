"""What a :class:`PracticeSession` tells its subscribers (the TUI, the headless line printer).

Engine events (``LevelUpdate``, ``PitchUpdate``, ``EngineError``) are forwarded unchanged;
these add the session's own view: notes heard (provisional) and then judged with live
metrics, state changes, storage health and the final result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fretcoach_cli.events import NoteEvent, NoteStarted

SessionState = Literal["starting", "recording", "paused", "finishing", "finished"]


@dataclass(frozen=True, slots=True)
class NoteJudged:
    """A note, its verdicts, and the metrics right after it (window and whole session)."""

    seq: int
    note: NoteEvent
    judgement: Any  # scoring's per-note judgement
    window: Any  # scoring.Metrics over the sliding window
    session: Any  # scoring.Metrics over every note so far


@dataclass(frozen=True, slots=True)
class NoteLengthened:
    """The judged note ``seq`` (with this ``onset_s``) rang on until ``offset_s``: its true
    end, later than the judging point its ``NoteJudged`` carried (the engine's ``NoteEnded``).
    Nothing else about it changes; the stored note gets the same end."""

    seq: int
    onset_s: float
    offset_s: float

    @property
    def duration_s(self) -> float:
        return max(0.0, self.offset_s - self.onset_s)


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: SessionState
    position_s: float


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """Whether notes are reaching the database or being spooled to the local journal."""

    online: bool
    session_id: Any = None
    saved_notes: int = 0
    spooled_batches: int = 0
    message: str = ""


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session is over and (as far as possible) saved."""

    result: Any  # practice.summary.SessionResult
    reason: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoteHeard:
    """A note just heard, not judged yet (from the engine's ``NoteStarted``).

    Shown at once so the player is not left waiting for the settled pitch; the ``NoteJudged``
    with the same ``note.onset_s`` replaces it, or a ``NoteRetracted`` removes it. ``name``,
    ``in_scale`` and ``degree`` are the scale's view of the rough pitch (None if unknown).
    Never scored, stored or sent to the coach.
    """

    note: NoteStarted
    name: str | None = None
    in_scale: bool | None = None
    degree: str | None = None

    @property
    def onset_s(self) -> float:
        return self.note.onset_s


@dataclass(frozen=True, slots=True)
class NoteRetracted:
    """The ``NoteHeard`` with this onset was not a note after all: remove it."""

    onset_s: float


@dataclass(frozen=True, slots=True)
class ExerciseProgress:
    """`practice --exercise`: verdicts just decided (scoring.exercise.NoteVerdict, in order)
    and the indices of the next expected notes to play (empty when the exercise is done).
    ``onset_s`` is the played note that brought this update (None at start and end). With
    ``--ramp`` the exercise loops: ``pass_number`` (1-based) and ``bpm`` of the pass being
    played, and the passes this note closed (scoring.exercise_loop.PassOutcome)."""

    decided: tuple[Any, ...]
    next_indices: tuple[int, ...]
    exercise: Any  # music.exercises.Exercise
    onset_s: float | None = None
    pass_number: int | None = None
    bpm: float | None = None
    closed: tuple[Any, ...] = ()
    pass_verdicts: tuple[str, ...] = ()  # the verdicts of the pass being played, so far
