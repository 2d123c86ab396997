"""Whole-process time of everyday `fretcoach` commands, against a baseline checkout.

    python bench/bench_cli.py                          # this checkout's src only
    python bench/bench_cli.py --baseline-src ../old/src --runs 7
    python bench/bench_cli.py --sessions 2000,20000,100000 --baseline-src /tmp/base/src
    # a baseline from a commit: git archive REV src ddl | tar -x -C /tmp/base  (src/ + ddl/)

Every figure is the median of ``--runs`` runs after one warm-up, each run a fresh process
(what a shell loop or a status bar pays): ``--help``, ``--version``, ``db status``,
``history``, ``stats --since 2024-01-01 --json`` on a database seeded with ``db seed
--sessions N`` for each N of ``--sessions`` (default 2000; several, comma-separated, give
one row group each), and
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
import hashlib
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


def schema_key(src: Path) -> str:
    """A hash of the checkout's migrations (names and contents): seeded data is reusable
    exactly while it is equal."""
    digest = hashlib.sha256()
    for path in sorted((src / "fretcoach_cli" / "ddl").glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


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


def with_data(side: Side, data: Path) -> Side:
    """The same checkout on another data directory."""
    return Side(side.name, side.src, data, {**side.env, "FRETCOACH_DATA_DIR": str(data)})


def seeded(side: Side, sessions: int, cache: Path, fresh: bool,
           same_schema: Side | None) -> Side:
    """``side`` on a data dir holding ``sessions`` seeded sessions, from the cache if there.

    ``same_schema`` is a side already seeded with the same schema key: its directory is
    copied (server stopped first; ``cp -a`` keeps the server user's ownership) instead of
    seeding again."""
    entry = cache / f"{schema_key(side.src)}-{sessions}-{side.name}"
    ready = entry / "seeded.ok"
    target = with_data(side, entry / "data")
    if ready.is_file() and not fresh:
        print(f"# {side.name}: {sessions} seeded sessions from the cache ({entry})",
              file=sys.stderr)
        return target
    subprocess.run(target.cmd("db", "stop"), env=target.env, capture_output=True)
    shutil.rmtree(entry, ignore_errors=True)
    entry.mkdir(parents=True)
    t0 = time.perf_counter()
    if same_schema is not None:
        subprocess.run(same_schema.cmd("db", "stop"), env=same_schema.env, capture_output=True)
        target.data.mkdir()
        subprocess.run(["cp", "-a", "--reflink=auto", str(same_schema.data / "pg"),
                        str(target.data / "pg")], check=True)
        how = f"copied from {same_schema.name}'s"
    else:
        check(target, "db", "seed", "--sessions", str(sessions), timeout=3600)
        how = "seeded"
    stop_server(target)  # the cached copy is left with its server stopped
    ready.write_text(f"{sessions}\n")
    print(f"# {side.name}: {how} {sessions} sessions in {time.perf_counter() - t0:.1f} s "
          f"({entry})", file=sys.stderr)
    return target


def stop_server(side: Side) -> None:
    subprocess.run(side.cmd("db", "stop"), env=side.env, capture_output=True)


def print_row(label: str, res: list[list[Run]], scale: float = 1.0) -> None:
    bad = {r.code for rs in res for r in rs if r.code}
    row = f"{label:<30}"
    for rs in res:
        row += (f"{statistics.median(r.wall for r in rs) / scale:>10.4f}"
                f"{statistics.median(r.cpu for r in rs) / scale:>10.4f}")
    row += f"{statistics.median(r.rss_mb for r in res[0]):>7.0f}"
    if len(res) > 1:
        row += (f"{_ratio([r.wall for r in res[0]], [r.wall for r in res[1]]):>10.2f}"
                f"{_ratio([r.cpu for r in res[0]], [r.cpu for r in res[1]]):>9.2f}")
    row += f"  {TARGETS.get(label.split(' @')[0], '')}"
    if bad:
        row += f"  (exit codes {sorted(bad)})"
    print(row, flush=True)


def _sessions(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of session counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give one or more positive session counts")
    return counts


def _short(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="checkout to measure (A)")
    p.add_argument("--baseline-src", type=Path, help="another checkout's src (B)")
    p.add_argument("--sessions", type=_sessions, default=[2000],
                   help="sessions to seed, e.g. 2000,20000,100000 (default 2000)")
    p.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "cli-data",
                   help="where seeded data dirs are kept between runs")
    p.add_argument("--fresh", action="store_true", help="seed again even if cached")
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
    running: list[Side] = []
    try:
        sides = [make_side("A", args.src.resolve(), tmp)]
        if args.baseline_src:
            sides.append(make_side("B", args.baseline_src.resolve(), tmp))
        audio = tmp / "thirty.flac"
        subprocess.run([sys.executable, __file__, "--make-audio", str(audio)], check=True)
        names = [s.name for s in sides]
        seeded_counts = "" if args.skip_db else (
            "; seeded sessions " + ", ".join(_short(n) for n in args.sessions))
        print(f"fretcoach whole-process times, median of {args.runs} runs after a warm-up"
              f"{seeded_counts}")
        for s in sides:
            print(f"  {s.name} = {s.src}")
        head = f"{'command':<30}" + "".join(f"{n + ' wall s':>10}{n + ' cpu s':>10}"
                                            for n in names)
        head += f"{'MiB A':>7}" + (f"{'wall A/B':>10}{'cpu A/B':>9}" if len(sides) > 1 else "")
        print(head + "  target")
        print("-" * (len(head) + 24), flush=True)
        for label, cmd in (("--help", ["--help"]), ("--version", ["--version"])):
            print_row(label, bench(sides, cmd, args.runs))
        if not args.skip_db:
            cold = all(has_db_stop(s) for s in sides)
            db_cases = [("db status", ["db", "status"]), ("history", ["history"]),
                        ("stats --json", ["stats", "--since", "2024-01-01", "--json"])]
            for n in args.sessions:
                at: list[Side] = []
                for side in sides:
                    same = next((o for o in at if schema_key(o.src) == schema_key(side.src)),
                                None)
                    at.append(seeded(side, n, args.cache, args.fresh, same))
                running = at
                for label, cmd in db_cases:
                    print_row(f"{label} @{_short(n)}", bench(at, cmd, args.runs))
                    if cold:
                        print_row(f"{label} (cold) @{_short(n)}",
                                  bench(at, cmd, args.runs, ["db", "stop"]))
                for side in at:
                    stop_server(side)
                running = []
        print_row("analyze 30 s", bench(sides, ["analyze", str(audio), "--scale",
                                                "A minor pentatonic", "--json"], args.runs),
                  scale=AUDIO_S)
        print("analyze: wall and cpu per audio second of the 30 s file (whole process); "
              "cpu is the process's own user + sys")
    finally:
        for s in running:
            stop_server(s)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
