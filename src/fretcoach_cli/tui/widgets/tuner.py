"""The tuner needle: the current note, its cents offset and whether it belongs to the scale."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.fit import first_fitting
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


def needle_line(cents: float | None, width: int, colour: str, ticks: int = 5) -> Text:
    """A horizontal scale from -50 to +50 cents with the needle at ``cents`` and ``ticks``
    marks each side of the centre."""
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
        elif (i - mid) % max(1, mid // ticks) == 0:
            line.append("┼", style=DIM)
        else:
            line.append("─", style=FAINT)
    return line


def reading_line(r: TunerReading, colour: str, terse: int = 0) -> Text:
    """The note, its cents and verdicts in one line; ``terse`` 0–2 shortens the words."""
    out = Text()
    if r.name is None:
        out.append(" —  ", style=f"bold {DIM}")
        out.append("listening…", style=DIM)
        return out
    out.append(f" {r.name:<4}", style=f"bold {colour}")
    if r.cents is not None:
        out.append(f"{r.cents:+5.0f}¢ " if terse < 2 else f"{r.cents:+4.0f}¢",
                   style=f"bold {colour}")
    if r.in_scale is False:
        out.append((" not in scale", " not in scale", " ✖ scale")[terse], style=BAD)
    elif r.in_scale:
        out.append((" in scale", " in scale", " ✓")[terse], style=GOOD)
        if r.degree:
            out.append((f" · degree {r.degree}", f" · {r.degree}", f" {r.degree}")[terse],
                       style=TEXT)
    if r.in_tune is False:
        out.append((" · out of tune", " · off", " ~")[terse], style=WARN)
    if not r.settled:
        out.append((" · settling", " …", " …")[terse], style=DIM)
    return out


class Tuner(Widget):
    """Big note name plus a needle; coloured green/amber/red for in tune / out of tune / wrong.

    Given one line (a narrow terminal), note, cents and a short needle share it.
    """

    DEFAULT_CSS = """
    Tuner { height: 4; padding: 0 1; text-wrap: nowrap; }
    """

    reading: reactive[TunerReading] = reactive(TunerReading, layout=False)

    def render(self) -> Text:
        r = self.reading
        colour = needle_colour(r)
        size = self.content_size
        avail = max(20, size.width or 40)
        if size.height == 1:
            return self._one_line(r, colour, avail)
        line = first_fitting((reading_line(r, colour, t) for t in range(3)), avail)
        width = max(11, avail - 6)
        out = Text()
        out.append_text(line)
        out.append("\n")
        if size.height >= 4:
            out.append("\n")
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

    def _one_line(self, r: TunerReading, colour: str, avail: int) -> Text:
        for terse in range(3):
            line = reading_line(r, colour, terse)
            room = avail - line.cell_len - 6
            if room >= 15 or terse == 2:
                break
        line.append("  ♭", style=DIM)
        line.append_text(needle_line(r.cents, max(11, min(31, room)), colour, ticks=2))
        line.append("♯", style=DIM)
        return first_fitting([line], avail)
