"""Parsing and validating practice options before anything opens (durations, ranges)."""

from __future__ import annotations

import re
from typing import Any

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


def trainer_options(*, ramp: str | None, bpm: float | None, clean_bars: int | None,
                    count_in: int | None, click_volume: float | None,
                    no_click: bool) -> Any:
    """The speed trainer's options (``practice.speed_trainer.TrainerOptions``) from the
    flags, or None without ``--ramp``; every mistake is a one-line usage error."""
    from fretcoach_cli.music.tempo import parse_ramp
    from fretcoach_cli.practice.speed_trainer import TrainerOptions
    from fretcoach_cli.scoring.ramp import DEFAULT_CLEAN_BARS, RampSpec

    if ramp is None:
        given = [name for name, value in (("--clean-bars", clean_bars), ("--count-in", count_in),
                                          ("--click-volume", click_volume))
                 if value is not None] + (["--no-click"] if no_click else [])
        if given:
            raise UsageError(f"{given[0]} only applies to the speed trainer",
                             hint="add --ramp START:TARGET:STEP, e.g. --ramp 80:140:+4")
        return None
    start, target, step = parse_ramp(ramp, start_bpm=bpm)
    if clean_bars is not None and not 1 <= clean_bars <= 64:
        raise UsageError(f"--clean-bars {clean_bars} is out of range", hint="use 1 to 64 bars")
    if count_in is not None and not 0 <= count_in <= 8:
        raise UsageError(f"--count-in {count_in} is out of range", hint="use 0 to 8 bars")
    volume = check_unit_range(click_volume, "--click-volume")
    spec = RampSpec(start, target, step,
                    clean_bars=DEFAULT_CLEAN_BARS if clean_bars is None else clean_bars,
                    count_in_bars=1 if count_in is None else count_in)
    return TrainerOptions(spec, click=not no_click,
                          click_volume=0.6 if volume is None else volume)
