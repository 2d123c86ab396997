"""Embedded PostgreSQL start-up as a `fretcoach` process sees it: init, cold, recover, attach.

    python bench/bench_store_startup.py [--runs 3]

* init    — empty data dir: initdb + start + migrations (first run on a machine)
* cold    — initialised data dir, server stopped by `fretcoach db stop` (a clean, fast
  shutdown): start only; the open stamp is carried over, so no schema checks
* recover — the server was killed (SIGKILL): start with crash recovery, full checks
* attach  — the server is already running (warm, held by another fretcoach process)

For each, the time inside the process to get a ready server (`server`: for a start this
includes importing psycopg, which happens while the server starts), to open the database
(schema check / migrations + security inspection, or the stamp, `open`), one user-scoped
connection and query (`connect`), the server's own start-up from its log (`pg ready`:
"starting PostgreSQL" to "ready to accept connections"), and the wall time of the whole
probe process and of a whole `fretcoach db url` process prepared the same way.
Data dirs live under /tmp and are removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

PROBE = """
import json, time
t0 = time.perf_counter()
from fretcoach_cli import config
from fretcoach_cli.store import open_database
db = open_database(config.load())
t1 = time.perf_counter()
with db.connect("bench") as conn:
    conn.execute("SELECT count(*) FROM fretcoach.sessions").fetchone()
t2 = time.perf_counter()
print(json.dumps({**db.timings, "total": t1 - t0, "connect": t2 - t1}))
"""

HOLDER = """
from fretcoach_cli import config
from fretcoach_cli.store import open_database
import time
open_database(config.load()); print("ready", flush=True); time.sleep(600)
"""

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
CASES = ("init", "cold", "recover", "attach")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")
    }
    env["FRETCOACH_DATA_DIR"] = str(data_dir)
    env["FRETCOACH_CONFIG"] = str(data_dir.parent / "none.toml")
    env["FRETCOACH_DB_IDLE_MINUTES"] = "10"
    return env


def _probe(data_dir: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=_env(data_dir), check=True)
    wall = time.perf_counter() - t0
    return {**json.loads(out.stdout), "process_wall": wall}


def _cli_wall(data_dir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([FRETCOACH, "db", "url"], capture_output=True, env=_env(data_dir), check=True)
    return time.perf_counter() - t0


def _stop(data_dir: Path) -> None:
    subprocess.run([FRETCOACH, "db", "stop", "--force"], capture_output=True,
                   env=_env(data_dir), check=True)


def _kill(data_dir: Path) -> None:
    """SIGKILL the postmaster (and so, for the next start, crash recovery)."""
    from fretcoach_cli.store.server import postmaster_pid

    pid = postmaster_pid(data_dir / "pg")
    if pid is None:
        return
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while postmaster_pid(data_dir / "pg") is not None and time.monotonic() < deadline:
        time.sleep(0.02)


def _pg_ready_s(data_dir: Path, offset: int) -> float:
    """Seconds from the server's last "starting PostgreSQL" line after ``offset`` to its
    "ready to accept connections" line, or NaN."""
    try:
        with (data_dir / "pg" / "log").open("rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return math.nan
    start = ready = None
    for line in lines:
        found = _LOG_TIME.match(line)
        if not found:
            continue
        stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S.%f")
        if "starting PostgreSQL" in line:
            start, ready = stamp, None
        elif "ready to accept connections" in line and start is not None:
            ready = stamp
    return (ready - start).total_seconds() if start and ready else math.nan


def _log_size(data_dir: Path) -> int:
    try:
        return (data_dir / "pg" / "log").stat().st_size
    except OSError:
        return 0


@contextlib.contextmanager
def _prepared(kind: str, data: Path) -> Iterator[None]:
    """Leave ``data`` as ``kind`` wants it for the next process (see the docstring)."""
    holder = None
    if kind == "init":
        if data.exists():
            _stop(data)
        shutil.rmtree(data, ignore_errors=True)
    else:
        _probe(data)  # initialised, opened (the open stamp written), server running
        if kind == "cold":
            _stop(data)
        elif kind == "recover":
            _kill(data)
        else:
            holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE,
                                      text=True, env=_env(data))
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    try:
        yield
    finally:
        if holder is not None:
            holder.terminate()
            holder.wait(timeout=30)


def _case(kind: str, data: Path) -> dict[str, float]:
    with _prepared(kind, data):
        at = _log_size(data)
        result = _probe(data)
        result["pg_ready"] = math.nan if kind == "attach" else _pg_ready_s(data, at)
    with _prepared(kind, data):
        result["cli_wall"] = _cli_wall(data)
    result["server"] = result.get("start", result.get("attach", math.nan))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in CASES}
    root = Path(tempfile.mkdtemp(prefix="fc-bench-", dir="/tmp"))
    try:
        for i in range(args.runs):
            for kind, runs in results.items():
                runs.append(_case(kind, root / f"{kind}{i}"))
    finally:
        for data in root.iterdir():
            with contextlib.suppress(subprocess.CalledProcessError):
                _stop(data)
        shutil.rmtree(root, ignore_errors=True)

    print(f"embedded PostgreSQL start-up, median of {args.runs} runs (seconds)")
    print("server: ready server in-process (a start includes the psycopg import it overlaps); "
          "open: checks or stamp;")
    print("connect: one user-scoped connection + query; pg ready: the server's log, start to "
          "ready; process: whole probe; db url: whole `fretcoach db url`")
    cols = ("server", "open", "connect", "total", "pg_ready", "process_wall", "cli_wall")
    print(f"{'case':8}" + "".join(f"{c:>13}" for c in cols))
    for case, runs in results.items():
        meds = [statistics.median(r.get(c, math.nan) for r in runs) for c in cols]
        print(f"{case:8}" + "".join(f"{m:13.3f}" for m in meds))


if __name__ == "__main__":
    main()
