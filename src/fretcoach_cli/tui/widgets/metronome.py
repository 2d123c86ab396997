"""The click display: which beat of the bar the audio clock is on at the target tempo."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, DIM, FAINT, TEXT


def beat_at(time_s: float, bpm: float, beats_per_bar: int = 4) -> int:
    """Zero-based beat of the bar at audio time ``time_s`` (the grid starts at 0 s)."""
    return math.floor(time_s * bpm / 60.0) % beats_per_bar


class Metronome(Widget):
    """Four beat lamps, the downbeat accented; dimmed when switched off."""

    DEFAULT_CSS = """
    Metronome { height: 1; padding: 0 1; text-wrap: nowrap; }
    """

    bpm: reactive[float | None] = reactive(None)
    time_s: reactive[float] = reactive(0.0)
    enabled: reactive[bool] = reactive(True)

    def render(self) -> Text:
        out = Text()
        if not self.bpm:
            width = self.content_size.width or 40
            words = next((w for w in ("♩ free tempo (set --bpm for a click)",
                                      "♩ free tempo (--bpm for a click)", "♩ free tempo")
                          if len(w) <= width), "♩")
            out.append(words, style=DIM)
            return out
        out.append(f"♩ {self.bpm:g} ", style=f"bold {TEXT}")
        if not self.enabled:
            out.append("click off (m)", style=DIM)
            return out
        beat = beat_at(self.time_s, self.bpm)
        for i in range(4):
            if i == beat:
                out.append(" ● ", style=f"bold {ACCENT if i == 0 else TEXT}")
            else:
                out.append(" ○ ", style=FAINT)
        return out
