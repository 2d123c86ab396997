"""Regenerate the committed example recordings and their ground truth.

    python examples/generate.py            # all of them, into examples/
    python examples/generate.py --only chord_strum

Deterministic (every random draw is seeded); needs fluidsynth + fluid-soundfont-gm.
Each ``<name>.flac`` gets a ``<name>.truth.json`` (format: bench/render.py ``truth_dict``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

import augment  # noqa: E402
from compose import Hit, end_beat, humanize, run, sequence_in, shifted  # noqa: E402
from render import (  # noqa: E402
    CLEAN,
    NYLON,
    OVERDRIVE,
    STEEL,
    NoteSpec,
    write_clip,
)


def a_minor_pentatonic_clean(out: Path) -> dict:
    """The README demo: a ~40 s A minor pentatonic practice phrase at 90 BPM, box 1 (5th
    position), clean electric, played like a person — with two wrong notes (F3, B3) and one
    note bent 30 cents sharp so the coach has something to say."""
    key, scale = "A", "minor pentatonic"
    hits: list[Hit] = run(key, scale, 45, 72)  # up and down the box in eighths (23 notes)
    hits.append(Hit(end_beat(hits), 1.0, 45, accent=0.5))
    b = end_beat(hits) + 1.0
    # A lick in the high register: quarter/eighth mix, one slightly overbent D (+30 cents).
    lick = [
        (0.0, 0.5, 69), (0.5, 0.5, 67), (1.0, 1.0, 64), (2.0, 0.5, 62, 30.0), (2.5, 0.5, 60),
        (3.0, 1.0, 57), (4.5, 0.5, 60), (5.0, 0.5, 62), (5.5, 0.5, 64), (6.0, 1.5, 67),
    ]  # fmt: skip
    hits += [Hit(b + h[0], h[1], h[2], h[3] if len(h) > 3 else 0.0) for h in lick]
    b = end_beat(hits) + 0.5
    # Groups of three up the lower octave; the player slips onto F3 once (a wrong note).
    seq = sequence_in(key, scale, 45, 62, 3, start_beat=b)
    seq[7] = Hit(seq[7].beat, seq[7].beats, 53)  # F3 instead of E3
    hits += seq
    b = end_beat(hits) + 1.0
    # A bluesy call and response, with a B3 (wrong: the 9th, not in the pentatonic).
    call = [
        (0.0, 0.5, 57), (0.5, 0.5, 60), (1.0, 0.5, 62), (1.5, 0.5, 60), (2.0, 1.0, 57),
        (3.0, 1.0, 55), (4.5, 0.5, 52), (5.0, 0.5, 55), (5.5, 0.5, 57), (6.0, 0.5, 59),
        (6.5, 0.5, 60), (7.0, 1.0, 57), (8.5, 0.5, 64), (9.0, 0.5, 62), (9.5, 0.5, 60),
        (10.0, 0.5, 57), (10.5, 0.5, 55), (11.0, 0.5, 52), (11.5, 0.5, 50), (12.0, 2.0, 45),
    ]  # fmt: skip
    hits += [Hit(b + x, d, m, accent=0.6 if i in (0, 13) else 0.0) for i, (x, d, m) in
             enumerate(call)]  # fmt: skip
    b = end_beat(hits) + 1.0
    hits += shifted(run(key, scale, 57, 72, down=True), b)
    hits.append(Hit(end_beat(hits), 3.0, 57, accent=0.8))
    notes = humanize(hits, bpm=90, program=CLEAN, jitter_ms=9.0, articulation=0.9, seed=11)
    return write_clip(
        out, notes, key=key, scale=scale, total_s=notes[-1].offset + 1.5,
        description=__doc_first(a_minor_pentatonic_clean), extra={"bpm": 90},
    )  # fmt: skip


def e_major_steel_100bpm(out: Path) -> dict:
    """E major, two octaves up and down (E2–E4) in eighths at 100 BPM on a steel-string
    acoustic; clean playing, small timing jitter."""
    hits = run("E", "major", 40, 64)
    notes = humanize(hits, bpm=100, program=STEEL, jitter_ms=6.0, articulation=0.9, seed=21)
    return write_clip(
        out, notes, key="E", scale="major", total_s=notes[-1].offset + 1.2,
        description=__doc_first(e_major_steel_100bpm), extra={"bpm": 100},
    )  # fmt: skip


def low_e_a_sustained(out: Path) -> dict:
    """Low-register sustained notes (the tuner's nightmare): E2, A2, E2, D3, G2, and E2 again
    played 15 cents flat — nylon-string guitar, each ringing about two seconds."""
    seq = [(40, 0.0), (45, 0.0), (40, 0.0), (50, 0.0), (43, 0.0), (40, -15.0)]
    notes = [
        NoteSpec(0.5 + i * 2.4, 2.1, m, cents=c, velocity=92 - 3 * (i % 2), program=NYLON)
        for i, (m, c) in enumerate(seq)
    ]
    return write_clip(
        out, notes, key="E", scale="minor", total_s=notes[-1].offset + 1.2,
        description=__doc_first(low_e_a_sustained),
    )  # fmt: skip


def g_major_overdrive(out: Path) -> dict:
    """A G major rock riff at 120 BPM with overdrive: sixteenth pickups, held notes, one
    wrong C#4, palm-muted-tight staccato eighths then ringing notes."""
    riff = [
        (0.0, 0.5, 55), (0.5, 0.5, 59), (1.0, 0.25, 62), (1.25, 0.25, 64), (1.5, 0.5, 62),
        (2.0, 1.0, 59), (3.0, 0.5, 57), (3.5, 0.5, 55),
        (4.0, 0.5, 55), (4.5, 0.5, 59), (5.0, 0.25, 62), (5.25, 0.25, 64), (5.5, 0.5, 66),
        (6.0, 1.0, 67), (7.0, 0.5, 61), (7.5, 0.5, 62),
        (8.0, 0.5, 67), (8.5, 0.5, 66), (9.0, 0.5, 64), (9.5, 0.5, 62), (10.0, 0.5, 59),
        (10.5, 0.5, 57), (11.0, 1.0, 55), (12.0, 2.0, 43),
    ]  # fmt: skip
    hits = [Hit(x, d, m) for x, d, m in riff]
    first = humanize(hits[:16], bpm=120, program=OVERDRIVE, jitter_ms=7.0, articulation=0.6,
                     seed=31)  # fmt: skip
    rest = humanize(hits[16:], bpm=120, program=OVERDRIVE, jitter_ms=7.0, articulation=1.0,
                    seed=32)  # fmt: skip
    notes = first + rest
    return write_clip(
        out, notes, key="G", scale="major", total_s=notes[-1].offset + 1.2,
        description=__doc_first(g_major_overdrive), extra={"bpm": 120},
    )  # fmt: skip


CHORDS = {
    "G": (43, 47, 50, 55, 59, 67),
    "C": (48, 52, 55, 60, 64),
    "D": (50, 57, 62, 66),
    "Em": (40, 47, 52, 55, 59, 64),
}


def chord_strum(out: Path) -> dict:
    """Strummed open chords (G, C, D, Em, two down-strums each, strings 12–18 ms apart) on a
    steel-string guitar, then a single E4 — polyphony the engine must report as "not a single
    note", followed by one it must read."""
    notes: list[NoteSpec] = []
    chords: list[list[int]] = []
    t = 0.5
    for name in ("G", "C", "D", "Em"):
        for strum in range(2):
            idx = []
            gap = 0.012 + 0.003 * strum
            for s, m in enumerate(CHORDS[name]):
                idx.append(len(notes))
                notes.append(NoteSpec(t + s * gap, 1.05, m, velocity=84 - 2 * s, program=STEEL))
            chords.append(idx)
            t += 1.2
    notes.append(NoteSpec(t + 0.3, 1.6, 64, velocity=90, program=STEEL))
    # indices refer to the truth's onset-sorted order, which equals creation order here
    return write_clip(
        out, notes, key="G", scale="major", total_s=t + 2.6,
        description=__doc_first(chord_strum), chords=chords,
    )  # fmt: skip


def a_minor_pentatonic_noisy(out: Path) -> dict:
    """The demo's upper-octave run through a noisy room: pink noise at 20 dB SNR and a 0.5 s
    reverb tail — what a laptop microphone hears."""
    key, scale = "A", "minor pentatonic"
    hits = run(key, scale, 57, 72)
    hits.append(Hit(end_beat(hits), 2.0, 57))
    notes = humanize(hits, bpm=90, program=CLEAN, jitter_ms=9.0, articulation=0.9, seed=41)
    fx: list[Callable] = [
        lambda x: augment.reverb(x, rt60_s=0.5, wet=0.3, seed=42),
        lambda x: augment.add_noise(x, 20.0, kind="pink", seed=43),
    ]
    return write_clip(
        out, notes, key=key, scale=scale, total_s=notes[-1].offset + 1.0, augment=fx,
        description=__doc_first(a_minor_pentatonic_noisy),
        extra={"augment": "reverb rt60 0.5 s wet 0.3; pink noise 20 dB SNR"},
    )  # fmt: skip


def __doc_first(fn: Callable) -> str:
    return " ".join((fn.__doc__ or "").split())


EXAMPLES: dict[str, Callable[[Path], dict]] = {
    "a_minor_pentatonic_clean": a_minor_pentatonic_clean,
    "e_major_steel_100bpm": e_major_steel_100bpm,
    "low_e_a_sustained": low_e_a_sustained,
    "g_major_overdrive": g_major_overdrive,
    "chord_strum": chord_strum,
    "a_minor_pentatonic_noisy": a_minor_pentatonic_noisy,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Regenerate the example recordings.")
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--only", action="append", choices=sorted(EXAMPLES))
    args = p.parse_args(argv)
    for name in args.only or EXAMPLES:
        path = args.out / f"{name}.flac"
        truth = EXAMPLES[name](path)
        f = truth["figures"]
        print(
            f"{path.name:32s} {truth['duration_s']:5.1f} s  {f['note_count']:3d} notes  "
            f"in-scale {f['in_scale_ratio']}  ioi_cv {f['ioi_cv']}  "
            f"{path.stat().st_size / 1024:6.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
