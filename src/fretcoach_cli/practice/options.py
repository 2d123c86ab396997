"""Parsing and validating practice options before anything opens (durations, ranges)."""

from __future__ import annotations

import re

from fretcoach_cli.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(hours?|hr|h|minutes?|min|m|seconds?|sec|s)", re.I)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str, *, option: str = "--duration") -> float:
    """Seconds from "300", "90s", "5m", "1h30m", "1m 30s" or "2:30" (m:ss)."""
    raw = text.strip().lower()
    hint = 'use e.g. "90s", "5m", "1h30m" or "2:30"'
    if not raw:
        raise UsageError(f"{option}: empty duration", hint=hint)
    seconds: float | None = None
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    elif re.fullmatch(r"\d+:\d{1,2}(:\d{1,2})?", raw):
        parts = [int(p) for p in raw.split(":")]
        seconds = 0.0
        for p in parts:
            seconds = seconds * 60 + p
    else:
        pos = 0
        total = 0.0
        for m in _PART.finditer(raw):
            if raw[pos:m.start()].strip():
                break
            total += float(m.group(1)) * _UNIT[m.group(2)[0].lower()]
            pos = m.end()
        if pos and not raw[pos:].strip():
            seconds = total
    if seconds is None:
        raise UsageError(f"{option}: cannot read {text!r} as a duration", hint=hint)
    if seconds <= 0:
        raise UsageError(f"{option}: {text!r} must be longer than zero", hint=hint)
    return seconds


def check_unit_range(value: float | None, option: str) -> float | None:
    """0 … 1 knobs (strictness, sensitivity)."""
    if value is None:
        return None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{option} {value:g} is out of range", hint="use a value from 0 to 1")
    return value
