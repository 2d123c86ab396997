"""Whole-process time of `fretcoach db status` and `fretcoach history`: warm vs cold server.

    python bench/bench_warm.py [--runs 5] [--sessions 2000] [--data-dir DIR]

Three cases, each the median (and min–max) of ``--runs`` whole processes after one warm-up
round; the cases take turns run by run:

* warm   — the embedded server is already running, idle (the warm-server default:
  ``db_idle_minutes`` > 0 and a recent command)
* cold   — the server is stopped; the command starts it and leaves it warm behind it
* grace0 — ``FRETCOACH_DB_IDLE_MINUTES=0``: the command starts the server and stops it again
  before it exits (every command before the warm server)

Wall seconds are measured around the child process; CPU seconds (user+sys) come from the
kernel's accounting of the finished child (``RUSAGE_CHILDREN``). Without ``--data-dir`` a
fresh data dir under /tmp is seeded with ``--sessions`` synthetic sessions (``db seed``) and
removed afterwards; with it, the data dir is used as it is and its server left stopped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
COMMANDS = {"db status": ["db", "status", "--json"], "history": ["history", "--json"]}
CASES = ("warm", "cold", "grace0")


def _env(data_dir: Path, idle_minutes: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")}
    env["FRETCOACH_DATA_DIR"] = str(data_dir)
    env.setdefault("FRETCOACH_CONFIG", str(data_dir.parent / "bench-none.toml"))
    env["FRETCOACH_DB_IDLE_MINUTES"] = str(idle_minutes)
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, cpu s) of one whole process; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([FRETCOACH, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"`fretcoach {' '.join(args)}` failed: {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _stop(data_dir: Path) -> None:
    _run(["db", "stop", "--force"], _env(data_dir, 0))


def _sample(data_dir: Path, case: str, args: list[str]) -> tuple[float, float]:
    env = _env(data_dir, 0 if case == "grace0" else 10)
    if case == "warm":
        _run(["db", "url"], env)  # make sure it runs
    else:
        _stop(data_dir)
    return _run(args, env)


def _measure(data_dir: Path, runs: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Cases interleaved run by run, so a drifting machine speed hits them all alike."""
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for i in range(runs + 1):  # the first round is a warm-up (page cache, bytecode)
        for name, cmd in COMMANDS.items():
            for case in CASES:
                sample = _sample(data_dir, case, cmd)
                if i:
                    samples.setdefault((name, case), []).append(sample)
    return samples


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=2000,
                        help="sessions to seed into a fresh data dir (default 2000)")
    parser.add_argument("--data-dir", type=Path, help="use this data dir as it is")
    args = parser.parse_args()

    root = None
    if args.data_dir is not None:
        data_dir = args.data_dir.expanduser()
        what = f"data dir {data_dir}"
    else:
        root = Path(tempfile.mkdtemp(prefix="fc-bench-warm-", dir="/tmp"))
        data_dir = root / "data"
        _run(["db", "seed", "--sessions", str(args.sessions)], _env(data_dir, 0))
        what = f"fresh data dir with {args.sessions} seeded sessions"
    try:
        samples = _measure(data_dir, args.runs)
    finally:
        _stop(data_dir)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"whole-process seconds, median (min–max) of {args.runs} runs; {what}")
    print(f"{'command':11}{'case':8}{'wall s':>22}{'cpu s':>22}")
    for (name, case), runs in samples.items():
        wall, cpu = [s[0] for s in runs], [s[1] for s in runs]
        print(f"{name:11}{case:8}{_fmt(wall):>22}{_fmt(cpu):>22}")


if __name__ == "__main__":
    main()
