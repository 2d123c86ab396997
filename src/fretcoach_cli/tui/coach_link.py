"""The live coach as the practice room sees it: a function that streams a reply's tokens.

Swap point: the practice room calls :func:`stream_tip` and nothing else. It uses
``fretcoach_cli.coach`` when that package provides its live coach; until then it says so
plainly instead of inventing advice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

NOT_CONNECTED = "coach not connected yet (fretcoach_cli.coach has no live coach in this build)"


def stream_tip(metrics: Any, context: dict[str, Any]) -> tuple[str, Iterator[str]]:
    """(source label, token stream) for one live reply about the current figures."""
    try:
        from fretcoach_cli.coach import live  # type: ignore[attr-defined]
    except ImportError:
        return "not connected", iter([NOT_CONNECTED])
    return live.stream_live_tip(metrics, context)  # pragma: no cover - wired when it lands
