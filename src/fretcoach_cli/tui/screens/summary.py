"""End-of-session summary screen: all metrics, weakest area, per-degree table, worst notes,
and the change since the previous session of the same scale.

At 80×24 the headline, every score and the weakest area show without scrolling (the tables
below scroll); on a wide terminal the tables sit beside the scores.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from fretcoach_cli.practice.summary import SessionResult
from fretcoach_cli.tui.summary_view import (
    advice,
    degree_table,
    headline,
    metrics_table,
    raw_figures,
    worst_table,
)
from fretcoach_cli.tui.widgets.size_guard import SizeGuard

# the metrics table without its bar is about 56 cells; the bar gets what is left, 8–24
TABLE_CELLS = 56


def bar_cells_for(width: int) -> int:
    return max(8, min(24, width - TABLE_CELLS))


class SummaryScreen(Screen[Any]):
    """Shown once the session is saved; any of q/enter/escape leaves the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,enter,escape", "close", "Done"),
        Binding("ctrl+c", "close", "Done", show=False, priority=True),
        Binding("down,pagedown,space", "more", "More", key_display="↓"),
    ]

    def __init__(self, result: SessionResult) -> None:
        super().__init__()
        self.result = result
        self._drawn_width = 0

    def compose(self) -> ComposeResult:
        r = self.result
        yield SizeGuard(id="too-small")
        with VerticalScroll(id="summary"):
            yield Static(headline(r), id="summary-headline")
            with Vertical(id="summary-body"):
                with Vertical(id="summary-left"):
                    yield Static(metrics_table(r, caption=False), id="summary-metrics")
                    yield Static(raw_figures(r), id="summary-raw")
                    yield Static(advice(r), id="summary-advice")
                with Vertical(id="summary-right"):
                    yield Static(Group(degree_table(r)), id="summary-degrees")
                    yield Static(worst_table(r), id="summary-worst")
                    if "exercise" in r.extra:  # practice --exercise: every note's verdict
                        from fretcoach_cli.tui.exercise_view import result_table

                        yield Static(result_table(r) or "", id="summary-exercise")
                    if "passes" in r.extra:  # --exercise --ramp: one row a pass
                        from fretcoach_cli.tui.exercise_view import passes_table

                        yield Static(passes_table(r), id="summary-passes")
        yield Footer(show_command_palette=False)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit)
        self.call_after_refresh(self.refresh_bindings)  # "↓ More" may come or go

    def _fit(self) -> None:
        """The bar and the raw figures' line breaks follow the column's width."""
        width = self.query_one("#summary-metrics").content_size.width
        if width <= 0 or width == self._drawn_width:
            return
        self._drawn_width = width
        self.query_one("#summary-metrics", Static).update(
            metrics_table(self.result, bar_cells=bar_cells_for(width), caption=False))
        self.query_one("#summary-raw", Static).update(raw_figures(self.result, width))
        self.call_after_refresh(self.refresh_bindings)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """"↓ More" only while part of the summary is below the screen's edge."""
        if action == "more":
            scroll = self.query_one("#summary", VerticalScroll)
            return scroll.scroll_y < scroll.max_scroll_y
        return True

    def action_more(self) -> None:
        self.query_one("#summary", VerticalScroll).scroll_page_down(animate=False)

    def on_mount(self) -> None:
        self.query_one("#summary", VerticalScroll).watch(
            self.query_one("#summary", VerticalScroll), "scroll_y",
            lambda _: self.refresh_bindings(), init=False)

    def action_close(self) -> None:
        self.app.exit(self.result)
