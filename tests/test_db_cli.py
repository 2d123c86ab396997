"""`fretcoach db ...` through CliRunner (shared test server) and subprocesses (own servers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import ExitCode
from fretcoach_cli.store import Sessions
from fretcoach_cli.store.server import postmaster_pid

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
UNREACHABLE = "postgresql://x@127.0.0.1:1/x"

_register_commands()
runner = CliRunner()


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def test_status_reports_location_level_rows_and_security(database: Any, user_id: str) -> None:
    with database.connect(user_id) as conn:
        Sessions(conn).create(scale_chosen="E blues", hold_writer_lock=False)
    out = _invoke("--user", user_id, "db", "status", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["kind"] == "embedded" and data["location"] == str(database.data_dir)
    assert data["migration_level"] == data["migrations_available"] >= 1
    assert data["rows"]["sessions"]["user"] == 1
    assert data["rows"]["sessions"]["all"] >= 1
    assert data["security"] == {"ok": True, "mode": "role", "app_role": True,
                                "reader_role": True, "problems": []}
    text = _invoke("--user", user_id, "db", "status")
    assert text.exit_code == 0
    for needle in ("embedded PostgreSQL", "PostgreSQL 18", "migration", "OK", "sessions"):
        assert needle in text.stdout, text.stdout


def test_url_and_migrate(database: Any) -> None:
    out = _invoke("db", "url")
    assert out.exit_code == 0 and out.stdout.strip() == database.url
    out = _invoke("db", "migrate")
    assert out.exit_code == 0 and "up to date" in out.stdout


def test_db_group_is_in_the_data_panel() -> None:
    out = _invoke("--help")
    assert out.exit_code == 0
    panel = out.stdout.split("Data", 1)
    assert len(panel) == 2 and " db " in panel[1], out.stdout


@pytest.mark.parametrize("args", [("db", "status"), ("db", "migrate"), ("db", "url")])
def test_unreachable_external_server_is_one_line_exit_4(args: tuple[str, ...]) -> None:
    env = {**os.environ, "FRETCOACH_DATABASE_URL": UNREACHABLE}
    out = subprocess.run([FRETCOACH, *args], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == ExitCode.DATABASE, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("fretcoach: error: cannot connect to PostgreSQL at "
                                 "postgresql://x@127.0.0.1:1/x")
    assert out.stdout == ""


def test_password_is_masked_in_errors() -> None:
    env = {**os.environ, "FRETCOACH_DATABASE_URL": "postgresql://bob:hunter2@127.0.0.1:1/x"}
    out = subprocess.run([FRETCOACH, "db", "status"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == ExitCode.DATABASE
    assert "hunter2" not in out.stderr and "bob:***@127.0.0.1" in out.stderr


def test_reset_refuses_external_without_flag(database: Any) -> None:
    env = {"FRETCOACH_DATABASE_URL": database.url}
    out = runner.invoke(app, ["db", "reset", "--yes"], env=env)
    assert out.exit_code != 0
    assert "refusing to reset the external database" in str(out.exception)
    # nothing was dropped
    assert _invoke("db", "migrate").stdout.strip().startswith("schema is up to date")


def test_reset_embedded_asks_then_recreates() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fc-reset-", dir="/tmp")) / "data"
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(data_dir), "FRETCOACH_USER": "rita"}
    code = ("from fretcoach_cli import config; from fretcoach_cli.store import "
            "open_database, Sessions\n"
            "db = open_database(config.load())\n"
            "with db.connect('rita') as c: Sessions(c).create(hold_writer_lock=False)\n")
    try:
        assert subprocess.run([sys.executable, "-c", code], env=env, timeout=120).returncode == 0

        def status() -> dict[str, Any]:
            out = subprocess.run([FRETCOACH, "db", "status", "--json"], capture_output=True,
                                 text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)

        assert status()["rows"]["sessions"]["user"] == 1
        declined = subprocess.run([FRETCOACH, "db", "reset"], input="n\n", capture_output=True,
                                  text=True, env=env, timeout=120)
        assert declined.returncode == 1 and status()["rows"]["sessions"]["user"] == 1
        done = subprocess.run([FRETCOACH, "db", "reset", "--yes"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "schema recreated" in done.stdout
        after = status()
        assert after["rows"]["sessions"]["user"] == 0 and after["security"]["ok"]
        assert after["pending"] == []
    finally:
        pid = postmaster_pid((data_dir / "pg").resolve())
        if pid is not None:
            os.kill(pid, 9)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_external_server_is_untouched_by_the_warm_server(database: Any) -> None:
    """`db stop` refuses an external URL (exit 2); `db status` shows no embedded server."""
    data_dir = Path(tempfile.mkdtemp(prefix="fc-ext-", dir="/tmp")) / "data"
    env = {**os.environ, "FRETCOACH_DATABASE_URL": database.url,
           "FRETCOACH_DATA_DIR": str(data_dir)}
    try:
        out = subprocess.run([FRETCOACH, "db", "stop"], capture_output=True, text=True,
                             env=env, timeout=60)
        assert out.returncode == ExitCode.USAGE, out.stderr
        assert "external server" in out.stderr and out.stderr.count("\n") == 1
        status = subprocess.run([FRETCOACH, "db", "status", "--json"], capture_output=True,
                                text=True, env=env, timeout=60)
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert data["kind"] == "external" and data["server"] is None
        assert not data_dir.exists(), "an external URL must not create embedded state"
        assert postmaster_pid(database.data_dir) is not None  # the shared server runs on
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_status_shows_the_shared_server_in_use(database: Any) -> None:
    out = _invoke("db", "status", "--json")
    assert out.exit_code == 0, out.output
    server = json.loads(out.stdout)["server"]
    assert server["state"] == "running" and server["pid"] == postmaster_pid(database.data_dir)
    assert server["data_dir"] == str(database.data_dir)
    assert server["stops_in_s"] is None  # this test process uses it
