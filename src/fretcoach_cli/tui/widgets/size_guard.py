"""The line a screen shows instead of itself when the terminal is too small for it."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from fretcoach_cli.tui.layout import too_small_line


class SizeGuard(Widget):
    """Hidden unless the app has the ``-tiny`` class (see :mod:`fretcoach_cli.tui.layout`)."""

    DEFAULT_CSS = """
    SizeGuard {
        display: none; width: 100%; height: 100%; content-align: center middle;
        text-wrap: nowrap; text-style: bold;
    }
    """

    def render(self) -> Text:
        size = self.app.size
        return too_small_line(size.width, size.height)
