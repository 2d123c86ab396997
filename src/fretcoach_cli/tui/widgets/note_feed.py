"""The scrolling note feed: one line per note with its verdicts, newest at the bottom.

A note appears as soon as it is heard, dimmed and without cents (its pitch is not settled
yet); when it is judged the same line is rewritten in place with its verdicts, and a note
that turns out not to be one has its line removed — so the feed never keeps a ghost. Lines
stay in onset order: a note named only after the next one was (the engine waits out a
reverberant tail before naming a note) is put back above it.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import TypeVar

from rich.measure import measure_renderables
from rich.segment import Segment
from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
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
    provisional: bool = False  # heard, not judged yet
    exercise: str | None = None  # practice --exercise: this note's verdict, e.g. 'late +42 ms'


def format_row(row: FeedRow, *, compact: bool = False) -> Text:
    """One feed line: about 49 cells, or 30 with ``compact`` (symbols for the verdicts:
    ✓ in scale and in tune, ~ in scale but out of tune, ✖ not in scale)."""
    m, s = divmod(max(0.0, row.time_s), 60)
    out = Text()
    out.append(f"{int(m):02d}:{s:04.1f} ", style=DIM)
    if row.provisional:  # kept narrower than any judged row (the log's width only grows)
        out.append(f"{row.name or '…':<4}", style=f"bold {DIM}")
        out.append("   …¢ " if not compact else "  …¢ ", style=DIM)
        out.append("settling" if not compact else "…", style=f"italic {DIM}")
        return out
    if row.kind == "missed":  # practice --exercise: an expected note nobody played
        out.append(f"{row.name or '?':<4}", style=f"bold {DIM}")
        out.append(f" ✗ {row.exercise or 'missed'}", style=f"bold {BAD}")
        return out
    if row.name is None:
        label = "chord" if row.kind == "polyphonic" else "unclear"
        out.append(f"{label:<7}", style=f"italic {WARN}")
        out.append(" not a clean single note" if not compact else " not one note", style=DIM)
        return out
    colour = BAD if row.in_scale is False else (WARN if row.in_tune is False else GOOD)
    out.append(f"{row.name:<4}", style=f"bold {colour}")
    if compact:
        cents = "" if row.cents is None else f"{row.cents:+.0f}¢"
        out.append(f"{cents:>4} ", style=colour)
    else:
        out.append(f"{row.cents:+4.0f}¢ " if row.cents is not None else "      ", style=colour)
    if compact:
        if row.in_scale is False:
            out.append("✖ not in scale", style=BAD)
        else:
            out.append("✓ " if row.in_tune else "~ ", style=GOOD if row.in_tune else WARN)
            out.append(f"{row.degree or '':<3}", style=TEXT)
    elif row.in_scale is False:
        out.append("✖ not in scale ", style=BAD)
    else:
        out.append("✓ scale ", style=GOOD)
        out.append("✓ tune   " if row.in_tune else "~ tune   ", style=GOOD if row.in_tune else WARN)
        if row.degree:
            out.append(f"deg {row.degree:<3}", style=TEXT)
    if row.timing_ms is not None:
        ok = abs(row.timing_ms) <= 40
        out.append(f" {row.timing_ms:+4.0f}{'ms' if compact else ' ms'}",
                   style=GOOD if ok else WARN)
    if row.exercise:
        good = row.exercise.startswith("hit")
        # compact rows already show the ms: the verdict's first word ("late", "wrong") fits
        label = row.exercise.split()[0] if compact else row.exercise
        out.append(f" {'✓' if good else '✗'} {label}", style=f"bold {GOOD if good else BAD}"
                   if good or not row.exercise.startswith(("early", "late", "extra"))
                   else f"bold {WARN}")
    return out


FULL_ROW_CELLS = 50  # below this content width the feed switches to compact rows
COMPACT_LEGENDS = ("✓ in tune  ~ off  ✖ not in scale", "✓ ok  ~ off  ✖ wrong", "")


_Row = TypeVar("_Row")


def _edit_at(rows: MutableSequence[_Row], i: int, new: _Row | None, insert: bool) -> None:
    """Delete ``rows[i]`` (``new`` None), insert ``new`` before it, or replace it; the same
    edit for the rendered lines and for the writes still queued before the first layout."""
    if new is None:
        del rows[i]
    elif insert:
        rows.insert(i, new)
    else:
        rows[i] = new


class NoteFeed(RichLog):
    """A bounded log of notes that keeps scrolling to the newest.

    ``count`` is the number of judged rows; ``pending`` maps the onset of each note still
    shown provisionally to its absolute line number (every row is exactly one line);
    ``heard`` and ``retracted`` count provisional rows shown and removed.
    """

    DEFAULT_CSS = """
    NoteFeed {
        height: 1fr; padding: 0 1; background: $surface; scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, auto_scroll=True, **kwargs)
        self.count = 0
        self.pending: dict[float, int] = {}
        self.heard = 0
        self.retracted = 0
        # onset and row of every line written and not removed, in line order: index =
        # absolute line. The rows are kept so a resize can draw them again at the new width.
        self._onsets: list[float] = []
        self._rows: list[FeedRow] = []
        self.compact = False
        self._drawn_width = 0

    def add(self, row: FeedRow) -> None:
        """A judged note that was never shown provisionally: a new line."""
        self.count += 1
        self._append(row)

    def add_provisional(self, onset_s: float, row: FeedRow) -> None:
        """A note just heard: a dimmed line, rewritten by :meth:`settle` or removed by
        :meth:`retract` (same ``onset_s``)."""
        if self._find(onset_s) is not None:
            return
        self.heard += 1
        later = len(self._onsets)
        while later > 0 and self._onsets[later - 1] > onset_s + 0.001:
            later -= 1
        if later < len(self._onsets) and self._splice(later, self._format(row), insert=True):
            self.pending = {k: (v + 1 if v >= later else v) for k, v in self.pending.items()}
            self._onsets.insert(later, onset_s)
            self._rows.insert(later, row)
            self.pending[onset_s] = later
        else:  # the newest, or the line it belongs at has scrolled out: at the bottom
            self.pending[onset_s] = len(self._onsets)
            self._append(row, onset_s)

    def settle(self, onset_s: float, row: FeedRow) -> None:
        """The judged note: rewrite its provisional line in place (or add a line)."""
        key = self._find(onset_s)
        if key is None:
            self.add(row)
            return
        self.count += 1
        line = self.pending.pop(key)
        self._rows[line] = row
        self._splice(line, self._format(row))

    def retract(self, onset_s: float) -> None:
        """Not a note after all: remove its provisional line."""
        key = self._find(onset_s)
        if key is None:
            return
        line = self.pending.pop(key)
        self.retracted += 1
        self._splice(line, None)
        del self._onsets[line]
        del self._rows[line]
        self.pending = {k: (v - 1 if v > line else v) for k, v in self.pending.items()}

    def rewrite(self, onset_s: float, row: FeedRow) -> bool:
        """Redraw the line of a note already listed (say, when more becomes known about it
        after it was judged); False when no kept line has that onset."""
        line = next((i for i in range(len(self._onsets) - 1, -1, -1)
                     if abs(self._onsets[i] - onset_s) <= 0.001), None)
        if line is None:
            return False
        self._rows[line] = row
        self._splice(line, self._format(row))
        return True

    def row_at(self, onset_s: float) -> FeedRow | None:
        """The row of the kept line with this onset (newest first), if any."""
        return next((self._rows[i] for i in range(len(self._onsets) - 1, -1, -1)
                     if abs(self._onsets[i] - onset_s) <= 0.001), None)

    # -- lines ---------------------------------------------------------------------------
    def _find(self, onset_s: float) -> float | None:
        if onset_s in self.pending:
            return onset_s
        near = [k for k in self.pending if abs(k - onset_s) <= 0.001]
        return near[0] if near else None

    def _format(self, row: FeedRow) -> Text:
        return format_row(row, compact=self.compact)

    def _append(self, row: FeedRow, onset_s: float | None = None) -> None:
        self._onsets.append(row.time_s if onset_s is None else onset_s)
        self._rows.append(row)
        self.write(self._format(row))

    # -- resizing ------------------------------------------------------------------------
    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._reflow)

    def _reflow(self) -> None:
        """Draw every kept row again when the width changed: lines are rendered once at the
        width they were written at, so without this a feed written while the terminal was
        small stays cropped after it grows (and compact rows stay compact)."""
        width = self.scrollable_content_region.width
        if not self._size_known or width <= 0 or width == self._drawn_width:
            return
        self._drawn_width = width
        self.compact = width < FULL_ROW_CELLS
        if isinstance(self.parent, Widget):
            legend = next((t for t in COMPACT_LEGENDS if len(t) + 6 <= self.parent.size.width),
                          "")
            self.parent.border_subtitle = legend if self.compact else ""
        keep = self._rows[-self.max_lines:] if self.max_lines else self._rows
        self.clear()
        for row in keep:
            self.write(self._format(row), scroll_end=False)
        self._start_line = len(self._rows) - len(keep)
        self.scroll_end(animate=False, immediate=False, x_axis=False)

    def _splice(self, line: int, text: Text | None, *, insert: bool = False) -> bool:
        """Rewrite absolute line ``line`` (delete it with None, or insert before it), rendered
        as ``write`` would; False when that line is no longer (or not yet) in the log."""
        if not self._size_known:  # nothing rendered yet: edit the queued writes
            deferred = self._deferred_renders
            i = line - self._start_line - len(self.lines)
            if not 0 <= i < len(deferred):
                return False
            _edit_at(deferred, i, None if text is None
                     else deferred[i]._replace(content=text.copy()), insert)
            return True
        i = line - self._start_line
        if not 0 <= i < len(self.lines):
            return False  # already scrolled out of the bounded log
        _edit_at(self.lines, i, None if text is None else self._strip(text), insert)
        self._line_cache.clear()
        self.virtual_size = Size(self._widest_line_width, len(self.lines))
        self.refresh()
        return True

    def _strip(self, text: Text) -> Strip:
        """One unwrapped line, at the width ``RichLog.write`` would give it."""
        console = self.app.console
        options = console.options.update(overflow="ignore", no_wrap=True)
        natural = measure_renderables(console, options, [text]).maximum
        width = max(min(natural, self.scrollable_content_region.width), self.min_width)
        lines = list(Segment.split_lines(console.render(text, options.update_width(width))))
        if not lines:
            return Strip.blank(width)
        strip = Strip(lines[0])
        self._widest_line_width = max(self._widest_line_width, strip.cell_length)
        return strip
