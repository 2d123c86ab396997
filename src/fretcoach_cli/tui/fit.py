"""Fitting a line to a width: widgets offer variants from the fullest to the tersest and the
first that fits is drawn, so a narrow terminal shortens labels instead of wrapping them."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text


def first_fitting(variants: Iterable[Text], width: int) -> Text:
    """The first variant no wider than ``width`` cells, else the last one cropped."""
    last = Text()
    for last in variants:
        if last.cell_len <= width:
            return last
    cropped = last.copy()
    cropped.truncate(max(0, width), overflow="ellipsis")
    return cropped


def ellipsize(text: str, width: int) -> str:
    """``text`` shortened in the middle with … (keeps a file name's start and extension)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")
