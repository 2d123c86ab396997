"""Benchmark: the reports over 100,000 sessions and ~10,000,000 notes (issue 17).

    python bench/bench_reports.py [--sessions 100000] [--notes 100]

Seeds (once; reused while the row counts match) a synthetic history for the user "bench" in
an embedded server under --data-dir (or FRETCOACH_DATABASE_URL), printing the seeding time,
then prints the median time of each report's queries inside one process (warm connection, N
repeats: independent of how fast the server starts), the whole-process wall time and peak
memory of the CLI commands (a fresh `fretcoach` each time: start-up, attach, migrate check,
query, render; the server stays up while this script holds a connection), and the EXPLAIN
(ANALYZE, BUFFERS) plans of every statement `stats` and `history` run. Targets (issue 17,
100k sessions, warm server): `stats --since 2024-01-01 --json` and `history` ≤ 0.3 s whole
process, `stats` ≤ 150 MB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

USER = "bench"
FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


class Recorder:
    """A connection wrapper that remembers every statement it runs (for EXPLAIN)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: Any, params: Any = None, **kw: Any) -> Any:
        self.statements.append((str(sql), params))
        return self._conn.execute(sql, params, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def median_time(fn: Any, repeat: int) -> tuple[float, float]:
    fn()  # warm-up (plans, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def ensure_seeded(db: Any, sessions: int, notes: int, tz: str) -> None:
    from fretcoach_cli.reports.seed import seed

    have = db.row_counts(USER)
    if have["sessions"] == sessions and (have["session_notes"] or 0) > 0:
        print(f"reusing seeded data: {have['sessions']} sessions, "
              f"{have['session_notes']} notes")
        return
    with db.connect(USER) as conn:
        if have["sessions"]:
            conn.execute("DELETE FROM fretcoach.sessions")
            conn.execute("DELETE FROM fretcoach.ai_practice_plans")
            conn.execute("DELETE FROM fretcoach.deleted_rows")
            conn.commit()
        print(f"seeding {sessions} sessions × ~{notes} notes (minutes) …", flush=True)

        def progress(done: int, total: int) -> None:
            print(f"\r  {done}/{total} sessions", end="", file=sys.stderr, flush=True)

        result = seed(conn, user=USER, sessions=sessions, notes_per_session=notes, timezone=tz,
                      progress=progress)
        print(file=sys.stderr)
        print(f"seeded {result.sessions} sessions, {result.notes} notes, {result.plans} plans "
              f"in {result.seconds:.1f} s", flush=True)
    t0 = time.perf_counter()
    with db.admin() as admin:
        admin.execute("VACUUM (ANALYZE) fretcoach.sessions")
        admin.execute("VACUUM (ANALYZE) fretcoach.session_notes")
        admin.execute("VACUUM (ANALYZE) fretcoach.ai_practice_plans")
        admin.execute("VACUUM (ANALYZE) fretcoach.coach_replies")
    print(f"vacuum analyze: {time.perf_counter() - t0:.1f} s")


def explain(conn: Any, statements: list[tuple[str, Any]], title: str) -> None:
    print(f"\n=== EXPLAIN (ANALYZE, BUFFERS): {title} ===")
    for sql, params in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()
        conn.rollback()
        first = " ".join(sql.split())[:110]
        print(f"\n-- {first} …")
        for (line,) in rows:
            print("   " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--notes", type=int, default=100, help="mean notes per session")
    ap.add_argument("--data-dir", default="/tmp/fretcoach-bench-reports")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--timezone", default="Europe/Paris")
    ap.add_argument("--no-explain", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("FRETCOACH_DATA_DIR", args.data_dir)
    os.environ["FRETCOACH_TIMEZONE"] = args.timezone
    os.environ["FRETCOACH_USER"] = USER
    from fretcoach_cli import config
    from fretcoach_cli.reports.filters import build_filter
    from fretcoach_cli.reports.history import count_sessions, list_sessions, session_detail
    from fretcoach_cli.reports.stats import buckets, daily_seconds, practice_stats
    from fretcoach_cli.store import Plans, Sessions, open_database

    db = open_database(config.load())
    print(f"database: {db.display_location} (PostgreSQL {db.server_version})")
    ensure_seeded(db, args.sessions, args.notes, args.timezone)
    tz = args.timezone
    cases = {
        "stats --since 2024-01-01 --json": lambda c: json.dumps(practice_stats(
            c, build_filter(since="2024-01-01", timezone=tz)).to_dict()),
        "stats (all time)": lambda c: practice_stats(c, build_filter(timezone=tz)),
        "stats --by week": lambda c: practice_stats(c, build_filter(timezone=tz), by="week"),
        "stats --since 3m --by day": lambda c: practice_stats(
            c, build_filter(since="3m", timezone=tz), by="day"),
        "stats --scale 'A minor pentatonic' --by month": lambda c: practice_stats(
            c, build_filter(scale="A minor pentatonic", timezone=tz), by="month"),
        "stats --since <instant> --by day (from the sessions)": lambda c: practice_stats(
            c, build_filter(since="2025-06-01T18:30", timezone=tz), by="day"),
        "stats charts: weekly buckets + heat map": lambda c: (
            buckets(c, build_filter(timezone=tz), "week"),
            daily_seconds(c, build_filter(timezone=tz), date.today() - timedelta(weeks=20),
                          date.today())),
        "history (20 newest + total)": lambda c: (
            list_sessions(c, build_filter(timezone=tz), limit=20),
            count_sessions(c, build_filter(timezone=tz))),
        "history --scale 'G major' --since 30d": lambda c: (
            list_sessions(c, build_filter(scale="G major", since="30d", timezone=tz), limit=20),
            count_sessions(c, build_filter(scale="G major", since="30d", timezone=tz))),
        "history --json --limit 1000": lambda c: list_sessions(
            c, build_filter(timezone=tz), limit=1000),
    }
    results = {}
    with db.connect(USER) as conn:
        newest = list_sessions(conn, build_filter(timezone=tz), limit=1)[0]["session_id"]
        conn.commit()
        # the per-day groups: built once per user and time zone, then kept by triggers
        t0 = time.perf_counter()
        conn.execute("SELECT set_config('work_mem', '64MB', true)")
        # (its zone registered first, in the same rolled-back transaction: report_days rows
        # reference report_zones)
        conn.execute("INSERT INTO fretcoach.report_zones (user_id, tz) VALUES (%s, %s) "
                     "ON CONFLICT DO NOTHING", (USER, tz))
        conn.execute("SELECT fretcoach.report_days_refresh(%s, %s, NULL)", (USER, tz))
        conn.rollback()
        print(f"building report_days from scratch (done once per user and zone): "
              f"{1000 * (time.perf_counter() - t0):.0f} ms")
        cases["stats without report_days (one scan of the sessions)"] = (
            lambda c: practice_stats(c, build_filter(timezone=tz), use_rollup=False))
        t0 = time.perf_counter()
        conn.execute("UPDATE fretcoach.sessions SET overall_score = overall_score "
                     "WHERE session_id = %s", (newest,))
        conn.execute("UPDATE fretcoach.sessions SET updated_at = now() WHERE session_id = %s",
                     (newest,))
        conn.rollback()
        print(f"a session update incl. the report_days trigger: "
              f"{1000 * (time.perf_counter() - t0) / 2:.1f} ms")
        cases["sessions show (newest)"] = lambda c: session_detail(c, newest, timezone=tz)
        cases["sessions show <8-char prefix>"] = lambda c: session_detail(
            c, str(newest)[:8], timezone=tz)
        cases["recommend inputs (20 completed + 10 plans)"] = lambda c: (
            Sessions(c).list(status="completed", limit=20), Plans(c).list(limit=10))
        for name, fn in cases.items():
            results[name] = median_time(lambda fn=fn: (fn(conn), conn.commit()), args.repeat)
    print(f"\nmedian of {args.repeat} runs (warm connection), max in brackets:")
    for name, (med, worst) in results.items():
        flag = "ok" if med <= 0.1 else "SLOW"
        print(f"  {name:48s} {1000 * med:8.1f} ms  [{1000 * worst:7.1f}]  {flag}")

    print("\nwhole process (a new `fretcoach` each time; median wall, peak RSS):")
    with db.connect(USER) as keep:  # holds the embedded server up between the commands
        for cmd in (["stats", "--since", "2024-01-01", "--json"], ["stats", "--json"],
                    ["stats", "--by", "week", "--json"], ["stats", "--charts"],
                    ["history"], ["history", "--json"], ["sessions", "show", str(newest)[:8]]):
            times, peak = [], 0
            for _ in range(max(3, args.repeat // 2)):
                t0 = time.perf_counter()
                proc = subprocess.Popen([FRETCOACH, *cmd], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, env=dict(os.environ))
                _pid, status, usage = os.wait4(proc.pid, 0)
                times.append(time.perf_counter() - t0)
                peak = max(peak, usage.ru_maxrss // 1024)
                if os.waitstatus_to_exitcode(status) != 0:
                    print(f"  {' '.join(cmd)} failed: {proc.stderr.read().decode().strip()}"
                          if proc.stderr else f"  {' '.join(cmd)} failed")
                    break
            print(f"  fretcoach {' '.join(cmd):40s} {1000 * statistics.median(times):8.1f} ms"
                  f"  {peak:4d} MiB")
        keep.rollback()

    if not args.no_explain:
        with db.connect(USER) as conn:
            rec = Recorder(conn)
            practice_stats(rec, build_filter(timezone=tz), by="week")  # type: ignore[arg-type]
            conn.commit()
            explain(conn, rec.statements, "stats --by week")
            rec = Recorder(conn)
            list_sessions(rec, build_filter(timezone=tz), limit=20)  # type: ignore[arg-type]
            count_sessions(rec, build_filter(timezone=tz))  # type: ignore[arg-type]
            list_sessions(rec, build_filter(scale="G major", since="30d", timezone=tz),  # type: ignore[arg-type]
                          limit=20)
            conn.commit()
            explain(conn, rec.statements, "history")


if __name__ == "__main__":
    main()
