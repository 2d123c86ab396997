"""Speed of the audio engine: one command, prints numbers (medians of several runs).

    python bench/bench_speed.py [--runs 3] [--crepe-seconds 4] [--models-dir DIR]

* CPU seconds per audio second of the whole live pipeline (pitch model + onsets +
  segmentation, 1 thread), per backend, and of the pitch model alone;
* per-block processing time in streaming mode (64 ms blocks): p50 / p95 / p99;
* latency on the audio clock from each true onset to (a) the first ``PitchUpdate`` within
  50 cents of the note, (b) the provisional ``NoteStarted`` (what the practice room shows
  first) and (c) the sample position at which its ``NoteEvent`` was emitted; all three are
  positions of the 64 ms block that carried the event, i.e. include the block wait;
* the practice room: CPU seconds (the whole process: the engine's thread and the tuner
  pane's) per audio second of ``Engine(tuner=True)`` as ``practice`` runs it, with
  microphone-sized blocks, beside the same ``Engine`` without the pane, alternating run by
  run; the difference is what the tuner pane costs.

Audio: the committed example recordings (examples/*.flac with *.truth.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CLIPS = ["a_minor_pentatonic_clean", "e_major_steel_100bpm", "g_major_overdrive"]
BLOCK = 1024


def load16k(name: str) -> tuple[np.ndarray, dict]:
    import soundfile as sf

    from fretcoach_cli.audio.resample import resample

    x, sr = sf.read(str(EXAMPLES / f"{name}.flac"), dtype="float32", always_2d=True)
    truth = json.loads((EXAMPLES / f"{name}.truth.json").read_text())
    return resample(x.mean(axis=1), sr), truth


def pipeline_run(backend, audio: np.ndarray, block: int = BLOCK) -> dict:
    """One streaming pass: CPU time, per-block times, emission positions of notes/pitch."""
    from fretcoach_cli.audio.engine import Pipeline
    from fretcoach_cli.events import NoteStarted

    pipe = Pipeline(backend, provisional=True)  # as the live engine runs it
    block_cpu, block_wall, emitted, pitch_updates = [], [], [], []
    started: list[NoteStarted] = []
    t_cpu0 = time.thread_time()
    for i in range(0, len(audio), block):
        blk = audio[i : i + block]
        c0, w0 = time.thread_time(), time.perf_counter()
        notes, frames = pipe.push(blk)
        block_cpu.append(time.thread_time() - c0)
        block_wall.append(time.perf_counter() - w0)
        pos = pipe.position_s
        emitted += [(n, pos) for n in notes]
        started += [e for e in pipe.take_events() if isinstance(e, NoteStarted)]
        last = pipe.tracker.last_pitch
        if len(frames) and last is not None and last[1] is not None:
            pitch_updates.append((pos, last[1]))
    notes, _ = pipe.finish()
    emitted += [(n, pipe.position_s) for n in notes]
    started += [e for e in pipe.take_events() if isinstance(e, NoteStarted)]
    cpu = time.thread_time() - t_cpu0
    return {
        "cpu": cpu,
        "block_cpu": block_cpu,
        "block_wall": block_wall,
        "emitted": emitted,
        "pitch": pitch_updates,
        "started": started,
    }


def room_run(backend, audio: np.ndarray, block: int, tuner: bool) -> tuple[float, int]:
    """(process CPU s, PitchUpdates sent) of one ``Engine`` pass over ``audio`` in blocks of
    ``block`` samples; ``tuner=True`` adds the tuner pane's thread, as ``practice`` runs it
    (a file read at full speed: the feed waits for the pane, so every block is read)."""
    from fretcoach_cli.audio.engine import Engine
    from fretcoach_cli.audio.sources import ArraySource

    readings = 0

    def on_event(ev) -> None:
        nonlocal readings
        if type(ev).__name__ == "PitchUpdate":
            readings += 1

    engine = Engine(ArraySource(audio, block=block), backend=backend, tuner=tuner)
    engine.subscribe(on_event)
    c0 = time.process_time()
    engine.run_sync()
    return time.process_time() - c0, readings


def model_only(backend, audio: np.ndarray) -> float:
    s = backend.stream()
    c0 = time.thread_time()
    for i in range(0, len(audio), BLOCK):
        s.push(audio[i : i + BLOCK])
    s.flush()
    return time.thread_time() - c0


def latencies(run: dict, truth: dict) -> tuple[list[float], list[float], list[float]]:
    """(first-pitch, NoteStarted, NoteEvent) latencies in ms for truth notes the engine found.

    A NoteStarted counts for the truth note whose onset it is within 50 ms of (its pitch is
    only a rough estimate, so it is not required to match)."""
    note_lat, pitch_lat, start_lat = [], [], []
    used: set[int] = set()
    for ref in truth["notes"]:
        for s in run["started"]:
            if abs(s.onset_s - ref["onset_s"]) <= 0.05:
                start_lat.append((s.emitted_at_s - ref["onset_s"]) * 1000)
                break
        for j, (n, pos) in enumerate(run["emitted"]):
            if j in used or not n.is_note:
                continue
            if abs(n.onset_s - ref["onset_s"]) <= 0.05 and abs(n.midi - ref["midi"]) < 0.5:
                used.add(j)
                note_lat.append((pos - ref["onset_s"]) * 1000)
                break
        for pos, midi in run["pitch"]:
            if pos >= ref["onset_s"] and abs(midi - ref["midi"]) < 0.5:
                if pos - ref["onset_s"] < 0.5:
                    pitch_lat.append((pos - ref["onset_s"]) * 1000)
                break
    return pitch_lat, start_lat, note_lat


def named_right(run: dict, truth: dict) -> list[bool]:
    """For each truth note with a NoteStarted: did that early event name the true note?"""
    out = []
    for ref in truth["notes"]:
        near = [s for s in run["started"] if abs(s.onset_s - ref["onset_s"]) <= 0.05]
        if near:
            out.append(near[0].midi is not None and round(near[0].midi) == round(ref["midi"]))
    return out


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--crepe-seconds",
        type=float,
        default=4.0,
        help="audio per CREPE run (it is ~200x slower than swift)",
    )
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--mic-block", type=int, default=171,
                    help="block size (16 kHz samples) of the microphone-like latency pass")
    args = ap.parse_args(argv)

    import onnxruntime  # noqa: F401  (import cost is not analysis cost)

    from fretcoach_cli.audio.pitch import default_models_dir, get_backend, status

    models_dir = args.models_dir or default_models_dir()
    clips = [load16k(c) for c in CLIPS]
    total_s = sum(len(a) for a, _ in clips) / 16000
    print(
        f"audio: {len(clips)} example clips, {total_s:.1f} s at 16 kHz; blocks of "
        f"{BLOCK} samples ({BLOCK / 16:.0f} ms); {args.runs} runs, medians; 1 thread"
    )

    backend = get_backend("swift", threads=1)
    cpu_runs, model_runs = [], []
    block_cpu: list[float] = []
    block_wall: list[float] = []
    pitch_lat: list[float] = []
    start_lat: list[float] = []
    note_lat: list[float] = []
    lat_runs: list[tuple[float, ...]] = []  # audio-clock figures: must not vary between runs
    for r in range(args.runs):
        cpu = 0.0
        run_lat: list[list[float]] = [[], [], []]
        for audio, truth in clips:
            run = pipeline_run(backend, audio)
            cpu += run["cpu"]
            for acc, xs in zip(run_lat, latencies(run, truth), strict=True):
                acc += xs
            if r == 0:
                block_cpu += run["block_cpu"]
                block_wall += run["block_wall"]
        if r == 0:
            pitch_lat, start_lat, note_lat = run_lat
        lat_runs.append(tuple(pct(xs, q) for xs in run_lat for q in (50, 90)))
        cpu_runs.append(cpu / total_s)
        model_runs.append(sum(model_only(backend, a) for a, _ in clips) / total_s)
    med = statistics.median(cpu_runs)
    print("\n[swift] live default")
    print(
        f"  pipeline CPU s per audio s: {med:.4f}  ({1 / med:.0f}x real time); "
        f"pitch model alone {statistics.median(model_runs):.4f}"
    )
    ms = [x * 1000 for x in block_cpu]
    wall = [x * 1000 for x in block_wall]
    print(
        f"  per-block CPU ms:  p50 {pct(ms, 50):.2f}  p95 {pct(ms, 95):.2f}  "
        f"p99 {pct(ms, 99):.2f}  max {max(ms):.2f}"
    )
    print(
        f"  per-block wall ms: p50 {pct(wall, 50):.2f}  p95 {pct(wall, 95):.2f}  "
        f"p99 {pct(wall, 99):.2f}  (shared machine: wall includes waiting for a core)"
    )
    print(
        f"  onset → first PitchUpdate within 50 cents (ms): p50 {pct(pitch_lat, 50):.0f}  "
        f"p90 {pct(pitch_lat, 90):.0f}  (n={len(pitch_lat)})"
    )
    print(
        f"  onset → NoteStarted emitted (ms): p50 {pct(start_lat, 50):.0f}  "
        f"p90 {pct(start_lat, 90):.0f}  max {max(start_lat):.0f}  "
        f"≤200 ms {100 * np.mean(np.asarray(start_lat) <= 200):.0f} %  (n={len(start_lat)}; "
        "provisional: shown dimmed at once, judged by the NoteEvent)"
    )
    print(
        f"  onset → NoteEvent emitted (ms): p50 {pct(note_lat, 50):.0f}  "
        f"p90 {pct(note_lat, 90):.0f}  max {max(note_lat):.0f}  (n={len(note_lat)}; notes "
        "are reported when they end or 1 s after the onset)"
    )
    # what a player sees: a microphone delivers ~10 ms blocks (512 frames at 48 kHz)
    mic_lat: list[float] = []
    named: list[bool] = []
    mic_cpu = 0.0
    for audio, truth in clips:
        run = pipeline_run(backend, audio, block=args.mic_block)
        mic_cpu += run["cpu"]
        mic_lat += latencies(run, truth)[1]
        named += named_right(run, truth)
    print(
        f"  pipeline CPU s per audio s with {args.mic_block}-sample blocks: "
        f"{mic_cpu / total_s:.4f}  ({total_s / mic_cpu:.0f}x real time; one run)"
    )
    print(
        f"  onset → NoteStarted with {args.mic_block}-sample blocks "
        f"({args.mic_block / 16:.1f} ms, as from a microphone): p50 {pct(mic_lat, 50):.0f}  "
        f"p90 {pct(mic_lat, 90):.0f}  max {max(mic_lat):.0f}  ≤80 ms "
        f"{100 * np.mean(np.asarray(mic_lat) <= 80):.0f} %; it names the true note for "
        f"{100 * np.mean(named):.1f} % (n={len(named)})"
    )
    # the practice room: the engine and the tuner pane's thread (process CPU), alternating
    # with the engine alone so both see the same machine load
    room, alone, readings = [], [], 0
    for _ in range(args.runs):
        cpu_alone = sum(room_run(backend, a, args.mic_block, False)[0] for a, _ in clips)
        runs = [room_run(backend, a, args.mic_block, True) for a, _ in clips]
        alone.append(cpu_alone / total_s)
        room.append(sum(c for c, _ in runs) / total_s)
        readings = sum(n for _, n in runs)
    room_med, alone_med = statistics.median(room), statistics.median(alone)
    print(
        f"  practice room (engine + tuner pane, {args.mic_block}-sample blocks, process CPU): "
        f"{room_med:.4f} CPU s per audio s ({1 / room_med:.0f}x real time); the engine alone "
        f"{alone_med:.4f}; the pane {room_med - alone_med:+.4f} "
        f"({readings / total_s:.1f} readings per audio s; medians of {args.runs})"
    )
    if len(set(lat_runs)) > 1:
        print(f"  WARNING: audio-clock latencies differed between runs: {sorted(set(lat_runs))}")

    st = status("crepe", models_dir=models_dir)
    print("\n[crepe]")
    if not st.usable:
        print(f"  not measured: {st.detail}")
        return 0
    crepe = get_backend("crepe", models_dir=models_dir, threads=1)
    audio = clips[0][0][: int(args.crepe_seconds * 16000)]
    runs, blocks = [], []
    for _ in range(args.runs):
        run = pipeline_run(crepe, audio)
        runs.append(run["cpu"] / (len(audio) / 16000))
        blocks += run["block_cpu"]
    med = statistics.median(runs)
    ms = [x * 1000 for x in blocks]
    print(
        f"  pipeline CPU s per audio s: {med:.3f}  ({1 / med:.2f}x real time, "
        f"on {args.crepe_seconds:g} s of audio)"
    )
    print(
        f"  per-block CPU ms: p50 {pct(ms, 50):.1f}  p95 {pct(ms, 95):.1f}  p99 {pct(ms, 99):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
