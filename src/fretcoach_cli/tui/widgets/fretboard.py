"""A guitar neck in standard tuning: scale positions, the root, and the last notes played.

Strings are drawn like tablature (high e on top). Each fret is three cells of string plus a
fret wire, so frets 0–15 fit an 80-column terminal.
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
INLAYS = {3: "•", 5: "•", 7: "•", 9: "•", 12: "••", 15: "•"}


@dataclass(frozen=True)
class FretMark:
    """A played note at (string index from low E = 0, fret); ``age`` 0 is the newest."""

    string: int
    fret: int
    status: MarkStatus
    age: int = 0


_MARK_COLOUR = {"good": GOOD, "off": WARN, "wrong": BAD, "pending": TEXT}
_MARK_GLYPH = {"wrong": "✖", "pending": "◇"}


class Fretboard(Widget):
    """Scale dots, root rings and fading marks for recently played notes."""

    DEFAULT_CSS = """
    Fretboard { height: 9; padding: 0 1; }
    """

    scale_pcs: reactive[frozenset[int]] = reactive(frozenset)
    root_pc: reactive[int | None] = reactive(None)
    marks: reactive[tuple[FretMark, ...]] = reactive(tuple)

    def __init__(self, *, frets: int = 15, tuning: tuple[int, ...] = STANDARD_TUNING,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.frets = frets
        self.tuning = tuning

    def set_scale(self, pcs: frozenset[int], root_pc: int | None) -> None:
        self.scale_pcs = frozenset(pcs)
        self.root_pc = root_pc

    def _cell(self, string: int, fret: int, marks: dict[tuple[int, int], FretMark]) -> Text:
        line = "═" if fret == 0 else "─"
        pc = (self.tuning[string] + fret) % 12
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
        out = Text()
        header = Text("   ")
        for fret in range(self.frets + 1):
            header.append(f"{fret:^3}", style=ACCENT if fret in INLAYS else DIM)
            header.append(" ")
        out.append_text(header)
        out.append("\n")
        for string in reversed(range(len(self.tuning))):
            out.append(f" {STRING_NAMES[string]} ", style=f"bold {DIM}")
            for fret in range(self.frets + 1):
                out.append_text(self._cell(string, fret, marks))
                out.append("‖" if fret == 0 else "│", style=TEXT if fret == 0 else DIM)
            out.append("\n")
        inlay = Text("   ")
        for fret in range(self.frets + 1):
            inlay.append(f"{INLAYS.get(fret, ''):^3} ", style=DIM)
        out.append_text(inlay)
        out.append("\n")
        out.append_text(Text.assemble(
            ("   ◉ root  ", ACCENT), ("● scale  ", TEXT), ("◆ played  ", GOOD),
            ("◆ out of tune  ", WARN), ("✖ wrong note", BAD),
        ))
        return out
