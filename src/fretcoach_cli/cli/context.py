"""Per-process CLI state: the effective settings after global flags.

Commands call :func:`settings` (optionally with their own flag overrides) instead of reading
the environment themselves, so precedence is applied in one place.
"""

from __future__ import annotations

from typing import Any

from fretcoach_cli import config

_state: dict[str, Any] = {"settings": None, "overrides": {}, "debug": False}


def set_global(*, user: str | None, debug: bool) -> None:
    _state["overrides"] = {"user": user}
    _state["debug"] = debug
    _state["settings"] = None


def debug() -> bool:
    return bool(_state["debug"])


def settings(**flags: Any) -> config.Settings:
    """Effective settings: defaults < file < env < global flags < this command's flags."""
    if _state["settings"] is None:
        _state["settings"] = config.load().with_overrides(**_state["overrides"])
    base: config.Settings = _state["settings"]
    return base.with_overrides(**flags) if flags else base
