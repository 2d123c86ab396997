"""The embedded server's life cycle across real `fretcoach` processes, with no idle grace.

Each test gets its own data dir under /tmp (not the shared test server), because these tests
start, kill and stop servers. The run's environment sets ``FRETCOACH_DB_IDLE_MINUTES=0``
(conftest), so the last process to leave stops the server at once, as before the warm server;
the grace period itself is tested in test_store_warm.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fretcoach_cli.store.server import postmaster_pid, server_state

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))

# A fretcoach process that opens the database, says so, and then holds it until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database
    db = open_database(config.load())
    print("ready", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fc-server-", dir="/tmp")) / "data"
    yield path
    pgdata = path / "pg"
    pid = postmaster_pid(pgdata)
    if pid is not None:  # never leave a server behind, even when the test failed
        _kill_tree(pid)
    shutil.rmtree(path.parent, ignore_errors=True)


def _users(data_dir: Path) -> list[int]:
    """PIDs of the live processes registered as using the server (dead ones are dropped)."""
    return sorted(server_state(data_dir, 0).users)


def _user_files(data_dir: Path) -> list[str]:
    clients = data_dir / "pg-run" / "clients"
    return sorted(p.name for p in clients.iterdir()) if clients.exists() else []


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).kill()


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")}
    env["FRETCOACH_DATA_DIR"] = str(data_dir)
    env["FRETCOACH_CONFIG"] = str(data_dir.parent / "nope.toml")
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def _fretcoach(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FRETCOACH, *args], capture_output=True, text=True,
                          env=_env(data_dir), timeout=120)


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(data_dir))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"holder failed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        cmd = proc.info["cmdline"] or []
        if (proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmd)
                and proc.info["status"] != psutil.STATUS_ZOMBIE):
            found.append(proc)
    return found


def _wait_gone(pgdata: Path, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _postgres_processes(pgdata) and postmaster_pid(pgdata) is None:
            return True
        time.sleep(0.1)
    return False


def test_status_with_no_configuration_starts_and_stops_embedded(data_dir: Path) -> None:
    assert not data_dir.exists()
    out = _fretcoach(data_dir, "db", "status", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no warnings leak (e.g. XDG_RUNTIME_DIR, library logging)
    data = json.loads(out.stdout)
    pgdata = (data_dir / "pg").resolve()
    assert data["kind"] == "embedded" and data["location"] == str(pgdata)
    assert data["server_version"].startswith("18")
    assert data["migration_level"] >= 1 and data["pending"] == []
    assert data["security"]["ok"], data["security"]
    assert "start" in data["timings_s"]  # this process started it
    assert (pgdata / "PG_VERSION").exists()
    assert _wait_gone(pgdata), "the last fretcoach process must stop the server"
    assert _user_files(data_dir) == []


def test_second_process_attaches_and_sigterm_still_cleans_up(data_dir: Path) -> None:
    holder = _holder(data_dir)
    pgdata = (data_dir / "pg").resolve()
    try:
        server_pid = postmaster_pid(pgdata)
        assert server_pid is not None and _users(data_dir) == [holder.pid]
        out = _fretcoach(data_dir, "db", "status", "--json")
        assert out.returncode == 0, out.stderr
        assert "attach" in json.loads(out.stdout)["timings_s"]
        # the second process left; the holder keeps the same server running
        assert postmaster_pid(pgdata) == server_pid
        assert _users(data_dir) == [holder.pid]
        holder.send_signal(signal.SIGTERM)  # a normal exit: the holder stops the server
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert _wait_gone(pgdata)
    assert _user_files(data_dir) == []


def test_kill_9_does_not_orphan_the_server(data_dir: Path) -> None:
    holder = _holder(data_dir)
    pgdata = (data_dir / "pg").resolve()
    server_pid = postmaster_pid(pgdata)
    assert server_pid is not None
    assert _user_files(data_dir) == [str(holder.pid)]
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    # the killed process could not leave; no other fretcoach process runs: the watchdog
    # notices the dead user and stops the server
    assert _wait_gone(pgdata), "server orphaned after kill -9"
    assert _user_files(data_dir) == []
    # and the next run starts it again cleanly
    out = _fretcoach(data_dir, "db", "status", "--json")
    assert out.returncode == 0, out.stderr
    assert "start" in json.loads(out.stdout)["timings_s"]
    assert _wait_gone(pgdata)


def test_two_processes_cold_start_at_once(data_dir: Path) -> None:
    """mkdir race, initdb and migrations from two processes started together."""
    procs = [subprocess.Popen([FRETCOACH, "db", "status", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(data_dir))
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert json.loads(stdout)["migration_level"] >= 1
    assert _wait_gone((data_dir / "pg").resolve())


def test_last_survivor_stops_the_server_after_a_peer_was_killed(data_dir: Path) -> None:
    first, second = _holder(data_dir), _holder(data_dir)
    pgdata = (data_dir / "pg").resolve()
    try:
        assert _users(data_dir) == sorted([first.pid, second.pid])
        first.kill()
        first.wait(timeout=10)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert _wait_gone(pgdata), "the surviving process must drop the dead peer and stop"
    assert _user_files(data_dir) == []


def test_a_server_that_cannot_start_is_one_line_with_its_log_error(data_dir: Path) -> None:
    assert _fretcoach(data_dir, "db", "status", "--json").returncode == 0  # initdb'd, stopped
    pgdata = (data_dir / "pg").resolve()
    assert _wait_gone(pgdata)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("shared_buffers = lots\n")
    out = _fretcoach(data_dir, "history")
    assert out.returncode == 4, (out.returncode, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "cannot start the embedded PostgreSQL server" in out.stderr
    assert 'FATAL: configuration file' in out.stderr and "contains errors" in out.stderr
    assert _wait_gone(pgdata) and _user_files(data_dir) == []
