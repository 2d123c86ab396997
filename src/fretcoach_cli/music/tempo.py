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


def parse_ramp(text: str, *, start_bpm: float | None = None) -> tuple[float, float, float]:
    """``START:TARGET:STEP`` (or ``TARGET:STEP`` with ``start_bpm`` from ``--bpm``) as
    ``(start, target, step)`` bpm; a ramp that cannot be reached is a one-line usage error.

    A ramp rises: the target lies above the start and the step is positive ("+4" or "4").
    """
    hint = 'e.g. --ramp 80:140:+4 (start 80 bpm, target 140, +4 bpm a step)'
    parts = [p.strip() for p in text.strip().split(":")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"--ramp {text!r}: cannot read it as START:TARGET:STEP",
                         hint=hint) from None
    if len(numbers) == 2 and start_bpm is not None:
        numbers = [float(start_bpm), *numbers]
    if len(numbers) != 3:
        raise UsageError(f"--ramp {text!r}: give START:TARGET:STEP", hint=hint)
    start, target, step = numbers
    for label, value in (("start", start), ("target", target)):
        if not BPM_MIN <= value <= BPM_MAX:
            raise UsageError(f"--ramp {label} {value:g} bpm is out of range",
                             hint=f"use {BPM_MIN:g}–{BPM_MAX:g} bpm")
    if target <= start:
        raise UsageError(f"--ramp target {target:g} bpm must be above the start {start:g}",
                         hint=hint)
    if step <= 0:
        raise UsageError(f"--ramp step {step:+g} bpm never reaches {target:g} from {start:g}",
                         hint="the step must be positive, e.g. +4")
    if start_bpm is not None and abs(float(start_bpm) - start) > 1e-9:
        raise UsageError(f"--bpm {start_bpm:g} differs from the ramp's start {start:g}",
                         hint="leave --bpm out, or give the ramp as TARGET:STEP")
    return start, target, step
