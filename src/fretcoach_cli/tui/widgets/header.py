"""The top bar: what is being practised, the audio clock, the input, its level and whether
notes reach the database — shortened, never wrapped, on narrow terminals."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.fit import ellipsize, first_fitting
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
    """Two lines: scale · key · tempo · clock · state, then input · meter · database."""

    DEFAULT_CSS = """
    SessionHeader { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; }
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
    db_online: reactive[bool | None] = reactive(None)  # None: not known yet
    saved_notes: reactive[int] = reactive(0)
    db_message: reactive[str] = reactive("")

    def set_storage(self, online: bool, saved_notes: int, message: str = "") -> None:
        self.db_online, self.saved_notes, self.db_message = online, saved_notes, message

    @property
    def storage(self) -> str:
        """The database state in full words (what the widest header shows)."""
        return next(self._storage_variants()).plain

    def _storage_variants(self) -> Iterator[Text]:
        if self.db_online is None:
            yield Text("")
        elif self.db_online:
            for words in (f"db ✓ {self.saved_notes} notes saved", f"db ✓ {self.saved_notes} saved",
                          "db ✓"):
                yield Text(words, style=DIM)
        else:
            detail = f" ({self.db_message})" if self.db_message else ""
            for words in (f"db offline — journaling{detail}", "db offline — journaling",
                          "db ✗ journaling", "db ✗"):
                yield Text(words, style=WARN)

    def _first_line(self, *, key: bool, labels: bool, scale_w: int | None = None,
                    tempo: bool = True, limit: bool = True) -> Text:
        top = Text()
        top.append("♪ ", style=f"bold {ACCENT}")
        name = self.scale_name or "—"
        top.append(ellipsize(name, scale_w) if scale_w else name, style=f"bold {TEXT}")
        if key and self.key_name:
            top.append("  key ", style=DIM)
            top.append(self.key_name, style=TEXT)
        if tempo or self.bpm:
            top.append("  tempo " if labels else "  ", style=DIM)
            top.append(f"{self.bpm:g} bpm" if self.bpm else ("free" if labels else "free tempo"),
                       style=TEXT)
        top.append("  ⏱ ", style=DIM)
        top.append(format_clock(self.elapsed_s), style=f"bold {TEXT}")
        if self.limit_s and limit:
            top.append(f" / {format_clock(self.limit_s)}", style=DIM)
        state_style = {"recording": GOOD, "paused": WARN, "finished": ACCENT}.get(self.state, DIM)
        glyph = {"recording": "● ", "paused": "❚❚ ", "finished": "■ "}.get(self.state, "")
        top.append(f"  {glyph}{self.state}", style=f"bold {state_style}")
        return top

    def _first_line_variants(self, width: int) -> Iterator[Text]:
        yield self._first_line(key=True, labels=True)
        yield self._first_line(key=False, labels=True)
        yield self._first_line(key=False, labels=False)
        yield self._first_line(key=False, labels=False, tempo=False)  # free tempo: say less
        terse = self._first_line(key=False, labels=False, tempo=False, limit=False)
        yield terse
        spare = width - (terse.cell_len - len(self.scale_name or "—"))
        yield self._first_line(key=False, labels=False, tempo=False, limit=False,
                               scale_w=max(8, spare))

    def _second_line(self, width: int, meter: int, storage: Text, *,
                     label: bool) -> tuple[Text, int]:
        """The line, and how many cells were left for the source's name."""
        out = Text()
        out.append("input " if label else "", style=DIM)
        level = Text("  ")
        level.append_text(level_meter(self.rms_db, self.clipped, meter))
        if self.rms_db is not None:
            level.append(f" {max(self.rms_db, -99.0):4.0f} dB", style=DIM)
        if self.clipped:
            level.append(" CLIP", style=f"bold {BAD}")
        tail = Text("  ") + storage if storage.plain else Text()
        room = width - out.cell_len - level.cell_len - tail.cell_len
        out.append(ellipsize(self.source_label or "—", max(6, room)), style=TEXT)
        out.append_text(level)
        out.append_text(tail)
        return out, room

    def _second_line_variants(self, width: int) -> Iterator[Text]:
        """The source's name may be cut to 16 cells before the meter or the database note
        shrink: knowing that notes are saved matters more than the file's full path."""
        storages = list(self._storage_variants())
        wanted = min(len(self.source_label or "—"), 16)
        line = Text()
        for meter, label in ((12, True), (8, True), (8, False), (6, False)):
            for storage in storages:
                line, room = self._second_line(width, meter, storage, label=label)
                if room >= wanted:
                    yield line
        yield line

    def render(self) -> Text:
        width = max(20, self.content_size.width or 78)
        out = first_fitting(self._first_line_variants(width), width)
        out.append("\n")
        out.append_text(first_fitting(self._second_line_variants(width), width))
        return out
