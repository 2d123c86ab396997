"""What a :class:`PracticeSession` tells its subscribers (the TUI, the headless line printer).

Engine events (``LevelUpdate``, ``PitchUpdate``, ``EngineError``) are forwarded unchanged;
these add the session's own view: judged notes with live metrics, state changes, storage
health and the final result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fretcoach_cli.events import NoteEvent

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
