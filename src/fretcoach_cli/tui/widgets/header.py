"""The top bar: what is being practised, the audio clock, the input and its level."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, FAINT, GOOD, TEXT, WARN


def format_clock(seconds: float) -> str:
    """mm:ss (h:mm:ss past an hour) of audio time."""
    total = max(0, int(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def level_meter(rms_db: float | None, clipped: bool, cells: int = 12) -> Text:
    """A -60…0 dBFS meter; green, amber above -12 dB, red when clipping."""
    out = Text()
    if rms_db is None:
        return Text("░" * cells, style=FAINT)
    frac = max(0.0, min(1.0, (rms_db + 60.0) / 60.0))
    lit = round(frac * cells)
    for i in range(cells):
        if i < lit:
            colour = BAD if clipped else (WARN if i >= cells * 0.8 else GOOD)
            out.append("█", style=colour)
        else:
            out.append("░", style=FAINT)
    return out


class SessionHeader(Widget):
    """One or two lines: scale · key · tempo · clock · state · source + meter."""

    DEFAULT_CSS = """
    SessionHeader { height: 2; padding: 0 1; background: $panel; }
    """

    scale_name: reactive[str] = reactive("")
    key_name: reactive[str] = reactive("")
    bpm: reactive[float | None] = reactive(None)
    elapsed_s: reactive[float] = reactive(0.0)
    limit_s: reactive[float | None] = reactive(None)
    source_label: reactive[str] = reactive("")
    rms_db: reactive[float | None] = reactive(None)
    clipped: reactive[bool] = reactive(False)
    state: reactive[str] = reactive("starting")
    storage: reactive[str] = reactive("")

    def render(self) -> Text:
        top = Text()
        top.append(" ♪ ", style=f"bold {ACCENT}")
        top.append(self.scale_name or "—", style=f"bold {TEXT}")
        if self.key_name:
            top.append("  key ", style=DIM)
            top.append(self.key_name, style=TEXT)
        top.append("  tempo ", style=DIM)
        top.append(f"{self.bpm:g} bpm" if self.bpm else "free", style=TEXT)
        top.append("  ⏱ ", style=DIM)
        top.append(format_clock(self.elapsed_s), style=f"bold {TEXT}")
        if self.limit_s:
            top.append(f" / {format_clock(self.limit_s)}", style=DIM)
        state_style = {"recording": GOOD, "paused": WARN, "finished": ACCENT}.get(self.state, DIM)
        glyph = {"recording": "● ", "paused": "❚❚ ", "finished": "■ "}.get(self.state, "")
        top.append(f"  {glyph}{self.state}", style=f"bold {state_style}")
        bottom = Text()
        bottom.append(" input ", style=DIM)
        bottom.append(self.source_label or "—", style=TEXT)
        bottom.append("  ")
        bottom.append_text(level_meter(self.rms_db, self.clipped))
        if self.rms_db is not None:
            bottom.append(f" {max(self.rms_db, -99.0):4.0f} dB", style=DIM)
        if self.clipped:
            bottom.append(" CLIP", style=f"bold {BAD}")
        if self.storage:
            bottom.append(f"  {self.storage}", style=WARN if "offline" in self.storage else DIM)
        top.append("\n")
        top.append_text(bottom)
        return top
