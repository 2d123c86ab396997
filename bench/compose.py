"""Turn musical phrases (beats, scale degrees) into humanised ``NoteSpec`` lists.

Why: a benchmark of robot-perfect eighth notes flatters onset detectors and says nothing
about timing-stability scoring. Players rush and drag by a few milliseconds, vary their pick
attack, and either let notes ring into the next (legato) or choke them (staccato). All of
that is seeded, so every clip is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from render import CLEAN, NoteSpec, scale_midis


@dataclass(frozen=True)
class Hit:
    """One written note: ``beat`` position and ``beats`` length in quarter notes; ``midi``;
    optional deliberate ``cents`` detune and a relative ``accent`` (-1..1)."""

    beat: float
    beats: float
    midi: int
    cents: float = 0.0
    accent: float = 0.0


def humanize(
    hits: Sequence[Hit],
    *,
    bpm: float,
    start_s: float = 0.5,
    program: int = CLEAN,
    jitter_ms: float = 8.0,
    articulation: float = 0.85,
    velocity: int = 88,
    velocity_spread: int = 10,
    seed: int = 0,
) -> list[NoteSpec]:
    """Place hits on a time line with Gaussian onset jitter (σ = ``jitter_ms``, clipped at
    2.5σ), velocity variation, and ``articulation`` = sounding fraction of the written
    length (≥ 1.0 is legato: the note rings until the next onset, never overlapping it)."""
    rng = random.Random(seed)
    spb = 60.0 / bpm
    placed: list[tuple[float, float, Hit, int]] = []
    for h in hits:
        j = max(-2.5, min(2.5, rng.gauss(0.0, 1.0))) * jitter_ms / 1000.0
        onset = max(0.0, start_s + h.beat * spb + j)
        vel = round(velocity + h.accent * 20 + rng.uniform(-1, 1) * velocity_spread)
        placed.append((onset, h.beats * spb * articulation, h, max(20, min(120, vel))))
    placed.sort(key=lambda p: p[0])
    out = []
    for i, (onset, dur, h, vel) in enumerate(placed):
        if i + 1 < len(placed):
            gap = placed[i + 1][0] - onset
            # a monophonic line: a note stops when the next one is picked
            dur = min(dur, gap - 0.002) if articulation < 1.0 else gap - 0.002
        out.append(NoteSpec(onset, max(0.05, dur), h.midi, h.cents, vel, program))
    return out


def run(
    key: str, scale: str, low: int, high: int, *, beats: float = 0.5, start_beat: float = 0.0,
    down: bool = True,
) -> list[Hit]:  # fmt: skip
    """A scale run from ``low`` to ``high`` (and back down, without repeating the top)."""
    notes = scale_midis(key, scale, low, high)
    seq = notes + (notes[-2::-1] if down else [])
    return [Hit(start_beat + i * beats, beats, m) for i, m in enumerate(seq)]


def sequence_in(
    key: str, scale: str, low: int, high: int, group: int, *, beats: float = 0.5,
    start_beat: float = 0.0,
) -> list[Hit]:  # fmt: skip
    """The classic practice pattern: groups of ``group`` ascending scale notes, each group
    starting one degree higher (1-2-3, 2-3-4, ...)."""
    notes = scale_midis(key, scale, low, high)
    seq = [m for i in range(len(notes) - group + 1) for m in notes[i : i + group]]
    return [Hit(start_beat + i * beats, beats, m) for i, m in enumerate(seq)]


def end_beat(hits: Sequence[Hit]) -> float:
    return max((h.beat + h.beats for h in hits), default=0.0)


def shifted(hits: Sequence[Hit], beats: float) -> list[Hit]:
    return [Hit(h.beat + beats, h.beats, h.midi, h.cents, h.accent) for h in hits]
