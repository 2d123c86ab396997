"""The scrolling note feed: one line per note with its verdicts, newest at the bottom.

A note appears as soon as it is heard, dimmed and without cents (its pitch is not settled
yet); when it is judged the same line is rewritten in place with its verdicts, and a note
that turns out not to be one has its line removed — so the feed never keeps a ghost. Lines
stay in onset order: a note named only after the next one was (the engine waits out a
reverberant tail before naming a note) is put back above it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.measure import measure_renderables
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
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


def format_row(row: FeedRow) -> Text:
    m, s = divmod(max(0.0, row.time_s), 60)
    out = Text()
    out.append(f"{int(m):02d}:{s:04.1f} ", style=DIM)
    if row.provisional:  # kept narrower than any judged row (the log's width only grows)
        out.append(f"{row.name or '…':<4}", style=f"bold {DIM}")
        out.append("   …¢ ", style=DIM)
        out.append("settling", style=f"italic {DIM}")
        return out
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
    """A bounded log of notes that keeps scrolling to the newest.

    ``count`` is the number of judged rows; ``pending`` maps the onset of each note still
    shown provisionally to its absolute line number (every row is exactly one line);
    ``heard`` and ``retracted`` count provisional rows shown and removed.
    """

    DEFAULT_CSS = """
    NoteFeed { height: 1fr; padding: 0 1; background: $surface; scrollbar-size-vertical: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, auto_scroll=True, **kwargs)
        self.count = 0
        self.pending: dict[float, int] = {}
        self.heard = 0
        self.retracted = 0
        # onset of every row written and not removed, in line order: index = absolute line
        self._onsets: list[float] = []

    def add(self, row: FeedRow) -> None:
        """A judged note that was never shown provisionally: a new line."""
        self.count += 1
        self._append(row.time_s, format_row(row))

    def add_provisional(self, onset_s: float, row: FeedRow) -> None:
        """A note just heard: a dimmed line, rewritten by :meth:`settle` or removed by
        :meth:`retract` (same ``onset_s``)."""
        if self._find(onset_s) is not None:
            return
        self.heard += 1
        later = len(self._onsets)
        while later > 0 and self._onsets[later - 1] > onset_s + 0.001:
            later -= 1
        if later < len(self._onsets) and self._splice(later, format_row(row), insert=True):
            self.pending = {k: (v + 1 if v >= later else v) for k, v in self.pending.items()}
            self._onsets.insert(later, onset_s)
            self.pending[onset_s] = later
        else:  # the newest, or the line it belongs at has scrolled out: at the bottom
            self.pending[onset_s] = len(self._onsets)
            self._append(onset_s, format_row(row))

    def settle(self, onset_s: float, row: FeedRow) -> None:
        """The judged note: rewrite its provisional line in place (or add a line)."""
        key = self._find(onset_s)
        if key is None:
            self.add(row)
            return
        self.count += 1
        self._splice(self.pending.pop(key), format_row(row))

    def retract(self, onset_s: float) -> None:
        """Not a note after all: remove its provisional line."""
        key = self._find(onset_s)
        if key is None:
            return
        line = self.pending.pop(key)
        self.retracted += 1
        self._splice(line, None)
        del self._onsets[line]
        self.pending = {k: (v - 1 if v > line else v) for k, v in self.pending.items()}

    # -- lines ---------------------------------------------------------------------------
    def _find(self, onset_s: float) -> float | None:
        if onset_s in self.pending:
            return onset_s
        near = [k for k in self.pending if abs(k - onset_s) <= 0.001]
        return near[0] if near else None

    def _append(self, onset_s: float, text: Text) -> None:
        self._onsets.append(onset_s)
        self.write(text)

    def _splice(self, line: int, text: Text | None, *, insert: bool = False) -> bool:
        """Rewrite absolute line ``line`` (delete it with None, or insert before it), rendered
        as ``write`` would; False when that line is no longer (or not yet) in the log."""
        if not self._size_known:  # nothing rendered yet: edit the queued writes
            rows: list = self._deferred_renders
            i = line - self._start_line - len(self.lines)
        else:
            rows = self.lines
            i = line - self._start_line
        if not 0 <= i < len(rows):
            return False  # already scrolled out of the bounded log
        if text is None:
            del rows[i]
        else:
            new = (self._strip(text) if rows is self.lines
                   else rows[i]._replace(content=text.copy()))
            if insert:
                rows.insert(i, new)
            else:
                rows[i] = new
        if rows is self.lines:
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
