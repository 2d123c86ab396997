"""Practice-room performance: engine time per audio block, and the UI's update rate.

    python bench/bench_tui.py [--file examples/a_minor_pentatonic_clean.flac] [--seconds 15]

1. Engine: every 64 ms block of the file through the live pipeline (SwiftF0 + segmenter),
   timed one by one: mean / p50 / p95 / max milliseconds and the real-time factor.
2. UI: the practice room runs headless (Textual's test driver, 120×40) on the same file at
   real-time speed for ``--seconds`` of audio; prints how often the live view was updated
   (level/pitch ticks + notes handled), how often Textual actually painted the screen, and
   how far the UI's clock lagged the audio clock.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_engine(path: Path) -> None:
    from fretcoach_cli.audio.engine import Pipeline
    from fretcoach_cli.audio.pitch import get_backend
    from fretcoach_cli.audio.resample import MODEL_RATE
    from fretcoach_cli.audio.sources import FileSource

    pipe = Pipeline(get_backend("swift"))
    src = FileSource(path)
    src.open()
    times, samples = [], 0
    while (block := src.read()) is not None:
        if not len(block):
            continue
        t0 = time.perf_counter()
        pipe.push(block)
        times.append((time.perf_counter() - t0) * 1000.0)
        samples += len(block)
    src.close()
    audio_s = samples / MODEL_RATE
    ms = sorted(times)
    print(f"engine: {len(ms)} blocks ({audio_s:.1f} s of audio, "
          f"{1000 * audio_s / len(ms):.0f} ms per block)")
    print(f"  per block ms: mean {statistics.fmean(ms):.2f}  p50 {ms[len(ms) // 2]:.2f}  "
          f"p95 {ms[int(len(ms) * 0.95)]:.2f}  max {ms[-1]:.2f}")
    print(f"  real-time factor: {sum(ms) / 1000 / audio_s:.4f} (CPU s per audio s)")


async def bench_ui(path: Path, seconds: float) -> None:
    from fretcoach_cli.audio.sources import FileSource
    from fretcoach_cli.music.scales import parse_scale
    from fretcoach_cli.practice.runner import PracticeOptions, PracticeSession
    from fretcoach_cli.tui.app import PracticeApp
    from fretcoach_cli.tui.widgets import MetricBars, NoteFeed, SessionHeader

    options = PracticeOptions(scale=parse_scale("A minor pentatonic"), source_kind="file",
                              source_label=path.name, duration_s=seconds)
    session = PracticeSession(options, FileSource(path, realtime=True))
    app = PracticeApp(session, coach=False, finish_on_end=False)
    paints = 0
    original = app._display

    def counting_display(screen, renderable):  # count real screen updates
        nonlocal paints
        paints += 1
        return original(screen, renderable)

    app._display = counting_display  # type: ignore[method-assign]
    lags: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        t0 = time.perf_counter()
        while not session.input_done.is_set():
            await pilot.pause(0.1)
            if session.engine is not None:
                lags.append(session.engine.position_s
                            - app.query_one(SessionHeader).elapsed_s)
        wall = time.perf_counter() - t0
        await pilot.pause()
        notes = app.query_one(NoteFeed).count
        bar_updates = app.query_one(MetricBars).updates
        await pilot.press("q")
        while app.result is None:
            await pilot.pause(0.05)
    print(f"ui: {session.position_s:.1f} s of audio in {wall:.1f} s wall (headless, 120x40)")
    print(f"  live-view updates: {app.frames} ({app.frames / wall:.1f}/s), notes shown {notes}, "
          f"metric-bar updates {bar_updates}")
    print(f"  screen paints: {paints} ({paints / wall:.1f}/s)")
    if lags:
        lags.sort()
        print(f"  UI clock behind audio clock: p50 {1000 * lags[len(lags) // 2]:.0f} ms, "
              f"max {1000 * lags[-1]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path,
                        default=ROOT / "examples" / "a_minor_pentatonic_clean.flac")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    bench_engine(args.file)
    asyncio.run(bench_ui(args.file, args.seconds))


if __name__ == "__main__":
    main()
