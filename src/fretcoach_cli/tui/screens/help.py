"""The key help overlay."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

from fretcoach_cli.tui.widgets.size_guard import SizeGuard

KEYS = (
    ("space", "pause / resume (the clock and the analysis stop)"),
    ("q", "finish, save and show the summary"),
    ("Ctrl+C", "same as q: nothing is lost"),
    ("c", "show / hide the coach"),
    ("+ / -", "rate the coach's latest tip: helpful / not"),
    ("m", "metronome display on / off (needs --bpm)"),
    ("t", "speed trainer: hold / release the ramp (--ramp), or start one (+40 bpm) with --bpm"),
    ("f", "hide / show the fretboard; under 28 rows it takes the notes' place "
          "(it needs 24 rows, 80 columns)"),
    ("?", "this help"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold #5fb3e8", justify="right")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        help_box = Static(table, id="help")
        help_box.border_title = "Keys"
        yield SizeGuard(id="too-small")
        yield help_box

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
