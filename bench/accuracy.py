"""Accuracy benchmark: the engine against rendered ground truth, per category and overall.

    python bench/accuracy.py                      # swift, whole devset (built if missing)
    python bench/accuracy.py --model crepe        # the CREPE backend (slow: ~2-4 s per audio s)
    python bench/accuracy.py --category low --category noisy10 --per-clip
    python bench/accuracy.py --examples           # also the committed examples/ recordings
    python bench/accuracy.py --json > result.json
    python bench/accuracy.py --from-json result.json   # print a saved result as the table

Columns (definitions in bench/metrics.py): onset P/R/F1 (±50 ms, one-to-one), note F1
(onset ±50 ms and pitch within 50 cents), RPA/RCA (frames within 50 cents, chroma), mean and
95th-percentile |cents| error of matched notes, their median signed error against the settled
pitch (bias¢) and against the pitch heard during the pluck (atk¢), octave errors,
|in-scale ratio error|, |IOI-CV error|, median onset bias (detected − true, ms) and the CPU
seconds per audio second (xRT). Then, for the real-guitar questions: note-offset F1 (mir_eval,
offset within max(20 % of the duration, 50 ms)), held notes (≥ 1.5 s) and their pitch accuracy
over the whole sustain (hRPA, median |cents| hMed¢), octave errors on held E2/A2-string notes
(lowOct), extra detections per held note (xtra/h), the live tuner stream's accuracy over held
notes (tunRPA: the PitchUpdate events of ``Engine(tuner=True)``, what the practice room's
tuner pane shows, each at the audio instant it is sent; tun¢: the median |cents| of its
readings within 50 cents) and files `fretcoach analyze` would refuse.

    python bench/accuracy.py --real               # only the physical-string categories
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
import metrics

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _analyze(
    path: Path, model: str, sensitivity: float, models_dir: Path | None = None,
    tuning: Any = None,
) -> tuple[Any, float]:
    from fretcoach_cli.audio.engine import analyze_file

    t0 = time.process_time()
    analysis = analyze_file(path, pitch_model=model, sensitivity=sensitivity,
                            models_dir=models_dir, tuning=tuning)  # fmt: skip
    return analysis, time.process_time() - t0


def _tuner_track(path: Path, model: str, sensitivity: float,
                 models_dir: Path | None) -> list[tuple[float, float | None]]:  # fmt: skip
    """The live tuner stream of a file: (time, midi or None) of every ``PitchUpdate`` the
    engine sends, as the practice room's tuner pane receives them (the tuner core's
    readings, ``Engine(tuner=True)`` as ``practice`` runs it)."""
    from fretcoach_cli.audio.engine import Engine
    from fretcoach_cli.audio.sources import FileSource

    out: list[tuple[float, float | None]] = []

    def on_event(ev: Any) -> None:
        if type(ev).__name__ == "PitchUpdate":
            out.append((float(ev.time_s), None if ev.midi is None else float(ev.midi)))

    engine = Engine(FileSource(path), pitch_model=model, sensitivity=sensitivity,
                    models_dir=models_dir, tuner=True)  # fmt: skip
    engine.subscribe(on_event)
    engine.run_sync()
    return out


def _tuner_cents(truth: dict, tuner: list[tuple[float, float | None]] | None) -> list[float]:
    """|cents| of the tuner stream's pitched readings within 50 cents of a held note, over
    its whole sustain (the notes and span hRPA/tunRPA use): how steady the pane reads it."""
    out: list[float] = []
    for n in truth.get("notes", []) if tuner else []:
        if (n.get("kind", "note") != "note"
                or n["offset_s"] - n["onset_s"] < metrics.HELD_MIN_S):
            continue
        lo, hi = n["onset_s"] + metrics.HELD_EDGE_S, n["offset_s"] - metrics.HELD_EDGE_S
        out += [abs(m - n["midi"]) * 100.0 for t, m in tuner or ()
                if lo <= t <= hi and m is not None
                and abs(m - n["midi"]) * 100.0 <= metrics.PITCH_TOL_CENTS]
    return out


def _refused(path: Path, analysis: Any) -> bool | None:
    """Would `fretcoach analyze` refuse this file (exit 8)? None if that rule is not found."""
    try:
        from fretcoach_cli.cli.analyze import _no_notes_message
    except ImportError:
        return None
    return _no_notes_message(path, analysis) is not None


def _frames(analysis: Any) -> tuple[Any, Any] | None:
    times = getattr(analysis, "times", None)
    f0 = getattr(analysis, "f0", None)
    if times is None or f0 is None or len(times) == 0:
        return None
    return times, f0


def score_chords(truth: dict, events: list[Any], tol: float = metrics.ONSET_TOL_S) -> dict:
    """For polyphonic truth: how many strums were reported as one polyphonic event, and how
    many single-pitch notes were (wrongly) reported inside the chords."""
    notes = truth["notes"]
    chord_on = [min(notes[i]["onset_s"] for i in c) for c in truth["chords"]]
    chord_off = [max(notes[i]["offset_s"] for i in c) for c in truth["chords"]]
    poly = [e for e in events if getattr(e, "kind", "note") == "polyphonic"]
    pairs = metrics.match(chord_on, [e.onset_s for e in poly], onset_tol=tol)
    inside = [
        e for e in events
        if metrics.event_midi(e) is not None
        and any(on - tol <= e.onset_s <= off for on, off in zip(chord_on, chord_off, strict=True))
    ]  # fmt: skip
    return {"chords": len(chord_on), "detected_polyphonic": len(pairs),
            "single_notes_inside_chords": len(inside)}  # fmt: skip


def _tuning(name: str | None) -> Any:
    """``--tuning``: the engine's lowest pitch follows it, as in ``practice --tuning``."""
    if name is None:
        return None
    from fretcoach_cli.music.tunings import parse_tuning

    return parse_tuning(name)


def run(args: argparse.Namespace) -> dict:
    items: list[tuple[str, str, Path, dict]] = []
    if not args.examples_only:
        manifest = devset.build(quiet=not args.verbose)
        root = devset.OUT
        for c in manifest["clips"]:
            if args.category and c["category"] not in args.category:
                continue
            truth = json.loads((root / c["truth"]).read_text())
            items.append((c["name"], c["category"], root / c["audio"], truth))
    if args.examples or args.examples_only:
        for tpath in sorted(EXAMPLES.glob("*.truth.json")):
            name = tpath.name.removesuffix(".truth.json")
            truth = json.loads(tpath.read_text())
            items.append((name, "examples", EXAMPLES / f"{name}.flac", truth))
    if args.limit:
        items = items[: args.limit]
    if not items:
        raise SystemExit("no clips selected")

    scores: list[metrics.ClipScore] = []
    chords: list[dict] = []
    tuner_cents: dict[str, list[float]] = {}  # |cents| of the pane's readings on held notes
    for name, category, path, truth in items:
        analysis, cpu = _analyze(path, args.model, args.sensitivity, args.models_dir,
                                 _tuning(args.tuning))
        if truth.get("polyphonic"):
            c = {"name": name, **score_chords(truth, analysis.notes)}
            chords.append(c)
            if args.verbose:
                print(f"  {name}: {c}", file=sys.stderr)
            continue
        held = truth.get("figures", {}).get("held_notes")
        tuner = (_tuner_track(path, args.model, args.sensitivity, args.models_dir)
                 if held or (held is None and args.tuner) else None)  # fmt: skip
        s = metrics.score_clip(truth, analysis.notes, name=name, category=category,
                               frames=_frames(analysis), tuner=tuner)  # fmt: skip
        s.cpu_s = cpu
        s.refused = _refused(path, analysis)
        scores.append(s)
        tuner_cents.setdefault(category, []).extend(_tuner_cents(truth, tuner))
        if args.verbose:
            print(f"  {name:28s} onset F1 {s.onset_f1:.3f}  note F1 {s.note_f1:.3f}  "
                  f"events {s.n_est}/{s.n_ref}  cpu {cpu:.1f} s", file=sys.stderr)  # fmt: skip

    if any(s.offset_matches is None for s in scores):
        print("note-offset F1 needs mir_eval: pip install -e '.[dev]' (column left '-')",
              file=sys.stderr)
    if any(s.refused is None for s in scores):
        print("files refused: fretcoach_cli.cli.analyze._no_notes_message not found "
              "(column left '-')", file=sys.stderr)
    categories = [
        c for c in (*devset.ALL_CATEGORIES, "examples") if any(s.category == c for s in scores)
    ]
    table = {c: metrics.aggregate([s for s in scores if s.category == c]) for c in categories}
    table["overall"] = metrics.aggregate(scores)
    for c, row in table.items():
        cents = [x for k, v in tuner_cents.items() if c in (k, "overall") for x in v]
        row["tuner_median_cents"] = float(statistics.median(cents)) if cents else None
    doc: dict[str, Any] = {"model": args.model, "sensitivity": args.sensitivity,
                           "categories": table}  # fmt: skip
    if chords:
        doc["chords"] = chords
    if args.per_clip:
        doc["clips"] = [
            {"name": s.name, "category": s.category, "ref": s.n_ref, "est": s.n_est,
             "onset_f1": s.onset_f1, "note_f1": s.note_f1, "offset_f1": s.offset_f1,
             "held": s.held_notes, "extra": s.held_extra, "refused": s.refused,
             "rpa": s.rpa_frames / s.voiced_frames if s.voiced_frames else None,
             "mean_abs_cents": sum(s.cents_errors) / len(s.cents_errors) if s.cents_errors
             else None, "octave_errors": s.octave_errors, "in_scale_err": s.in_scale_err,
             "ioi_cv_err": s.ioi_cv_err, "report_cv_err": s.report_cv_err}
            for s in scores
        ]  # fmt: skip
    return doc


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


# (header, aggregate key, format) of each table column
COLUMNS = [
    ("clips", "clips", "5d"), ("notes", "ref_notes", "5d"), ("on P", "onset_p", "6.3f"),
    ("on R", "onset_r", "6.3f"), ("on F1", "onset_f1", "6.3f"), ("noteF1", "note_f1", "6.3f"),
    ("RPA", "rpa", "6.3f"), ("RCA", "rca", "6.3f"), ("|c|", "mean_abs_cents", "5.1f"),
    ("p95c", "p95_abs_cents", "5.1f"), ("bias¢", "cents_bias", "+5.1f"),
    ("atk¢", "attack_cents_bias", "+5.1f"),
    ("oct", "octave_errors", "4d"), ("scaleE", "in_scale_err", "6.3f"),
    ("cvE", "ioi_cv_err", "6.3f"), ("rcvE", "report_cv_err", "6.3f"),
    ("biasms", "onset_bias_ms", "+6.1f"),
    ("xRT", "realtime_factor", "6.3f"),
]  # fmt: skip
# the second table: note ends, held notes, re-triggers and refusals (issue 15)
REAL_COLUMNS = [
    ("clips", "clips", "5d"), ("notes", "ref_notes", "5d"), ("on F1", "onset_f1", "6.3f"),
    ("noteF1", "note_f1", "6.3f"), ("offF1", "offset_f1", "6.3f"), ("held", "held_notes", "4d"),
    ("hRPA", "held_rpa", "6.3f"), ("hMed¢", "held_median_cents", "5.1f"),
    ("lowOct", "low_octave_errors", "6d"), ("xtra/h", "extra_per_held", "6.2f"),
    ("tunRPA", "tuner_rpa", "6.3f"), ("tun¢", "tuner_median_cents", "5.1f"),
    ("refused", "files_refused", "7d"),
]  # fmt: skip


def _print_block(doc: dict, columns: list[tuple[str, str, str]]) -> None:
    widths = [len(format(0, fmt.replace("+", ""))) + ("+" in fmt) for _, _, fmt in columns]
    head = f"{'category':11s} " + " ".join(
        f"{h:>{w}s}" for (h, _, _), w in zip(columns, widths, strict=True)
    )
    print(head)
    print("-" * len(head))
    for name, agg in doc["categories"].items():
        if name == "overall":
            print("-" * len(head))
        cells = [
            f"{_f(agg.get(key), fmt):>{w}s}"
            for (_, key, fmt), w in zip(columns, widths, strict=True)
        ]
        print(f"{name:11s} " + " ".join(cells))


def print_table(doc: dict) -> None:
    print(f"accuracy — model {doc['model']}, sensitivity {doc['sensitivity']}")
    _print_block(doc, COLUMNS)
    print()
    print("note ends, held notes (>= 1.5 s), re-triggers, refusals")
    _print_block(doc, REAL_COLUMNS)
    for c in doc.get("chords", []):
        print(
            f"chords {c['name']}: {c['detected_polyphonic']}/{c['chords']} strums reported as "
            f"polyphonic, {c['single_notes_inside_chords']} single notes inside chords"
        )
    for c in doc.get("clips", []):
        print(
            f"  {c['name']:28s} on F1 {c['onset_f1']:.3f} note F1 {c['note_f1']:.3f} "
            f"off F1 {_f(c.get('offset_f1'), '.3f')} "
            f"RPA {_f(c['rpa'], '.3f')} |c| {_f(c['mean_abs_cents'], '.1f')} "
            f"events {c['est']}/{c['ref']} held {c.get('held', '-')} "
            f"extra {c.get('extra', '-')}{' REFUSED' if c.get('refused') else ''}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Engine accuracy on the rendered devset.")
    p.add_argument("--model", default="swift", choices=("swift", "crepe"))
    p.add_argument("--sensitivity", type=float, default=0.5)
    p.add_argument("--tuning", help="analyse as practice --tuning does (the lowest pitch "
                   "follows the tuning; default: the pitch model's whole range, as analyze)")
    p.add_argument("--models-dir", type=Path, help="where installed pitch models live")
    p.add_argument("--category", action="append", choices=devset.ALL_CATEGORIES)
    p.add_argument("--tuner", action="store_true",
                   help="also replay soundfont clips through the live engine for tunRPA "
                   "(string-model clips with held notes always are)")
    p.add_argument("--real", action="store_true",
                   help="only the physical-string categories (sustain, letring, ...)")
    p.add_argument("--examples", action="store_true", help="also score examples/")
    p.add_argument("--examples-only", action="store_true", help="score only examples/")
    p.add_argument("--limit", type=int, default=0, help="first N clips only")
    p.add_argument("--per-clip", action="store_true", help="add one line per clip")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    p.add_argument("--from-json", type=Path, help="print the table of a saved --json result")
    args = p.parse_args(argv)
    if args.real:
        args.category = [*(args.category or []), *devset.STRING_CATEGORIES]
    if args.from_json:
        print_table(json.loads(args.from_json.read_text()))
        return 0
    try:
        import fretcoach_cli.audio.engine  # noqa: F401
    except ImportError as exc:
        print(f"the audio engine is not available: {exc}", file=sys.stderr)
        return 2
    try:
        doc = run(args)
    except Exception as exc:  # a backend without weights, a missing fluidsynth, ...
        print(f"accuracy benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
