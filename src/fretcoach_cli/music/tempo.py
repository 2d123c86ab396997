"""Tempo: the range a practice tempo may take (a click, an exercise, a plan)."""

from __future__ import annotations

from fretcoach_cli.errors import UsageError

BPM_MIN = 20.0
BPM_MAX = 400.0


def validate_bpm(bpm: float) -> float:
    """``bpm`` as a float, or a one-line usage error naming the allowed range."""
    value = float(bpm)
    if not BPM_MIN <= value <= BPM_MAX:
        raise UsageError(f"tempo {value:g} bpm is out of range",
                         hint=f"use {BPM_MIN:g}–{BPM_MAX:g} bpm")
    return value
