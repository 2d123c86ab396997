"""Whole-process time of everyday `fretcoach` commands, against a baseline checkout.

    python bench/bench_cli.py                          # this checkout's src only
    python bench/bench_cli.py --baseline-src ../old/src --runs 7
    # a baseline from a commit: git archive REV src ddl | tar -x -C /tmp/base  (src/ + ddl/)

Every figure is the median of ``--runs`` runs after one warm-up, each run a fresh process
(what a shell loop or a status bar pays): ``--help``, ``--version``, ``db status``,
``history``, ``stats --since 2024-01-01 --json`` on a database seeded with ``db seed
--sessions N`` (default 2000) under a temporary data dir (one per checkout, same seed), and
``analyze`` of a 30 s file (the melodic examples concatenated, 44.1 kHz) as CPU s per audio
second. CPU is the run's own user + sys from ``os.wait4`` (the process and the children it
waited for; an embedded server it leaves running is not counted). With ``--baseline-src``
the two checkouts run alternately, A B A B …, and the ratio column is the median of the
pairwise ratios A/B, so a machine whose speed drifts still compares fairly. When the
checkout has ``db stop``, the database commands are also timed cold (server stopped before
each run). No verdicts: the targets column only repeats issue 17's figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("e_major_steel_100bpm", "g_major_overdrive", "a_minor_pentatonic_noisy",
            "a_minor_pentatonic_clean")
AUDIO_S = 30.0
ENTRY = "import sys; sys.argv[0] = 'fretcoach'; from fretcoach_cli.cli.main import run; run()"
TARGETS = {"--help": "≤ 0.2 s wall", "analyze 30 s": "≤ 0.015 CPU s/audio s",
           "stats --json": "warm ≤ 0.3 s at 100k", "history": "warm ≤ 0.3 s at 100k"}


@dataclass
class Side:
    """One checkout: its src directory and its own data directory."""

    name: str
    src: Path
    data: Path
    env: dict[str, str] = field(default_factory=dict)

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-c", ENTRY, *args]


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    code: int


def make_side(name: str, src: Path, tmp: Path) -> Side:
    data = tmp / name / "data"
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL", "PYTHONPATH",
                        "PYTHONDONTWRITEBYTECODE")}
    # Bytecode is cached (as an installed package has it), outside the checkouts.
    env.update(PYTHONPATH=str(src), FRETCOACH_DATA_DIR=str(data), FRETCOACH_USER="bench",
               FRETCOACH_CONFIG=str(tmp / name / "none.toml"),
               PYTHONPYCACHEPREFIX=str(tmp / name / "pycache"))
    return Side(name, src, data, env)


def run_once(side: Side, args: list[str]) -> Run:
    """One whole process; CPU and peak memory from its own rusage."""
    t0 = time.perf_counter()
    p = subprocess.Popen(side.cmd(*args), env=side.env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, p.returncode)


def check(side: Side, *args: str, timeout: float = 900) -> None:
    """Run a set-up command; stop the benchmark with its stderr if it fails."""
    p = subprocess.run(side.cmd(*args), env=side.env, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode:
        sys.exit(f"bench_cli: {side.name}: fretcoach {' '.join(args)} failed "
                 f"({p.returncode}): {p.stderr.strip()[-400:]}")


def has_db_stop(side: Side) -> bool:
    p = subprocess.run(side.cmd("db", "stop", "--help"), env=side.env, capture_output=True)
    return p.returncode == 0


def make_audio(path: Path) -> None:
    """The melodic examples back to back, cut at 30 s, 44.1 kHz 16-bit FLAC.

    Run in a child process (``--make-audio``) so this one stays small: a child's peak
    memory as the kernel reports it includes the parent's pages it was forked from.
    """
    import numpy as np
    import soundfile as sf

    parts, rate = [], 44100
    for name in EXAMPLES:
        x, sr = sf.read(ROOT / "examples" / f"{name}.flac", dtype="float32", always_2d=True)
        if sr != rate:
            sys.exit(f"bench_cli: examples/{name}.flac is {sr} Hz, expected {rate}")
        parts.append(x.mean(axis=1))
    audio = np.concatenate(parts)
    if len(audio) < AUDIO_S * rate:
        sys.exit("bench_cli: the examples are shorter than 30 s together")
    sf.write(path, audio[: int(AUDIO_S * rate)], rate, subtype="PCM_16")


def bench(sides: list[Side], args: list[str], runs: int, before: list[str] | None = None
          ) -> list[list[Run]]:
    """Warm-up then ``runs`` rounds, the sides alternating; ``before`` runs untimed first."""
    out: list[list[Run]] = [[] for _ in sides]
    for i in range(runs + 1):
        for k, side in enumerate(sides):
            if before:
                subprocess.run(side.cmd(*before), env=side.env, capture_output=True)
            r = run_once(side, args)
            if i:
                out[k].append(r)
    return out


def _ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True) if y > 0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="checkout to measure (A)")
    p.add_argument("--baseline-src", type=Path, help="another checkout's src (B)")
    p.add_argument("--sessions", type=int, default=2000, help="sessions to seed (default 2000)")
    p.add_argument("--skip-db", action="store_true", help="only --help, --version, analyze")
    p.add_argument("--make-audio", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make_audio:
        make_audio(args.make_audio)
        return 0
    for src in filter(None, (args.src, args.baseline_src)):
        if not (src / "fretcoach_cli" / "__init__.py").is_file():
            sys.exit(f"bench_cli: {src} is not a src directory with fretcoach_cli/")
        if not args.skip_db and not (src / "fretcoach_cli" / "ddl").is_dir():
            sys.exit(f"bench_cli: {src}/fretcoach_cli/ddl does not lead to the checkout's ddl/ "
                     "(it is a symlink to ../../ddl: copy ddl/ next to src/)")

    tmp = Path(tempfile.mkdtemp(prefix="fretcoach-bench-cli-"))
    try:
        sides = [make_side("A", args.src.resolve(), tmp)]
        if args.baseline_src:
            sides.append(make_side("B", args.baseline_src.resolve(), tmp))
        audio = tmp / "thirty.flac"
        subprocess.run([sys.executable, __file__, "--make-audio", str(audio)], check=True)
        cases: list[tuple[str, list[str], list[str] | None]] = [
            ("--help", ["--help"], None), ("--version", ["--version"], None)]
        if not args.skip_db:
            for side in sides:
                t0 = time.perf_counter()
                check(side, "db", "seed", "--sessions", str(args.sessions))
                print(f"# {side.name}: seeded {args.sessions} sessions in "
                      f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
            db_cases = [("db status", ["db", "status"]), ("history", ["history"]),
                        ("stats --json", ["stats", "--since", "2024-01-01", "--json"])]
            cold = all(has_db_stop(s) for s in sides)
            for label, cmd in db_cases:
                cases.append((label, cmd, None))
                if cold:
                    cases.append((f"{label} (cold)", cmd, ["db", "stop"]))
        cases.append(("analyze 30 s", ["analyze", str(audio), "--scale", "A minor pentatonic",
                                       "--json"], None))

        names = [s.name for s in sides]
        seeded = "" if args.skip_db else f"; {args.sessions} seeded sessions"
        print(f"fretcoach whole-process times, median of {args.runs} runs after a warm-up"
              f"{seeded}")
        for s in sides:
            print(f"  {s.name} = {s.src}")
        head = f"{'command':<24}" + "".join(f"{n + ' wall s':>10}{n + ' cpu s':>10}"
                                            for n in names)
        head += f"{'MiB A':>7}" + (f"{'wall A/B':>10}{'cpu A/B':>9}" if len(sides) > 1 else "")
        print(head + "  target")
        print("-" * (len(head) + 24))
        for label, cmd, before in cases:
            res = bench(sides, cmd, args.runs, before)
            bad = {r.code for rs in res for r in rs if r.code}
            scale = AUDIO_S if label.startswith("analyze") else 1.0
            row = f"{label:<24}"
            for rs in res:
                row += (f"{statistics.median(r.wall for r in rs) / scale:>10.4f}"
                        f"{statistics.median(r.cpu for r in rs) / scale:>10.4f}")
            row += f"{statistics.median(r.rss_mb for r in res[0]):>7.0f}"
            if len(sides) > 1:
                row += (f"{_ratio([r.wall for r in res[0]], [r.wall for r in res[1]]):>10.2f}"
                        f"{_ratio([r.cpu for r in res[0]], [r.cpu for r in res[1]]):>9.2f}")
            row += f"  {TARGETS.get(label, '')}"
            if bad:
                row += f"  (exit codes {sorted(bad)})"
            print(row, flush=True)
        print("analyze: wall and cpu per audio second of the 30 s file (whole process)")
    finally:
        if not args.skip_db:
            for s in locals().get("sides", []):
                if has_db_stop(s):
                    subprocess.run(s.cmd("db", "stop"), env=s.env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
