"""Embedded PostgreSQL start-up as a `fretcoach` process sees it: cold, warm and attach.

    python bench/bench_store_startup.py [--runs 3]

* cold   — empty data dir: initdb + start + migrations (first run on a machine)
* warm   — initialised data dir, server stopped: start only
* attach — the server is already running (held by another fretcoach process)

For each, the time inside the process to get a ready server (`server`), to open the database
(schema check / migrations + security inspection, `open`), and the wall time of a whole
`fretcoach db url` process (interpreter + imports + exit, which stops the server if last).
Data dirs live under /tmp and are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
print(json.dumps({**db.timings, "total": t1 - t0, "connect_user": t2 - t1}))
"""

HOLDER = """
from fretcoach_cli import config
from fretcoach_cli.store import open_database
import time
open_database(config.load()); print("ready", flush=True); time.sleep(600)
"""

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")
    }
    env["FRETCOACH_DATA_DIR"] = str(data_dir)
    env["FRETCOACH_CONFIG"] = str(data_dir.parent / "none.toml")
    return env


def _probe(data_dir: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=_env(data_dir),
        check=True,
    )
    wall = time.perf_counter() - t0
    return {**json.loads(out.stdout), "process_wall": wall}


def _cli_wall(data_dir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([FRETCOACH, "db", "url"], capture_output=True, env=_env(data_dir), check=True)
    return time.perf_counter() - t0


def _case(kind: str, root: Path, name: str) -> dict[str, float]:
    """Prepare a data dir for ``kind``, then time a probe process and a `db url` process."""
    data = root / name
    holder = None
    if kind in ("warm", "attach"):
        _probe(data)  # initialise (and stop again)
    if kind == "attach":
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, env=_env(data)
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    try:
        result = _probe(data)
        if kind == "cold":
            data = root / f"{name}-cli"  # a second empty dir for the CLI process
        result["cli_wall"] = _cli_wall(data)
    finally:
        if holder is not None:
            holder.terminate()
            holder.wait(timeout=30)
    result["server"] = result.get("start", result.get("attach", float("nan")))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "attach": []}
    for i in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="fc-bench-", dir="/tmp"))
        try:
            for kind, runs in results.items():
                runs.append(_case(kind, root, f"{kind}{i}"))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    print(f"embedded PostgreSQL start-up, median of {args.runs} runs (seconds)")
    print(
        "server: ready server in-process; open: migrations check + security inspection "
        "(incl. psycopg import);"
    )
    print(
        "connect: one user-scoped connection; process: whole probe process; "
        "db url: whole `fretcoach db url`"
    )
    cols = ("server", "open", "connect_user", "total", "process_wall", "cli_wall")
    print(f"{'case':8}" + "".join(f"{c:>14}" for c in cols))
    for case, runs in results.items():
        meds = [statistics.median(r[c] for r in runs) for c in cols]
        print(f"{case:8}" + "".join(f"{m:14.3f}" for m in meds))


if __name__ == "__main__":
    main()
