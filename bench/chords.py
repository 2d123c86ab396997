"""Strummed chords: does the engine say "not a single note" instead of guessing one?

    python bench/chords.py [--force]

Renders (once, cached in ``bench/out/chords/``) one clip per GM guitar — nylon, steel, jazz,
clean electric, overdrive, distortion — each strumming nine open and power-chord shapes
(G C D Em A Am F E5 A5) twice, a down-strum (low to high, strings 12 ms apart) then an
up-strum (high to low, 16 ms apart), and prints per guitar and per shape:

* ``poly``: strums reported as one ``polyphonic`` event (matched within 50 ms of the strum);
* ``guessed``: strums with a single-pitch note reported anywhere inside them — the failure
  the issue asks us to avoid (an ``unclear`` event, no pitch, is not a guess).

Deterministic; ≈20 s the first time (rendering), ≈10 s after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metrics  # noqa: E402
import render  # noqa: E402
from render import CLEAN, DISTORTION, JAZZ, NYLON, OVERDRIVE, STEEL, NoteSpec  # noqa: E402

OUT = HERE / "out" / "chords"
GUITARS = {"nylon": NYLON, "steel": STEEL, "jazz": JAZZ, "clean": CLEAN,
           "overdrive": OVERDRIVE, "distortion": DISTORTION}
# MIDI keys low string → high string, as fretted in first position (power chords: root, 5th, 8ve)
SHAPES = {
    "G": (43, 47, 50, 55, 59, 67), "C": (48, 52, 55, 60, 64), "D": (50, 57, 62, 66),
    "Em": (40, 47, 52, 55, 59, 64), "A": (45, 52, 57, 61, 64), "Am": (45, 52, 57, 60, 64),
    "F": (41, 48, 53, 57, 60, 65), "E5": (40, 47, 52), "A5": (45, 52, 57),
}
STRUM_S = 1.6  # one strum every 1.6 s, each string held 1.3 s


def plan(program: int) -> tuple[list[NoteSpec], list[list[int]], list[str]]:
    """Notes, strums (note indices: creation order is onset order, as the truth sorts them)
    and each strum's shape name."""
    notes: list[NoteSpec] = []
    chords: list[list[int]] = []
    labels: list[str] = []
    t = 0.5
    for shape, keys in SHAPES.items():
        for up in (False, True):
            order = list(reversed(keys)) if up else list(keys)
            gap = 0.016 if up else 0.012
            chords.append(list(range(len(notes), len(notes) + len(order))))
            labels.append(shape)
            for s, key in enumerate(order):
                notes.append(NoteSpec(t + s * gap, 1.3, key, velocity=88 - 2 * s,
                                      program=program))
            t += STRUM_S
    return notes, chords, labels


def build(force: bool = False) -> list[tuple[str, Path, dict, list[str]]]:
    digest = hashlib.sha1(Path(__file__).read_bytes() + (HERE / "render.py").read_bytes()
                          ).hexdigest()[:12]
    OUT.mkdir(parents=True, exist_ok=True)
    clips = []
    for name, program in GUITARS.items():
        notes, chords, labels = plan(program)
        path = OUT / f"chords_{name}_{digest}.flac"
        tpath = render.truth_path(path)
        if force or not (path.exists() and tpath.exists()):
            render.write_clip(path, notes, total_s=notes[-1].offset + 1.0, chords=chords,
                              description=f"chord strums, {name}")
        truth = json.loads(tpath.read_text())
        clips.append((name, path, truth, labels))
    return clips


def main(argv: list[str] | None = None) -> int:
    from fretcoach_cli.audio.engine import analyze_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="re-render the clips")
    args = ap.parse_args(argv)
    by_shape: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    total = [0, 0, 0]
    print(f"{'guitar':11s} {'strums':>6s} {'poly':>5s} {'guessed':>7s}  guessed shapes")
    for name, path, truth, labels in build(args.force):
        events = analyze_file(path).notes
        notes = truth["notes"]
        row = [0, 0, 0]
        guessed_shapes = []
        for chord, label in zip(truth["chords"], labels, strict=True):
            on = min(notes[i]["onset_s"] for i in chord)
            off = max(notes[i]["offset_s"] for i in chord)
            poly = any(e.kind == "polyphonic" and abs(e.onset_s - on) <= metrics.ONSET_TOL_S
                       for e in events)
            guessed = any(e.midi is not None and on - metrics.ONSET_TOL_S <= e.onset_s <= off
                          for e in events)
            for counts in (row, total, by_shape[label]):
                counts[0] += 1
                counts[1] += poly
                counts[2] += guessed
            if guessed:
                guessed_shapes.append(label)
        print(f"{name:11s} {row[0]:6d} {row[1]:5d} {row[2]:7d}  {' '.join(guessed_shapes)}")
    print(f"{'all':11s} {total[0]:6d} {total[1]:5d} {total[2]:7d}")
    print("per shape: " + ", ".join(f"{s} {c[2]}/{c[0]} guessed" for s, c in by_shape.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
