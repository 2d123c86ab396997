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

    def _lines(self, text: Text, width: int) -> int:
        return len(text.wrap(self.app.console, max(1, width)))

    def render(self) -> Text:
        """The newest reply always shows (with its source); older ones, dimmed, only as far
        as the pane's height allows, so a short terminal still has the latest advice."""
        if not self.replies:
            text = Text("The coach will chime in once you have played a few notes.",
                        style=DIM)
            return text
        width, height = self.content_size.width or 40, self.content_size.height or 0
        newest = Text()
        newest.append("› ", style=ACCENT)
        newest.append(self.replies[-1].strip(), style=TEXT)
        if self.streaming:
            newest.append("▌", style=ACCENT)
        if self.source:
            newest.append(f"\n— {self.source}", style=f"italic {DIM}")
        used = self._lines(newest, width)
        shown: list[Text] = [newest]
        for reply in reversed(self.replies[:-1]):
            older = Text.assemble(("  ", ACCENT), (reply.strip(), DIM))
            need = self._lines(older, width)
            if height and used + need > height:
                break
            used += need
            shown.insert(0, older)
        return Text("\n").join(shown)
