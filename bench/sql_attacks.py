"""The chat agent's SQL tool under attack: the hostile-query corpus, counted (issue 16).

Starts a throw-away embedded PostgreSQL (never the user's database), seeds an attacker and a
victim, then sends every query of the corpus in tests/test_sql_guard_attacks.py through the
agent's ``run_sql`` runner as the attacker, and once more *raw* (no parser) to the reader
connection, and prints what happened: refused / timed out / other database errors / harmless
own-row reads, and what must stay zero (writes, rows of another user, server not answering).
Prints; no pass/fail (the same corpus is asserted by the tests).

``--heavy`` also times a few value bombs (1 GB strings built by tiny queries) against the
production timeout: PostgreSQL checks for cancellation between rows, not inside one huge
string operation or while spilling it to a temporary file, so these overrun the timeout.

    .venv/bin/python bench/sql_attacks.py [--heavy]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: value bombs: each builds a string of up to 1 GB on the server from a query of a few lines
HEAVY = {
    "format width": "SELECT length(format('%900000000s', 'x'))",
    "format width, shipped": "SELECT format('%900000000s', 'x')",
    "recursive doubling": "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, "
                          "s || s FROM r WHERE n < 31) SELECT max(length(s)) FROM r",
    "replace x10 nine times": "SELECT length(" + "replace(" * 9 + "'x'" +
                              ", 'x', 'xxxxxxxxxx')" * 9 + ")",
    "CTE chain doubling": "WITH a0 AS (SELECT format('%1000000s', 'x') AS s), " + ", ".join(
        f"a{i} AS (SELECT s || s AS s FROM a{i - 1})" for i in range(1, 10)) +
        " SELECT length(s) FROM a9",
}


def heavy(db: object, people: dict[str, object], corpus: object) -> None:
    """Wall time of each value bomb under the production limits (3 s, 200 rows)."""
    from fretcoach_cli.chat.sql_run import SqlRunner

    runner = SqlRunner(lambda: db.connect(people["attacker"], role="reader",  # type: ignore[attr-defined]
                                          autocommit=True))
    print(f"value bombs (timeout {runner.timeout_s:g} s):")
    for name, sql in HEAVY.items():
        t0 = time.monotonic()
        result = runner.run(sql)
        what = result.error or f"ok, {result.rows}"
        print(f"  {name}: {time.monotonic() - t0:.1f} s: {what[:110]}")
    runner.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-raw", action="store_true", help="skip the run without the parser")
    ap.add_argument("--heavy", action="store_true",
                    help="also time value bombs of up to 1 GB (GBs of RAM and temp files)")
    args = ap.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="fretcoach-sql-attacks-", dir="/tmp"))
    os.environ["FRETCOACH_DATA_DIR"] = str(run_dir / "data")
    os.environ["FRETCOACH_CONFIG"] = str(run_dir / "config.toml")
    for name in ("DATABASE_URL", "FRETCOACH_DATABASE_URL", "FRETCOACH_USER"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT / "tests"))
    import test_sql_guard_attacks as corpus
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.server import release_server

    settings = config.load()
    db = open_database(settings)
    try:
        people = corpus.make_people(db)
        runner = corpus.make_runner(db, people)
        t0 = time.monotonic()
        tally = corpus.run_corpus(db, people, runner)
        runner.close()
        print(f"through run_sql ({time.monotonic() - t0:.1f} s): {corpus.describe(tally)}")
        for name, expected, got, error in tally["mismatched"]:
            print(f"  {name}: expected {expected}, got {got} ({error})")
        if not args.no_raw:
            t0 = time.monotonic()
            counts = {"db refused": 0, "ran": 0}
            leaks = 0
            keep = db.connect(people["attacker"], role="reader", autocommit=True)
            before = corpus.snapshot(db)
            for _name, sql in corpus.RAW_ATTACKS:
                sql = corpus._fill(sql, people)
                kind, seen, after_rows, _error = corpus.run_raw(db, people, sql)
                counts[kind] += 1
                found = [m for m in corpus._leaks_in(seen, people) if m not in sql]
                leaks += bool(found or corpus._leaks_in(after_rows, people))
            after = corpus.snapshot(db)
            keep.close()
            changes = sum(1 for t in before["tables"] if before["tables"][t] != after["tables"][t])
            changes += sum(1 for k in before if k != "tables" and before[k] != after[k])
            print(f"raw, without the parser ({time.monotonic() - t0:.1f} s): "
                  f"{len(corpus.RAW_ATTACKS)} queries the parser refuses, {counts['db refused']} "
                  f"refused by the database, {counts['ran']} ran harmlessly; {changes} writes, "
                  f"{leaks} with another user's rows")
        if args.heavy:
            heavy(db, people, corpus)
        with db.admin() as conn:
            answers = conn.execute("SELECT 1").fetchone() == (1,)
        print(f"server still answers: {'yes' if answers else 'NO'}")
    finally:
        db.close()
        release_server(settings.data_path)
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
