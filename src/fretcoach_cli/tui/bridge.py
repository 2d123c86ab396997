"""Carries session messages from the analysis/writer threads into the Textual app.

``post_message`` is thread-safe and never blocks the audio side. Level and pitch updates come
at block rate (thousands per second with ``--fast``), so they are coalesced: the latest value
sits in a slot and at most one ``Tick`` is in flight. Notes, state changes and the end of the
session are delivered one by one.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.message import Message

from fretcoach_cli.events import LevelUpdate, PitchUpdate


class SessionMessage(Message):
    """A practice-session message (NoteJudged, StateChanged, …) for the UI thread."""

    def __init__(self, payload: Any) -> None:
        super().__init__()
        self.payload = payload


class Tick(Message):
    """Fresh level/pitch values are waiting in the bridge's slots."""


class Bridge:
    """Subscriber that turns session messages into Textual messages for one target."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._tick_pending = False
        self.level: LevelUpdate | None = None
        self.pitch: PitchUpdate | None = None

    def __call__(self, message: Any) -> None:
        if isinstance(message, LevelUpdate | PitchUpdate):
            with self._lock:
                if isinstance(message, LevelUpdate):
                    self.level = message
                else:
                    self.pitch = message
                if self._tick_pending:
                    return
                self._tick_pending = True
            self._target.post_message(Tick())
            return
        self._target.post_message(SessionMessage(message))

    def take(self) -> tuple[LevelUpdate | None, PitchUpdate | None]:
        """The latest values (UI thread); re-arms the next Tick."""
        with self._lock:
            self._tick_pending = False
            return self.level, self.pitch
