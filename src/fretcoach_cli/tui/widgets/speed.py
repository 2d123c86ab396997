"""The speed trainer's line: the beat, the current tempo, the best clean tempo and a sparkline
of the tempo curve (one bar a character, dimmed where the bar was not clean).

A looped exercise (``--exercise --ramp``) adds the pass being played and a mark for each of
its notes decided so far (``✓`` hit, ``~`` early/late, ``✗`` wrong pitch or missed, ``+`` an
extra note), then the curve with one character a pass."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, FAINT, GOOD, TEXT, WARN

_LEVELS = "▁▂▃▄▅▆▇█"
_MARKS = {"hit": ("✓", GOOD), "early": ("~", WARN), "late": ("~", WARN),
          "wrong_pitch": ("✗", BAD), "missed": ("✗", BAD), "extra": ("+", WARN)}


def tempo_sparkline(bpms: list[float], lo: float, hi: float, width: int) -> str:
    """The newest ``width`` bars' tempi as block characters between ``lo`` and ``hi``."""
    span = max(hi - lo, 1e-9)
    return "".join(_LEVELS[min(len(_LEVELS) - 1, max(0, round((b - lo) / span * 7)))]
                   for b in bpms[-width:])


def pass_marks(verdicts: tuple[str, ...]) -> Text:
    """One mark a decided verdict of the pass being played."""
    out = Text()
    for v in verdicts:
        ch, style = _MARKS.get(v, ("?", DIM))
        out.append(ch, style=style)
    return out


class SpeedMeter(Widget):
    """``♩ 84→140 ●○○○ best 80 ▁▁▁▂▂▂▃``; ``held`` when the ramp is held with t; a looped
    exercise: ``pass 3 ♩ 84→140 ●○○○ best 80 ✓✓✗✓ ▁▂▂``."""

    DEFAULT_CSS = """
    SpeedMeter { height: 1; padding: 0 1; text-wrap: nowrap; }
    """

    bpm: reactive[float] = reactive(0.0)
    start_bpm: reactive[float] = reactive(0.0)
    target_bpm: reactive[float] = reactive(0.0)
    best_clean_bpm: reactive[float | None] = reactive(None)
    beat: reactive[int | None] = reactive(None)
    active: reactive[bool] = reactive(True)
    curve: reactive[tuple[tuple[float, bool | None], ...]] = reactive(())
    pass_number: reactive[int | None] = reactive(None)  # --exercise --ramp
    verdicts: reactive[tuple[str, ...]] = reactive(())  # the current pass's, so far

    def render(self) -> Text:
        out = Text()
        if self.pass_number is not None:
            out.append(f"pass {self.pass_number} ", style=f"bold {ACCENT}")
        out.append(f"♩ {self.bpm:g}", style=f"bold {TEXT}")
        out.append(f"→{self.target_bpm:g} ", style=DIM)
        for i in range(4):
            lit = i == self.beat
            out.append("●" if lit else "○",
                       style=f"bold {ACCENT if i == 0 else TEXT}" if lit else FAINT)
        best = "—" if self.best_clean_bpm is None else f"{self.best_clean_bpm:g}"
        out.append(f" best {best}", style=TEXT)
        if not self.active:
            out.append(" held (t)", style=DIM)
        if self.pass_number is not None and self.verdicts:
            out.append(" ")
            out.append_text(pass_marks(self.verdicts))
        room = (self.content_size.width or 40) - len(out.plain) - 1
        if self.curve and room > 2:
            bpms = [b for b, _ in self.curve]
            line = tempo_sparkline(bpms, self.start_bpm, self.target_bpm, room)
            out.append(" ")
            for ch, (_b, clean) in zip(line, self.curve[-len(line):], strict=True):
                out.append(ch, style=ACCENT if clean else FAINT)
        return out
