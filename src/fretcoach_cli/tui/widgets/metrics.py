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


SHORT_LABELS = {"pitch_accuracy": "Pitch", "scale_conformity": "Scale",
                "timing_stability": "Timing", "clean_playing": "Clean", "overall_score": "Overall"}
MIN_CELLS = 6
MAX_CELLS = 40  # past this a longer bar shows nothing more, so the figures stay near it
WEAKEST = " ◀ weakest"
NUMBERS = 10  # "  now  ses" under "  now  session"


class MetricBars(Widget):
    """Pitch accuracy, scale conformity, timing stability, clean playing and overall.

    The bar takes what width is left after the labels and figures; below that, labels are
    shortened (Timing stability → Timing), so a row never wraps.
    """

    DEFAULT_CSS = """
    MetricBars { height: auto; min-height: 6; padding: 0 1; text-wrap: nowrap; }
    """

    rows: reactive[tuple[MetricRow, ...]] = reactive(tuple)
    window_label: reactive[str] = reactive("last 20 notes")
    updates = 0  # how often the figures changed (tests and the TUI benchmark read it)

    def watch_rows(self) -> None:
        self.updates += 1

    def _labels(self, width: int) -> tuple[list[str], int]:
        full = [r.label for r in self.rows]
        label_w = max((len(t) for t in full), default=10) + 1
        if width - label_w - NUMBERS - len(WEAKEST) >= MIN_CELLS:
            return full, label_w
        short = [SHORT_LABELS.get(r.key, r.label) for r in self.rows]
        return short, max((len(t) for t in short), default=7) + 1

    def render(self) -> Text:
        width = self.content_size.width or 44
        labels, label_w = self._labels(width)
        cells = max(MIN_CELLS, min(MAX_CELLS, width - label_w - NUMBERS - len(WEAKEST)))
        out = Text()
        out.append(" " * label_w, style=DIM)
        short = " ".join(self.window_label.split()[:2])  # "last 20 notes" → "last 20"
        heading = next((h for h in (self.window_label, short) if len(h) <= cells), "")
        out.append(f"{heading:<{cells}}", style=DIM)
        out.append("  now  session", style=DIM)
        for row, label in zip(self.rows, labels, strict=True):
            out.append("\n")
            style = f"bold {WARN}" if row.weakest else TEXT
            out.append(f"{label:<{label_w}}", style=style)
            out.append_text(bar(row.window, cells))
            out.append(f"  {_num(row.window)}", style=f"bold {score_colour(row.window)}")
            out.append(f"  {_num(row.session)}", style=score_colour(row.session))
            if row.weakest:
                out.append(WEAKEST, style=f"bold {WARN}")
        return out
