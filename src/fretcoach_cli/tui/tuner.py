"""The tuner screen: a big note name, a needle, a strobe band, steadiness and the strings.

A reader thread pulls audio blocks from the source and feeds them to the tuner core
(``audio.tuner.Tuner``); each reading is posted to the app, which shows it and keeps the
summary. The strobe band moves by the reading's offset at every reading (audio time), so
its speed and direction follow the cents and it stands still on an in-tune string.
Fits 80×24; wider and taller terminals get a wider needle and band.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, Static

from fretcoach_cli.audio.tuner import CHORD, PITCH, Guide, Summary, TunerReading
from fretcoach_cli.tui.palette import ACCENT, BAD, DIM, FAINT, GOOD, TEXT, WARN

IN_TUNE = 3.0  # cents: green
CLOSE = 15.0  # cents: amber; beyond: red
STROBE_SPEED = 0.12  # cells the band moves per reading per cent of offset
STROBE_PERIOD = 8  # cells per dark/light cycle of the band

# A 3-row block font for note names (letters A–G, accidentals, octave digits).
_FONT: dict[str, tuple[str, str, str]] = {
    "A": ("▄▀▄", "█▀█", "▀ ▀"), "B": ("█▀▄", "█▀▄", "▀▀ "), "C": ("▄▀▀", "█  ", " ▀▀"),
    "D": ("█▀▄", "█ █", "▀▀ "), "E": ("█▀▀", "█▀▀", "▀▀▀"), "F": ("█▀▀", "█▀▀", "▀  "),
    "G": ("▄▀▀", "█ ▄", " ▀▀"), "#": ("▄█▄", "▄█▄", " ▀ "), "b": ("█  ", "█▀▄", "▀▀ "),
    "0": ("█▀█", "█ █", "▀▀▀"), "1": ("▄█ ", " █ ", "▀▀▀"), "2": ("▀▀█", "█▀▀", "▀▀▀"),
    "3": ("▀▀█", " ▀█", "▀▀▀"), "4": ("█ █", "▀▀█", "  ▀"), "5": ("█▀▀", "▀▀█", "▀▀▀"),
    "6": ("█▀▀", "█▀█", "▀▀▀"), "7": ("▀▀█", "  █", "  ▀"), "8": ("█▀█", "█▀█", "▀▀▀"),
    "9": ("█▀█", "▀▀█", "▀▀▀"), "-": ("   ", "▀▀▀", "   "), " ": ("   ", "   ", "   "),
}


def big_text(text: str) -> tuple[str, str, str]:
    """``text`` in the 3-row block font (unknown characters as blanks)."""
    rows = (["", "", ""])
    for ch in text:
        glyph = _FONT.get(ch, _FONT[" "])
        for i in range(3):
            rows[i] += glyph[i] + " "
    return rows[0], rows[1], rows[2]


def offset_colour(cents: float | None) -> str:
    if cents is None:
        return DIM
    if abs(cents) <= IN_TUNE:
        return GOOD
    if abs(cents) <= CLOSE:
        return WARN
    return BAD


def verdict_text(r: TunerReading, tuning: Any) -> str:
    """"tighten 13¢", "loosen 4¢", "in tune"; for a string a semitone or more out,
    how far in semitones too."""
    if r.offset_cents is None or r.advice is None:
        return ""
    off = r.offset_cents
    if r.advice == "in tune":
        return "in tune"
    far = f" ({abs(off) / 100:.1f} semitones)" if abs(off) >= 100 else ""
    return f"{r.advice} {abs(off):.0f}¢{far}"


# --------------------------------------------------------------------------- widgets


class NoteView(Widget):
    """Big note name, its cents, and the string it is compared with."""

    reading: reactive[TunerReading | None] = reactive(None, layout=False)

    def __init__(self, tuning: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tuning = tuning

    def render(self) -> Text:
        r = self.reading
        out = Text()
        if r is None or not r.pitched:
            word = "play one string" if r is not None and r.state == CHORD else "no pitch"
            colour = WARN if r is not None and r.state == CHORD else DIM
            rows = big_text("-")
            for row in rows:
                out.append(f"{row}\n", style=f"bold {colour}")
            out.append(word, style=f"bold {colour}")
            return out
        colour = offset_colour(r.offset_cents)
        rows = big_text(r.note or "")
        detail = (f"{r.cents:+.1f}¢ from {r.note}", f"{self.tuning.label(r.string)}",
                  verdict_text(r, self.tuning))
        width = max(len(row) for row in rows)
        for row, extra in zip(rows, detail, strict=True):
            out.append(row.ljust(width + 2), style=f"bold {colour}")
            out.append(f"{extra}\n", style=TEXT if extra != detail[2] else f"bold {colour}")
        out.append(f"{r.hz:.2f} Hz" if r.hz else "", style=DIM)
        return out


class Needle(Widget):
    """−50 … +50 cents of the compared string; the needle fills the height it is given."""

    cents: reactive[float | None] = reactive(None, layout=False)

    def render(self) -> Text:
        width = max(21, (self.size.width or 60) - 2) | 1
        mid = width // 2
        pos = None
        if self.cents is not None:
            pos = mid + round(max(-50.0, min(50.0, self.cents)) / 50.0 * mid)
        colour = offset_colour(self.cents)
        zone = max(1, round(IN_TUNE / 50 * mid))
        out = Text()
        rows = max(3, (self.size.height or 4) - 1)  # a taller terminal, a taller needle
        for row in range(rows):
            last = row == rows - 1
            for i in range(width):
                if i == pos:
                    out.append("█", style=f"bold {colour}")
                elif i == mid:
                    out.append("┴" if last else "│", style=ACCENT)
                elif last:
                    tick = (i - mid) % max(1, mid // 5) == 0
                    out.append("┴" if tick else "─", style=GOOD if abs(i - mid) <= zone
                               else DIM)
                else:
                    out.append(" ")
            out.append("\n")
        labels = [" "] * width
        for cents in (-50, -25, 0, 25, 50):
            text = f"{cents:+d}" if cents else "0"
            at = max(0, min(width - len(text), mid + round(cents / 50 * mid) - len(text) // 2))
            labels[at:at + len(text)] = list(text)
        out.append("".join(labels), style=DIM)
        return out


class Strobe(Widget):
    """A band that drifts right when sharp, left when flat, faster the further out."""

    phase: reactive[float] = reactive(0.0, layout=False)
    lit: reactive[bool] = reactive(False, layout=False)

    def advance(self, offset: float | None) -> None:
        if offset is None:
            self.lit = False
            return
        self.lit = True
        self.phase = (self.phase + offset * STROBE_SPEED) % STROBE_PERIOD

    def render(self) -> Text:
        width = max(10, (self.size.width or 60))
        shift = int(self.phase)
        out = Text()
        for row in range(2):
            for i in range(width):
                dark = ((i - shift + row * (STROBE_PERIOD // 2)) % STROBE_PERIOD
                        < STROBE_PERIOD // 2)
                if not self.lit:
                    out.append("░", style=FAINT)
                else:
                    out.append("█" if dark else " ", style=ACCENT)
            if row == 0:
                out.append("\n")
        return out


class StringList(Widget):
    """The tuning's strings low to high: the one compared now, and in guided mode which
    are done."""

    current: reactive[int | None] = reactive(None, layout=False)
    done: reactive[tuple[bool, ...]] = reactive((), layout=False)
    heard: reactive[tuple[float | None, ...]] = reactive((), layout=False)

    def __init__(self, tuning: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tuning = tuning

    def render(self) -> Text:
        out = Text()
        names = self.tuning.string_names()
        for i, name in enumerate(names):
            mark = "✓" if i < len(self.done) and self.done[i] else "·"
            cents = self.heard[i] if i < len(self.heard) else None
            cell = f" {mark} {name}"
            cell += f" {cents:+.0f}¢ " if cents is not None else " "
            style = f"bold reverse {ACCENT}" if i == self.current else (
                GOOD if mark == "✓" else TEXT)
            out.append(cell, style=style)
            out.append(" ")
        return out


# --------------------------------------------------------------------------- messages


class ReadingMessage(Message):
    def __init__(self, reading: TunerReading) -> None:
        super().__init__()
        self.reading = reading


class InputEnded(Message):
    """The source has no more audio (a file ended) or failed (``error`` set)."""

    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__()
        self.error = error


HELP = (
    ("q", "quit (the verdicts are printed)"),
    ("n / p", "guided mode: next / previous string"),
    ("?", "this help"),
    ("", ""),
    ("needle", "cents from the string (or the nearest string), ±50"),
    ("band", "drifts right when sharp, left when flat; stands still in tune"),
    ("steady", "spread of the cents over the last half second"),
)


class TunerHelp(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close",
                                                     "Close")]

    def compose(self) -> ComposeResult:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_column(style=f"bold {ACCENT}", justify="right")
        table.add_column()
        for key, what in HELP:
            table.add_row(key, what)
        box = Static(table, id="tuner-help")
        box.border_title = "Tuner keys"
        yield box

    def action_close(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- the app


class TunerApp(App[None]):
    """The tuner. ``source`` is an audio source (file or mic), ``tuner`` a core Tuner."""

    CSS_PATH = "tuner.tcss"
    TITLE = "fretcoach tune"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_tuner", "Quit"),
        Binding("n", "next_string", "Next string", show=True),
        Binding("p", "previous_string", "Previous string", show=True),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+c", "quit_tuner", "Quit", show=False, priority=True),
    ]

    def __init__(self, source: Any, tuner: Any, *, guided: bool = False) -> None:
        super().__init__()
        self.source = source
        self.tuner = tuner
        self.tuning = tuner.tuning
        self.guide = Guide(tuner) if guided else None
        self.summary = Summary(self.tuning)
        self.readings: list[TunerReading] = []
        self.error: BaseException | None = None
        self.ended = False
        self.message = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def position_s(self) -> float:
        return float(self.tuner.position_s)

    def compose(self) -> ComposeResult:
        with Vertical(id="tuner", classes="panel") as box:
            box.border_title = f"Tuner · {self.tuning.name} · A4 {self.tuner.a4:g} Hz"
            with Horizontal(id="top"):
                yield NoteView(self.tuning, id="note")
                yield Static("", id="steady")
            yield Needle(id="needle")
            yield Strobe(id="strobe")
            yield Static("", id="message")
            yield StringList(self.tuning, id="strings")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        # kept, not queried: a pushed screen (help) would hide them from query_one
        self._note = self.query_one(NoteView)
        self._needle = self.query_one(Needle)
        self._strobe = self.query_one(Strobe)
        self._steady = self.query_one("#steady", Static)
        self._strings = self.query_one(StringList)
        self._message = self.query_one("#message", Static)
        if self.guide is not None:
            self._strings.current = self.guide.index
        label = getattr(self.source, "label", "")
        self.query_one("#tuner").border_subtitle = label
        self._show_message()
        self._thread = threading.Thread(target=self._read, name="fretcoach-tuner",
                                        daemon=True)
        self._thread.start()

    # -- the reader thread ---------------------------------------------------------------
    def _read(self) -> None:
        error: BaseException | None = None
        try:
            self.source.open()
            while not self._stop.is_set():
                block = self.source.read(0.1)
                if block is None:
                    break
                for r in self.tuner.push(block):
                    self.post_message(ReadingMessage(r))
        except BaseException as exc:  # shown and re-raised by the CLI, never a crash here
            error = exc
        self.post_message(InputEnded(error))

    # -- messages ------------------------------------------------------------------------
    def on_reading_message(self, message: ReadingMessage) -> None:
        r = message.reading
        self.readings.append(r)
        step = self.guide.feed(r) if self.guide is not None else None
        self.summary.add(r)
        self._note.reading = r
        self._needle.cents = r.offset_cents if r.state == PITCH else None
        self._strobe.advance(r.offset_cents if r.state == PITCH else None)
        steady = self._steady
        if r.pitched and r.steadiness is not None:
            calm = r.steadiness <= 2.0
            steady.update(Text.assemble(("steady " if calm else "wavering ",
                                         GOOD if calm else WARN),
                                        (f"±{r.steadiness / 2:.1f}¢", TEXT)))
        else:
            steady.update(Text("steady —", style=DIM))
        strings = self._strings
        verdicts = self.summary.verdicts()
        strings.heard = tuple(v.heard_cents for v in verdicts)
        if step is not None:
            strings.current, strings.done = step.index, step.done
            self.message = ("all strings in tune — q to quit" if step.finished
                            else f"{self.tuning.label(step.index)}: {step.message}")
        else:
            strings.current = r.string if r.pitched else None
            self.message = (verdict_text(r, self.tuning) if r.pitched else
                            "play one string at a time" if r.state == CHORD else
                            "pluck a string and let it ring")
        self._show_message()

    def on_input_ended(self, message: InputEnded) -> None:
        self.ended = True
        if message.error is not None:
            self.error = message.error
            self.exit()
            return
        if self.guide is None or not self.guide.finished:
            self.message = "end of input — q to quit"
        self._show_message()

    def _show_message(self) -> None:
        text = self.message or ("pluck the first string and let it ring" if self.guide
                                else "pluck a string and let it ring")
        self._message.update(Text(text, style=f"bold {TEXT}"))

    # -- actions -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """n/p only in guided mode (the footer shows them only there)."""
        if action in ("next_string", "previous_string"):
            return self.guide is not None
        return True

    def action_next_string(self) -> None:
        if self.guide is not None:
            self.guide.next()
            self._strings.current = self.guide.index

    def action_previous_string(self) -> None:
        if self.guide is not None:
            self.guide.previous()
            self._strings.current = self.guide.index

    def action_help(self) -> None:
        self.push_screen(TunerHelp())

    def action_quit_tuner(self) -> None:
        self._stop.set()
        self.exit()

    def on_unmount(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
