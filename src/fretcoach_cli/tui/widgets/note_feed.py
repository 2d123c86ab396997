"""The scrolling note feed: one line per note with its verdicts, newest at the bottom."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import RichLog

from fretcoach_cli.tui.palette import BAD, DIM, GOOD, TEXT, WARN


@dataclass(frozen=True)
class FeedRow:
    """A judged note as the feed shows it (``name`` None for unclear/polyphonic onsets)."""

    time_s: float
    name: str | None
    cents: float | None
    in_scale: bool | None
    in_tune: bool | None
    degree: str | None = None
    timing_ms: float | None = None
    kind: str = "note"


def format_row(row: FeedRow) -> Text:
    m, s = divmod(max(0.0, row.time_s), 60)
    out = Text()
    out.append(f"{int(m):02d}:{s:04.1f} ", style=DIM)
    if row.name is None:
        label = "chord" if row.kind == "polyphonic" else "unclear"
        out.append(f"{label:<7}", style=f"italic {WARN}")
        out.append(" not a clean single note", style=DIM)
        return out
    colour = BAD if row.in_scale is False else (WARN if row.in_tune is False else GOOD)
    out.append(f"{row.name:<4}", style=f"bold {colour}")
    out.append(f"{row.cents:+4.0f}¢ " if row.cents is not None else "      ", style=colour)
    if row.in_scale is False:
        out.append("✖ not in scale ", style=BAD)
    else:
        out.append("✓ scale ", style=GOOD)
        out.append("✓ tune   " if row.in_tune else "~ tune   ", style=GOOD if row.in_tune else WARN)
        if row.degree:
            out.append(f"deg {row.degree:<3}", style=TEXT)
    if row.timing_ms is not None:
        ok = abs(row.timing_ms) <= 40
        out.append(f" {row.timing_ms:+4.0f} ms", style=GOOD if ok else WARN)
    return out


class NoteFeed(RichLog):
    """A bounded log of judged notes that keeps scrolling to the newest."""

    DEFAULT_CSS = """
    NoteFeed { height: 1fr; padding: 0 1; background: $surface; scrollbar-size-vertical: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, auto_scroll=True, **kwargs)
        self.count = 0

    def add(self, row: FeedRow) -> None:
        self.count += 1
        self.write(format_row(row))
