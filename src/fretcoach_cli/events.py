"""Typed values that flow one way: source → pitch track → NoteEvent → scorer → (store, TUI, coach).

These are shared by the audio engine, scoring, storage and the UI, so they live at the top of
the package and depend on nothing but the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

NoteKind = Literal["note", "polyphonic", "unclear"]


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """One detected note (or one onset that did not give a clear single pitch).

    ``midi`` is the fractional MIDI number of the note's settled pitch, already computed
    against the configured A4, so ``cents`` is simply the distance to the nearest
    equal-tempered semitone. Times are audio-clock seconds from the start of the input.
    ``kind`` is "note" for a clear single pitch, "polyphonic" for a chord/double stop and
    "unclear" for an onset with no stable pitch (muted string, noise burst); those two carry
    ``midi=None`` and count against clean playing, never as wrong notes.
    """

    onset_s: float
    offset_s: float
    midi: float | None
    confidence: float
    kind: NoteKind = "note"
    level_db: float = -math.inf

    @property
    def is_note(self) -> bool:
        return self.kind == "note" and self.midi is not None

    @property
    def nearest_midi(self) -> int | None:
        return None if self.midi is None else round(self.midi)

    @property
    def cents(self) -> float | None:
        if self.midi is None:
            return None
        return (self.midi - round(self.midi)) * 100.0

    @property
    def pitch_class(self) -> int | None:
        n = self.nearest_midi
        return None if n is None else n % 12

    @property
    def duration_s(self) -> float:
        return max(0.0, self.offset_s - self.onset_s)


@dataclass(frozen=True, slots=True)
class NoteStarted:
    """A note has begun: shown at once, judged later by its ``NoteEvent``.

    A ``NoteEvent`` is only emitted once the settled pitch is known (the note ended, or 1 s of
    it rang), because plucks start sharp. This provisional event comes as soon as the onset
    has a confirmed first pitch estimate (typically 48–80 ms after a pluck, up to 200 ms for a
    legato change), so the UI can show the note while the player still hears it. ``midi`` is
    that rough estimate (None when no clear pitch yet), ``emitted_at_s`` the audio position at
    which it was sent.

    Contract (engine): every ``NoteEvent`` is preceded by exactly one ``NoteStarted`` with the
    same ``onset_s`` (bit-identical), and every ``NoteStarted`` is followed by exactly one
    ``NoteEvent`` or one :class:`NoteDropped` with that ``onset_s``. The ``onset_s`` is the
    note's identity; nothing else about the final note may be inferred from this event. (A
    note announced at a faint flux peak whose pitch change the segmenter then times a little
    differently is re-keyed: a ``NoteDropped`` and the new ``NoteStarted``, back to back.)
    """

    onset_s: float
    midi: float | None
    confidence: float
    emitted_at_s: float

    @property
    def nearest_midi(self) -> int | None:
        return None if self.midi is None else round(self.midi)


@dataclass(frozen=True, slots=True)
class NoteDropped:
    """The note announced by the ``NoteStarted`` with this ``onset_s`` was not a note after all
    (a flicker, noise, a string being damped): forget it. No ``NoteEvent`` will follow."""

    onset_s: float
    emitted_at_s: float


@dataclass(frozen=True, slots=True)
class NoteEnded:
    """The note whose ``NoteEvent`` (same ``onset_s``) went out while it still rang has
    stopped sounding at ``offset_s``: its true end.

    A ringing note is judged ``report_after_s`` (1 s) after its onset so the player sees the
    verdict while still playing; that event's ``offset_s`` is only the judging point. When the
    string stops (it dies away, is damped, or the next note starts) this event gives the real
    end, later than the judged one. Follow it wherever durations matter (stored notes, the
    JSON ``offset_s``, metrics): :func:`with_end` applies it to a list of notes. Nothing else
    about the note changes.
    """

    onset_s: float
    offset_s: float
    emitted_at_s: float


def with_end(notes: list[NoteEvent], ended: NoteEnded) -> int | None:
    """Apply ``ended`` to ``notes`` in place (the matching note is replaced by one with the
    new ``offset_s``); the index of the note changed, or None when it is not in the list.

    The ended note is almost always the last one (a note ends before the next starts), so
    the search runs from the end.
    """
    for i in range(len(notes) - 1, -1, -1):
        if notes[i].onset_s == ended.onset_s:
            notes[i] = replace(notes[i], offset_s=max(notes[i].offset_s, ended.offset_s))
            return i
        if notes[i].onset_s < ended.onset_s:
            break
    return None


@dataclass(frozen=True, slots=True)
class LevelUpdate:
    """Input level of the latest block, for the meter (dBFS) and clipping warnings."""

    time_s: float
    rms_db: float
    peak_db: float
    clipped: bool = False


@dataclass(frozen=True, slots=True)
class PitchUpdate:
    """The current (possibly unsettled) pitch, for the tuner needle; midi None = silence."""

    time_s: float
    midi: float | None
    confidence: float


@dataclass(frozen=True, slots=True)
class MetricsUpdate:
    """Sliding-window and whole-session metrics after a new note (see scoring.metrics)."""

    time_s: float
    window: Any
    session: Any


@dataclass(frozen=True, slots=True)
class EngineError:
    """A failure inside the engine thread, delivered to subscribers instead of raised."""

    message: str
    exit_code: int = 1


@dataclass(frozen=True, slots=True)
class EngineFinished:
    """The source is exhausted or the engine was stopped; ``duration_s`` of audio consumed."""

    duration_s: float
    reason: str = "end of input"
    extra: dict[str, Any] = field(default_factory=dict)
