"""How soon the practice room shows a note: onset → NoteStarted over the devset, per category.

    python bench/bench_announce.py [--block 171] [--category NAME ...]

Feeds every melodic devset clip and example through the live (provisional) pipeline in
microphone-sized blocks (171 samples at 16 kHz = 10.7 ms) and prints, per category:

* latency on the audio clock from each true onset to the first ``NoteStarted`` within 50 ms
  of it (p50 / p90, share within 80 ms); a note never announced near its onset counts as
  "none" and is left out of the percentiles;
* how often that early name is the true note (``right``), as a share of announced notes;
* withdrawn announcements: ``NoteDropped`` events that took a shown note back (``drops``),
  apart from re-keys (``rekeys``: a weak-onset announcement handed to the same note under the
  onset its pitch change was timed by, a drop and a start in the same breath).

Deterministic (audio clock, no wall time); ~25 s. Builds the devset first if it is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_clip(backend, audio: np.ndarray, block: int) -> list:
    from fretcoach_cli.audio.engine import Pipeline

    pipe = Pipeline(backend, provisional=True)
    events: list = []
    for i in range(0, len(audio), block):
        pipe.push(audio[i:i + block])
        events += pipe.take_events()
    pipe.finish()
    return events + pipe.take_events()


def clip_figures(events: list, truth: dict) -> dict:
    from fretcoach_cli.events import NoteDropped, NoteStarted

    starts = [e for e in events if isinstance(e, NoteStarted)]
    lat, right, missing = [], [], 0
    for ref in truth["notes"]:
        near = [s for s in starts if abs(s.onset_s - ref["onset_s"]) <= 0.05]
        if not near:
            missing += 1
            continue
        lat.append((near[0].emitted_at_s - ref["onset_s"]) * 1000)
        right.append(near[0].midi is not None and round(near[0].midi) == round(ref["midi"]))
    drops = rekeys = 0
    for i, e in enumerate(events):
        if isinstance(e, NoteDropped):
            nxt = events[i + 1] if i + 1 < len(events) else None
            if isinstance(nxt, NoteStarted) and nxt.emitted_at_s == e.emitted_at_s:
                rekeys += 1
            else:
                drops += 1
    return {"lat": lat, "right": right, "missing": missing, "drops": drops, "rekeys": rekeys}


def main(argv: list[str] | None = None) -> int:
    import soundfile as sf

    import devset
    from fretcoach_cli.audio.pitch import get_backend
    from fretcoach_cli.audio.resample import resample

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--block", type=int, default=171, help="block size in 16 kHz samples")
    ap.add_argument("--category", action="append", help="devset category (repeatable)")
    args = ap.parse_args(argv)
    devset.build(quiet=True)
    clips = [(c, p) for c in (args.category or devset.CATEGORIES)
             for p in sorted(devset.OUT.glob(f"{c}_*.flac"))]
    if not args.category:
        clips += [("examples", p) for p in sorted((HERE.parent / "examples").glob("*.flac"))]
    backend = get_backend("swift")
    rows: dict[str, dict] = {}
    for cat, path in clips:
        truth = json.loads(path.with_name(path.stem + ".truth.json").read_text())
        if truth.get("chords"):
            continue
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        got = clip_figures(run_clip(backend, resample(x.mean(axis=1), sr), args.block), truth)
        for key in ("all", cat):
            row = rows.setdefault(key, {"lat": [], "right": [], "missing": 0, "drops": 0,
                                        "rekeys": 0, "seconds": 0.0})
            for k in ("lat", "right"):
                row[k] += got[k]
            for k in ("missing", "drops", "rekeys"):
                row[k] += got[k]
            row["seconds"] += len(x) / sr
    print(f"onset → NoteStarted, blocks of {args.block} samples ({args.block / 16:.1f} ms), "
          "audio clock")
    print(f"{'category':10s} {'notes':>5s} {'p50ms':>6s} {'p90ms':>6s} {'≤80ms':>6s} "
          f"{'right':>6s} {'none':>5s} {'drops':>5s} {'rekeys':>6s} {'audio s':>8s}")
    order = [k for k in rows if k != "all"] + ["all"]
    for key in order:
        r = rows[key]
        lat = np.asarray(r["lat"])
        print(f"{key:10s} {len(lat):5d} {np.median(lat):6.0f} {np.percentile(lat, 90):6.0f} "
              f"{np.mean(lat <= 80):6.3f} {np.mean(r['right']):6.3f} {r['missing']:5d} "
              f"{r['drops']:5d} {r['rekeys']:6d} {r['seconds']:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
