"""The coach pane: replies stream in token by token; older replies stay above, dimmed."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from fretcoach_cli.tui.palette import ACCENT, DIM, TEXT

MAX_REPLIES = 3


class CoachPane(Widget):
    """Shows the newest coach reply (growing while it streams) above a note of its source."""

    DEFAULT_CSS = """
    CoachPane { height: 1fr; padding: 0 1; background: $surface; }
    """

    source: reactive[str] = reactive("")
    _version: reactive[int] = reactive(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.replies: list[str] = []
        self.streaming = False

    def begin(self) -> None:
        """Start a new reply (the previous one is kept, dimmed)."""
        self.replies.append("")
        del self.replies[:-MAX_REPLIES]
        self.streaming = True
        self._version += 1

    def feed(self, token: str) -> None:
        if not self.replies:
            self.begin()
        self.replies[-1] += token
        self._version += 1

    def end(self) -> None:
        self.streaming = False
        self._version += 1

    def say(self, text: str) -> None:
        """A complete reply in one go."""
        self.begin()
        self.feed(text)
        self.end()

    def render(self) -> Text:
        out = Text()
        if not self.replies:
            out.append("The coach will chime in once you have played a few notes.", style=DIM)
        for i, reply in enumerate(self.replies):
            newest = i == len(self.replies) - 1
            if i:
                out.append("\n")
            out.append("› " if newest else "  ", style=ACCENT)
            out.append(reply.strip(), style=TEXT if newest else DIM)
            if newest and self.streaming:
                out.append("▌", style=ACCENT)
        if self.source:
            out.append(f"\n— {self.source}", style=f"italic {DIM}")
        return out
