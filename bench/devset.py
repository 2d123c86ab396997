"""The development set: ~56 rendered guitar clips with exact truth, grouped by difficulty.

    python bench/devset.py                 # build bench/out/devset/ (≈80 s), skip if current
    python bench/devset.py --force --list  # rebuild and list the clips

Deterministic: clip *i* of a category draws everything (key, scale, tempo, melody, wrong and
detuned notes, jitter, articulation, guitar, augmentation) from ``Random(f"{category}:{i}")``.
Categories:

- ``clean``     — dry renders, staccato to normal articulation, nylon/steel/jazz/clean electric
- ``noisy20``   — white or pink noise at 20 dB SNR (active-signal power)
- ``noisy10``   — the same at 10 dB SNR
- ``legato``    — every note rings until the next pick
- ``distorted`` — GM overdrive/distortion guitars, or a clean guitar hard-clipped 12–20 dB
- ``reverb``    — synthetic room, RT60 0.4–1.5 s, 25–50 % wet
- ``low``       — E2–E3 register (82–165 Hz), slower tempi, longer notes

Physical-string categories (``string_model.py``, plans in ``string_scenes.py``): ``sustain``,
``letring``, ``sympathetic``, ``beating``, ``hum``, ``realroom``, ``doublestop`` — what a
real acoustic guitar does (long decays, beating, sympathetic strings, mains hum, a room and a
cheap microphone, double stops); their truth adds ``string_offset_s``, ``kind``,
``end_reason``, ``sympathetic`` and ``double_stops``.

Each clip: 10–20 s, tempo 60–180 BPM, 0–3 wrong (out-of-scale) notes, 1–3 notes detuned by
±5–40 cents, onset jitter σ 3–20 ms, repeated notes and rests. ``manifest.json`` lists them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import augment
import render
import string_model
import string_scenes
from compose import Hit, humanize
from render import CLEAN, DISTORTION, JAZZ, NYLON, OVERDRIVE, STEEL, NoteSpec

OUT = Path(__file__).resolve().parent / "out" / "devset"
CATEGORIES = ("clean", "noisy20", "noisy10", "legato", "distorted", "reverb", "low")
STRING_CATEGORIES = string_scenes.CATEGORIES  # physical string model, not the soundfont
ALL_CATEGORIES = CATEGORIES + STRING_CATEGORIES
PER_CATEGORY = 8
VERSION = 3
KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = tuple(render.SCALE_INTERVALS)
CLEAN_PROGRAMS = (NYLON, STEEL, JAZZ, CLEAN)


def _melody(rng: random.Random, pool: list[int], n: int) -> list[int]:
    """A random walk over scale notes: mostly steps, some leaps, some repeated notes."""
    i = rng.randrange(len(pool))
    out = []
    for _ in range(n):
        out.append(pool[i])
        r = rng.random()
        step = 0 if r < 0.1 else rng.choice((-1, 1)) * (1 if r < 0.75 else rng.choice((2, 3)))
        i += step
        if i < 0 or i >= len(pool):
            i -= 2 * step
            i = min(max(i, 0), len(pool) - 1)
    return out


def clip_plan(category: str, index: int) -> tuple[list[NoteSpec], dict]:
    """The notes and the parameters of one clip (no rendering)."""
    rng = random.Random(f"{category}:{index}")
    key, scale = rng.choice(KEYS), rng.choice(SCALES)
    low = category == "low"
    bpm = rng.uniform(60, 110) if low else rng.uniform(60, 180)
    subdivision = rng.choice((0.5, 1.0)) if low else (0.5 if bpm >= 90 else rng.choice((0.25, 0.5)))
    if category == "distorted":
        program = rng.choice((OVERDRIVE, DISTORTION, CLEAN))
    else:
        program = rng.choice(CLEAN_PROGRAMS)
    if low:
        lo, hi = 40, 52
    else:
        lo = rng.randint(45, 64)
        hi = lo + rng.randint(12, 17)
    pool = render.scale_midis(key, scale, lo, hi)
    target_s = rng.uniform(10.0, 20.0)
    spb = 60.0 / bpm
    n_slots = int((target_s - 1.5) / (subdivision * spb))
    melody = _melody(rng, pool, n_slots)
    hits: list[Hit] = []
    for slot, midi in enumerate(melody):
        if slot > 0 and rng.random() < 0.08:
            continue  # a rest
        beats = subdivision * (2 if rng.random() < 0.12 else 1)
        hits.append(Hit(slot * subdivision, beats, midi, accent=rng.uniform(-0.5, 0.5)))
    pcs = render.scale_pcs(key, scale)
    n_wrong = rng.randint(0, 3)
    wrong = rng.sample(range(1, len(hits)), n_wrong)
    for i in wrong:
        m = hits[i].midi
        cands = [m + d for d in (1, -1, 2, -2) if (m + d) % 12 not in pcs and lo <= m + d <= hi + 2]
        if cands:
            hits[i] = Hit(hits[i].beat, hits[i].beats, cands[0], accent=hits[i].accent)
    n_detuned = rng.randint(1, 3)
    for i in rng.sample([i for i in range(len(hits)) if i not in wrong], n_detuned):
        cents = rng.choice((-1, 1)) * rng.uniform(5.0, 40.0)
        h = hits[i]
        hits[i] = Hit(h.beat, h.beats, h.midi, round(cents, 1), h.accent)
    articulation = 1.0 if category == "legato" else rng.uniform(0.45, 0.95)
    if low:
        articulation = rng.uniform(0.8, 1.0)
    jitter = rng.uniform(3.0, 20.0)
    notes = humanize(hits, bpm=bpm, program=program, jitter_ms=jitter, articulation=articulation,
                     velocity=rng.randint(70, 100), seed=rng.randrange(1 << 30))  # fmt: skip
    fx: list[list] = []
    if category in ("noisy20", "noisy10"):
        snr = 20 if category == "noisy20" else 10
        fx.append(["noise", snr, rng.choice(("white", "pink")), rng.randrange(1 << 30)])
    elif category == "reverb":
        fx.append(["reverb", round(rng.uniform(0.4, 1.5), 2), round(rng.uniform(0.25, 0.5), 2),
                   rng.randrange(1 << 30)])  # fmt: skip
    elif category == "distorted" and program == CLEAN:
        fx.append(["clip", round(rng.uniform(12, 20), 1)])
    params = {
        "category": category,
        "key": key,
        "scale": scale,
        "bpm": round(bpm, 2),
        "subdivision_beats": subdivision,
        "program": program,
        "program_name": render.PROGRAM_NAMES[program],
        "articulation": round(articulation, 3),
        "jitter_ms": round(jitter, 2),
        "augment": fx,
    }
    return notes, params


def _fingerprint() -> str:
    h = hashlib.sha1(str(VERSION).encode())
    here = Path(__file__).resolve().parent
    for name in (
        "render.py",
        "compose.py",
        "augment.py",
        "devset.py",
        "string_model.py",
        "string_scenes.py",
        "soundfont_calibration.json",
    ):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def build(out: Path = OUT, *, force: bool = False, quiet: bool = False) -> dict:
    """Render the whole set unless ``manifest.json`` says it is current; returns the manifest."""
    manifest_path = out / "manifest.json"
    fp = _fingerprint()
    if not force and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") == fp and all(
            (out / c["audio"]).exists() for c in manifest["clips"]
        ):
            return manifest
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for category in CATEGORIES:
        for i in range(PER_CATEGORY):
            notes, params = clip_plan(category, i)
            name = f"{category}_{i:02d}"
            path = out / f"{name}.flac"
            fx = [lambda x, a=a: augment.apply_spec(x, a) for a in params["augment"]]
            truth = render.write_clip(
                path, notes, key=params["key"], scale=params["scale"],
                total_s=notes[-1].offset + 1.0, augment=fx,
                description=f"devset {name}: {params['key']} {params['scale']}, "
                f"{params['bpm']:.0f} BPM, {params['program_name']}",
                extra={"params": params},
            )  # fmt: skip
            clips.append({
                "name": name, "category": category, "audio": path.name,
                "truth": render.truth_path(path).name, "duration_s": truth["duration_s"],
                "notes": truth["figures"]["note_count"],
            })  # fmt: skip
            if not quiet:
                print(f"  {name}: {truth['duration_s']:5.1f} s {len(notes):3d} notes  "
                      f"{params['key']} {params['scale']}, {params['bpm']:.0f} BPM, "
                      f"{params['program_name']} {params['augment'] or ''}")  # fmt: skip
    for category in STRING_CATEGORIES:
        for i in range(PER_CATEGORY):
            scene = string_scenes.scene_plan(category, i)
            name = f"{category}_{i:02d}"
            path = out / f"{name}.flac"
            truth = string_model.write(path, scene)
            truth["params"]["category"] = category
            string_model.truth_file(path).write_text(json.dumps(truth, indent=1) + "\n")
            clips.append({
                "name": name, "category": category, "audio": path.name,
                "truth": string_model.truth_file(path).name, "duration_s": truth["duration_s"],
                "notes": truth["figures"]["note_count"],
            })  # fmt: skip
            if not quiet:
                print(f"  {name}: {truth['duration_s']:5.1f} s {len(truth['notes']):3d} notes  "
                      f"{len(truth['sympathetic'])} sympathetic, held "
                      f"{truth['figures']['held_notes']}")  # fmt: skip
    manifest = {"fingerprint": fp, "version": VERSION, "clips": clips}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the accuracy development set.")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--force", action="store_true", help="rebuild even if current")
    p.add_argument("--list", action="store_true", help="print the manifest summary")
    args = p.parse_args(argv)
    manifest = build(args.out, force=args.force)
    total = sum(c["duration_s"] for c in manifest["clips"])
    notes = sum(c["notes"] for c in manifest["clips"])
    print(f"devset: {len(manifest['clips'])} clips, {total / 60:.1f} min, {notes} notes "
          f"in {args.out}")  # fmt: skip
    if args.list:
        for c in manifest["clips"]:
            print(f"{c['name']:14s} {c['duration_s']:5.1f} s {c['notes']:3d} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
