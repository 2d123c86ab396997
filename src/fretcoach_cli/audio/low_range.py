"""The lowest note the engine names, from the tuning (``practice --tuning``) and the model.

A guitar's lowest open string, less ``LOW_MARGIN_SEMITONES``, is the floor: frames under it
are unpitched, so the model's occasional sub-octave readings and mains hum name no note.
The pitch model has a hard floor of its own (SwiftF0 46.875 Hz, just above F#1; CREPE
≈31.7 Hz): a tuning whose lowest string is under it (a bass's E1 41.2 Hz or B0 30.9 Hz with
SwiftF0) gets a one-line notice at the start, since those notes would come out pitchless
("unclear") rather than named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fretcoach_cli.audio.pitch import DEFAULT_BACKEND, floor_hz
from fretcoach_cli.audio.thresholds import LOW_MARGIN_SEMITONES
from fretcoach_cli.music import notes


@dataclass(frozen=True, slots=True)
class LowRange:
    """``floor_hz``: frames under it are unpitched; ``notice``: what the player must know
    (None when the whole tuning is in the model's range)."""

    floor_hz: float
    model_floor_hz: float
    lowest_string_hz: float
    notice: str | None = None


def low_range(tuning: Any, pitch_model: str = DEFAULT_BACKEND, a4: float = 440.0) -> LowRange:
    """The floor for ``tuning`` (a :class:`~fretcoach_cli.music.tunings.Tuning`)."""
    lowest = min(tuning.strings)
    lowest_hz = notes.midi_to_hz(lowest, a4)
    wanted = notes.midi_to_hz(lowest - LOW_MARGIN_SEMITONES, a4)
    model_floor = floor_hz(pitch_model)
    if lowest_hz >= model_floor:
        return LowRange(max(wanted, model_floor), model_floor, lowest_hz)
    first = math.ceil(notes.hz_to_midi(model_floor, a4) - 1e-9)  # lowest note it can name
    under = [f"{name} ({notes.midi_to_hz(m, a4):.1f} Hz)"
             for name, m in zip(tuning.string_names(), tuning.strings, strict=True)
             if notes.midi_to_hz(m, a4) < model_floor]
    named_from = notes.note_name(first)
    notice = (f"{tuning.name}: the pitch model ({pitch_model}) names nothing under "
              f"{model_floor:.1f} Hz, so the open {', '.join(under)} and any note under "
              f"{named_from} show as unclear (no pitch); notes from {named_from} up are named")
    return LowRange(model_floor, model_floor, lowest_hz, notice)
