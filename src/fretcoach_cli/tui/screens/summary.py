"""End-of-session summary screen: all metrics, weakest area, per-degree table, worst notes,
and the change since the previous session of the same scale."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from fretcoach_cli.practice.summary import SessionResult
from fretcoach_cli.tui.summary_view import (
    advice,
    degree_table,
    headline,
    metrics_table,
    worst_table,
)


class SummaryScreen(Screen[Any]):
    """Shown once the session is saved; any of q/enter/escape leaves the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,enter,escape", "close", "Done"),
        Binding("ctrl+c", "close", "Done", show=False, priority=True),
    ]

    def __init__(self, result: SessionResult) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        r = self.result
        with VerticalScroll(id="summary"):
            yield Static(headline(r), id="summary-headline")
            yield Static(metrics_table(r), id="summary-metrics")
            yield Static(advice(r), id="summary-advice")
            yield Static(Group(degree_table(r)), id="summary-degrees")
            yield Static(worst_table(r), id="summary-worst")
        yield Footer()

    def action_close(self) -> None:
        self.app.exit(self.result)
