"""A guitar neck in the player's tuning: scale positions, the root, the last notes played.

Strings are drawn like tablature (high e on top). Each fret is three cells of string plus a
fret wire, so the neck shows as many frets as its width allows, up to 24: frets 0–24 take
103 cells, 0–17 fit an 80-column terminal, and a narrower neck shows a window of frets
around where the last notes were played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, FAINT, GOOD, TEXT, WARN

MarkStatus = Literal["good", "off", "wrong", "pending"]  # pending: heard, not judged yet
STANDARD_TUNING = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4, low to high
STRING_NAMES = ("E", "A", "D", "G", "B", "e")
INLAYS = {3: "•", 5: "•", 7: "•", 9: "•", 12: "••", 15: "•", 17: "•", 19: "•", 21: "•",
          24: "••"}
MAX_FRETS = 24
MIN_FRETS = 5
LABEL_CELLS = 3  # " e " before the nut
FRET_CELLS = 4  # "─●─│"


def frets_for_width(width: int, most: int = MAX_FRETS) -> int:
    """How many frets after the first shown one fit in ``width`` cells (at least 5)."""
    return max(MIN_FRETS, min(most, (width - LABEL_CELLS) // FRET_CELLS - 1))


def fret_window(marks: tuple[FretMark, ...], shown: int, most: int = MAX_FRETS) -> int:
    """The first fret to draw so that ``shown + 1`` frets include the newest mark and as many
    of the others as fit; 0 (the nut) whenever the marks allow it."""
    if not marks or shown >= most:
        return 0
    newest = min(marks, key=lambda m: m.age).fret
    high = max(m.fret for m in marks)
    low = min(m.fret for m in marks)
    if high <= shown:
        return 0
    start = max(0, min(most - shown, max(high - shown, low - 1)))
    if not start <= newest <= start + shown:  # the newest note must always be in view
        start = max(0, min(most - shown, newest - shown // 2))
    return start


@dataclass(frozen=True)
class FretMark:
    """A played note at (string index from low E = 0, fret); ``age`` 0 is the newest."""

    string: int
    fret: int
    status: MarkStatus
    age: int = 0


LEGENDS = ("◉ root  ● scale  ◆ played  ◆ off  ✖ wrong", "◉ root  ● scale  ◆ played  ✖ wrong",
           "◉ root ● scale ◆ played ✖ wrong", "◉ root ● scale ◆ played", "")

_MARK_COLOUR = {"good": GOOD, "off": WARN, "wrong": BAD, "pending": TEXT}
_MARK_GLYPH = {"wrong": "✖", "pending": "◇"}


class Fretboard(Widget):
    """Scale dots, root rings and fading marks for recently played notes."""

    DEFAULT_CSS = """
    Fretboard { height: 8; padding: 0 1; text-wrap: nowrap; }
    """

    scale_pcs: reactive[frozenset[int]] = reactive(frozenset)
    root_pc: reactive[int | None] = reactive(None)
    marks: reactive[tuple[FretMark, ...]] = reactive(tuple)
    #: practice --exercise: the next notes to play as (string, fret), the very next first
    targets: reactive[tuple[tuple[int, int], ...]] = reactive(tuple)

    def __init__(self, *, frets: int = MAX_FRETS, tuning: tuple[int, ...] = STANDARD_TUNING,
                 names: tuple[str, ...] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frets = frets  # the most the neck has; the width decides how many are drawn
        self.tuning = tuning
        self.names = names or STRING_NAMES  # (the app passes the tuning's own names)
        assert len(self.names) == len(tuning)

    def on_resize(self) -> None:
        """The legend sits in the panel's border: the longest that fits its width."""
        if isinstance(self.parent, Widget):
            width = self.parent.size.width
            self.parent.border_subtitle = next(t for t in LEGENDS if len(t) + 6 <= width
                                               or not t)

    def set_scale(self, pcs: frozenset[int], root_pc: int | None) -> None:
        self.scale_pcs = frozenset(pcs)
        self.root_pc = root_pc

    @property
    def shown(self) -> range:
        """The frets drawn at the current width."""
        width = self.content_size.width or (LABEL_CELLS + FRET_CELLS * 16)
        count = frets_for_width(width, self.frets)
        ahead = tuple(FretMark(s, f, "pending", -1) for s, f in self.targets)
        start = fret_window(self.marks + ahead, count, self.frets)
        return range(start, start + count + 1)

    def _cell(self, string: int, fret: int, marks: dict[tuple[int, int], FretMark]) -> Text:
        line = "═" if fret == 0 else "─"
        pc = (self.tuning[string] + fret) % 12
        if (string, fret) in self.targets:  # the next note(s) of an exercise: ○ to play
            style = (f"bold {ACCENT} reverse" if self.targets[0] == (string, fret)
                     else f"bold {ACCENT}")
            return Text.assemble((line, FAINT), ("○", style), (line, FAINT))
        mark = marks.get((string, fret))
        if mark is not None:
            colour = _MARK_COLOUR[mark.status]
            glyph = _MARK_GLYPH.get(mark.status, "◆")
            style = f"bold {colour} reverse" if mark.age == 0 else f"bold {colour}"
            if mark.age >= 3:
                style = colour
            return Text.assemble((line, FAINT), (glyph, style), (line, FAINT))
        if pc == self.root_pc:
            return Text.assemble((line, FAINT), ("◉", f"bold {ACCENT}"), (line, FAINT))
        if pc in self.scale_pcs:
            return Text.assemble((line, FAINT), ("●", TEXT), (line, FAINT))
        return Text(line * 3, style=FAINT)

    def render(self) -> Text:
        marks: dict[tuple[int, int], FretMark] = {}
        for m in sorted(self.marks, key=lambda m: -m.age):  # newest wins a shared cell
            marks[(m.string, m.fret)] = m
        frets = self.shown
        out = Text()
        header = Text(" " * LABEL_CELLS)
        for fret in frets:
            header.append(f"{fret:^3}", style=ACCENT if fret in INLAYS else DIM)
            header.append(" ")
        out.append_text(header)
        out.append("\n")
        for string in reversed(range(len(self.tuning))):
            out.append(f" {self.names[string]:<1.1}", style=f"bold {DIM}")
            out.append(self.names[string][1:2] or " ", style=f"bold {DIM}")
            for fret in frets:
                out.append_text(self._cell(string, fret, marks))
                out.append("‖" if fret == 0 else "│", style=TEXT if fret == 0 else DIM)
            out.append("\n")
        inlay = Text(" " * LABEL_CELLS)
        for fret in frets:
            inlay.append(f"{INLAYS.get(fret, ''):^3} ", style=DIM)
        out.append_text(inlay)
        return out
