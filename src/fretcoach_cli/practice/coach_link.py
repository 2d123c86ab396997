"""The coach as the practice room sees it: one object that streams live tips and writes the
end-of-session summary, built lazily (in a worker thread) from the settings.

``fretcoach_cli.coach.live.LiveCoach`` does the work (model chain with fallbacks, or the
offline coach); this adapter only gives the room the ``(source, tokens)`` shape it renders.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any


class CoachLink:
    """Callable ``(metrics, context) -> (source, token iterator) | None`` (None = busy)."""

    def __init__(self, settings: Any = None, coach: Any = None) -> None:
        self._settings = settings
        self._coach = coach
        self._lock = threading.Lock()

    @property
    def coach(self) -> Any:
        with self._lock:
            if self._coach is None:
                from fretcoach_cli.coach.live import LiveCoach

                if self._settings is None:
                    self._coach = LiveCoach()  # offline coach
                else:
                    self._coach = LiveCoach.from_settings(self._settings)
            return self._coach

    def __call__(self, metrics: Any, context: dict[str, Any]) -> tuple[str, Iterator[str]] | None:
        from fretcoach_cli.coach.live import LiveContext

        live = self.coach.stream(LiveContext(metrics, context["notes"], context["scale"]))
        if live is None:
            return None
        tokens = iter(live)
        first = next(tokens, None)
        if first is None:
            return live.source or "offline", iter(())
        return live.source or "offline", _chain(first, tokens)

    def summary(self, result: Any, events: list[Any], scale: Any) -> str | None:
        """The coach's end-of-session words (offline when no model answers)."""
        reply = self.coach.summary(result.metrics, events, scale, result.duration_s)
        return reply.text if reply is not None else None

    def close(self) -> None:
        if self._coach is not None:
            self._coach.close()


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
