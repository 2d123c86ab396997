"""The tuner needle: the current note, its cents offset and whether it belongs to the scale."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, FAINT, GOOD, TEXT, WARN


@dataclass(frozen=True)
class TunerReading:
    """What the needle shows; ``name`` None means silence."""

    name: str | None = None
    cents: float | None = None
    in_scale: bool | None = None
    in_tune: bool | None = None
    degree: str | None = None
    settled: bool = True


def needle_colour(reading: TunerReading) -> str:
    if reading.name is None:
        return DIM
    if reading.in_scale is False:
        return BAD
    if reading.in_tune is False:
        return WARN
    return GOOD


def needle_line(cents: float | None, width: int, colour: str) -> Text:
    """A horizontal scale from -50 to +50 cents with the needle at ``cents``."""
    width = max(11, width | 1)  # odd, so 0 cents sits on a cell
    mid = width // 2
    line = Text()
    pos = None
    if cents is not None:
        clamped = max(-50.0, min(50.0, cents))
        pos = mid + round(clamped / 50.0 * mid)
    for i in range(width):
        if i == pos:
            line.append("┃", style=f"bold {colour}")
        elif i == mid:
            line.append("│", style=ACCENT)
        elif abs(i - mid) <= max(1, width // 20):
            line.append("─", style=GOOD)  # the in-tune zone
        elif (i - mid) % max(1, mid // 5) == 0:
            line.append("┼", style=DIM)
        else:
            line.append("─", style=FAINT)
    return line


class Tuner(Widget):
    """Big note name plus a needle; coloured green/amber/red for in tune / out of tune / wrong."""

    DEFAULT_CSS = """
    Tuner { height: 6; padding: 0 1; }
    """

    reading: reactive[TunerReading] = reactive(TunerReading, layout=False)

    def render(self) -> Text:
        r = self.reading
        colour = needle_colour(r)
        width = max(11, self.size.width - 6)
        out = Text()
        if r.name is None:
            out.append("  —  ", style=f"bold {DIM}")
            out.append("listening…", style=DIM)
        else:
            out.append(f" {r.name:<4}", style=f"bold {colour}")
            if r.cents is not None:
                out.append(f"{r.cents:+5.0f}¢ ", style=f"bold {colour}")
            if r.in_scale is False:
                out.append(" not in scale", style=BAD)
            elif r.in_scale:
                out.append(" in scale", style=GOOD)
                if r.degree:
                    out.append(f" · degree {r.degree}", style=TEXT)
            if r.in_tune is False:
                out.append(" · out of tune", style=WARN)
            if not r.settled:
                out.append(" · settling", style=DIM)
        out.append("\n\n")
        out.append(" ♭ ", style=DIM)
        out.append_text(needle_line(r.cents, width, colour))
        out.append(" ♯", style=DIM)
        out.append("\n")
        half = (width | 1) // 2
        scale = Text(" " * 3)
        scale.append("-50".ljust(half - 1), style=DIM)
        scale.append("0", style=ACCENT)
        scale.append("+50".rjust(half), style=DIM)
        out.append_text(scale)
        return out
