"""Live metric bars: the sliding window as a bar, the session total beside it, weakest marked."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import DIM, FAINT, TEXT, WARN, score_colour

BLOCKS = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class MetricRow:
    """One metric: 0–100 scores (None = not enough notes yet)."""

    key: str
    label: str
    window: float | None
    session: float | None
    weakest: bool = False


def bar(value: float | None, cells: int) -> Text:
    """A smooth horizontal bar using eighth blocks."""
    out = Text()
    if value is None:
        return Text("·" * cells, style=FAINT)
    colour = score_colour(value)
    eighths = round(max(0.0, min(100.0, value)) / 100.0 * cells * 8)
    full, part = divmod(eighths, 8)
    out.append("█" * full, style=colour)
    if full < cells:
        out.append(BLOCKS[part] if part else " ", style=f"{colour} on {FAINT}")
        out.append(" " * (cells - full - 1), style=f"on {FAINT}")
    return out


def _num(value: float | None) -> str:
    return " —" if value is None else f"{value:3.0f}"


class MetricBars(Widget):
    """Pitch accuracy, scale conformity, timing stability, clean playing and overall."""

    DEFAULT_CSS = """
    MetricBars { height: auto; min-height: 7; padding: 0 1; }
    """

    rows: reactive[tuple[MetricRow, ...]] = reactive(tuple)
    window_label: reactive[str] = reactive("last 20 notes")
    updates = 0  # how often the figures changed (tests and the TUI benchmark read it)

    def watch_rows(self) -> None:
        self.updates += 1

    def render(self) -> Text:
        label_w = max((len(r.label) for r in self.rows), default=10) + 1
        cells = max(6, self.size.width - label_w - 22)
        out = Text()
        out.append(" " * label_w, style=DIM)
        out.append(f"{self.window_label:<{cells}}", style=DIM)
        out.append("  now  session", style=DIM)
        for row in self.rows:
            out.append("\n")
            style = f"bold {WARN}" if row.weakest else TEXT
            out.append(f"{row.label:<{label_w}}", style=style)
            out.append_text(bar(row.window, cells))
            out.append(f"  {_num(row.window)}", style=f"bold {score_colour(row.window)}")
            out.append(f"  {_num(row.session)}", style=score_colour(row.session))
            if row.weakest:
                out.append(" ◀ weakest", style=f"bold {WARN}")
        return out
