"""The warm embedded server: idle grace, `db stop`, `db status`'s timer, stale state, reaping.

Real servers in their own data dirs under /tmp, driven through real `fretcoach` processes.
Every wait polls for the event with a deadline; the grace periods are fractions of a minute.
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
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from fretcoach_cli.store.server import postmaster_pid

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))

HOLDER = textwrap.dedent(
    """
    import time
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database
    db = open_database(config.load())
    print("ready", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fc-warm-", dir="/tmp")) / "data"
    yield path
    pid = postmaster_pid(path / "pg")
    if pid is not None:  # never leave a server behind, even when the test failed
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
    _wait(lambda: postmaster_pid(path / "pg") is None, 15)
    shutil.rmtree(path.parent, ignore_errors=True)  # its watchdog then exits by itself


def _env(data_dir: Path, idle_minutes: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")}
    env["FRETCOACH_DATA_DIR"] = str(data_dir)
    env["FRETCOACH_CONFIG"] = str(data_dir.parent / "nope.toml")
    env["FRETCOACH_DB_IDLE_MINUTES"] = str(idle_minutes)
    return env


def _fretcoach(data_dir: Path, idle_minutes: float, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FRETCOACH, *args], capture_output=True, text=True,
                          env=_env(data_dir, idle_minutes), timeout=120)


def _status(data_dir: Path, idle_minutes: float) -> dict:
    out = _fretcoach(data_dir, idle_minutes, "db", "status", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _server_pid(data_dir: Path) -> int | None:
    return postmaster_pid(data_dir / "pg")


def _watchdogs(data_dir: Path) -> list[psutil.Process]:
    pgdata = str((data_dir / "pg").resolve())
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = proc.info["cmdline"] or []
        if (any(part.endswith("warm.py") for part in cmd) and pgdata in cmd
                and proc.info["status"] != psutil.STATUS_ZOMBIE):
            found.append(proc)
    return found


def test_grace_zero_stops_at_once(data_dir: Path) -> None:
    data = _status(data_dir, 0)
    assert data["server"]["state"] == "running"
    # no waiting: the leaving process stopped it before it exited
    assert _server_pid(data_dir) is None


def test_short_grace_keeps_the_server_up_then_stops_it(data_dir: Path) -> None:
    grace_s = 0.05 * 60
    data = _status(data_dir, 0.05)
    left = time.monotonic()
    pid = data["server"]["pid"]
    assert _server_pid(data_dir) == pid, "the server must outlive the last process"
    assert _watchdogs(data_dir), "a watchdog must be watching the idle server"
    assert _wait(lambda: _server_pid(data_dir) is None, grace_s + 30), "never stopped"
    assert time.monotonic() - left >= grace_s - 0.5, "stopped before the grace ended"
    assert _wait(lambda: not _watchdogs(data_dir), 10), "the watchdog outlived its server"


def test_next_process_reuses_the_warm_server(data_dir: Path) -> None:
    first = _status(data_dir, 1)
    second = _status(data_dir, 1)
    assert "start" in first["timings_s"] and "attach" in second["timings_s"]
    assert second["server"]["pid"] == first["server"]["pid"]
    pid = first["server"]["pid"]
    assert os.getsid(pid) == pid, "a Ctrl-C in the starting terminal would reach the server"
    assert _fretcoach(data_dir, 1, "db", "stop").returncode == 0


def test_db_stop_stops_it_now(data_dir: Path) -> None:
    pid = _status(data_dir, 1)["server"]["pid"]
    assert _server_pid(data_dir) == pid
    out = _fretcoach(data_dir, 1, "db", "stop")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"stopped the embedded PostgreSQL server (pid {pid})"
    assert _server_pid(data_dir) is None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    again = _fretcoach(data_dir, 1, "db", "stop")
    assert again.returncode == 0 and "not running" in again.stdout
    assert _wait(lambda: not _watchdogs(data_dir), 10)


def test_db_stop_refuses_while_in_use_unless_forced(data_dir: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(data_dir, 1))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        out = _fretcoach(data_dir, 1, "db", "stop")
        assert out.returncode == 4 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert f"in use by 1 fretcoach process (pid {holder.pid})" in out.stderr
        assert _server_pid(data_dir) is not None
        forced = _fretcoach(data_dir, 1, "db", "stop", "--force")
        assert forced.returncode == 0, forced.stderr
        assert _server_pid(data_dir) is None
    finally:
        holder.kill()
        holder.wait()


def test_status_shows_the_idle_timer_and_does_not_reset_it(data_dir: Path) -> None:
    assert _fretcoach(data_dir, 1, "db", "url").returncode == 0  # a user came and went
    idle = data_dir / "pg-run" / "idle.json"
    timer = json.loads(idle.read_text())
    first = _status(data_dir, 1)["server"]
    assert json.loads(idle.read_text()) == timer, "db status restarted the idle timer"
    assert first["state"] == "running" and first["other_users"] == 0
    assert first["socket"].endswith(".s.PGSQL.5432")
    assert first["data_dir"] == str((data_dir / "pg").resolve())
    assert 0 < first["stops_in_s"] <= 60
    second = _status(data_dir, 1)["server"]
    assert second["stops_in_s"] <= first["stops_in_s"], "looking restarted the timer"
    text = _fretcoach(data_dir, 1, "db", "status")
    assert text.returncode == 0, text.stderr
    assert "idle: stops in " in text.stdout and " s if unused" in text.stdout
    assert f"running, pid {first['pid']}, socket {first['socket']}" in text.stdout


def test_status_counts_other_users(data_dir: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(data_dir, 1))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        server = _status(data_dir, 1)["server"]
        assert server["other_users"] == 1 and server["user_pids"] == [holder.pid]
        assert server["stops_in_s"] is None
        text = _fretcoach(data_dir, 1, "db", "status").stdout
        assert f"used by 1 other fretcoach process (pid {holder.pid})" in text
    finally:
        holder.kill()
        holder.wait()
    _fretcoach(data_dir, 1, "db", "stop")


@pytest.mark.parametrize("pid_now", ["dead", "reused"])
def test_stale_pid_and_socket_lock_after_kill_9_of_the_server(data_dir: Path,
                                                              pid_now: str) -> None:
    pid = _status(data_dir, 1)["server"]["pid"]
    pgdata = (data_dir / "pg").resolve()
    os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: _server_pid(data_dir) is None, 15)
    assert (pgdata / "postmaster.pid").exists()
    if pid_now == "reused":  # as after a reboot: the PIDs now belong to another live process
        for lock in (pgdata / "postmaster.pid", pgdata / ".s.PGSQL.5432.lock"):
            lines = lock.read_text().splitlines()
            lock.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    data = _status(data_dir, 1)
    assert "start" in data["timings_s"], "the stale server was taken for a live one"
    assert data["server"]["pid"] != pid and _server_pid(data_dir) == data["server"]["pid"]
    if sys.platform.startswith("linux"):  # crash recovery syncs the data dir in one call
        url = _fretcoach(data_dir, 1, "db", "url").stdout.strip()
        with psycopg.connect(url) as conn:
            row = conn.execute("SHOW recovery_init_sync_method").fetchone()
        assert row is not None and row[0] == "syncfs"
    assert _fretcoach(data_dir, 1, "db", "stop").returncode == 0


def test_two_concurrent_commands_share_one_server(data_dir: Path) -> None:
    procs = [subprocess.Popen([FRETCOACH, "db", "status", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(data_dir, 1))
             for _ in range(2)]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        results.append(json.loads(stdout))
    assert len({r["server"]["pid"] for r in results}) == 1
    assert sorted(next(iter(r["timings_s"])) for r in results) == ["attach", "start"]
    postgres = [p for p in psutil.process_iter(["name", "cmdline", "ppid"])
                if p.info["name"] == "postgres"
                and str((data_dir / "pg").resolve()) in (p.info["cmdline"] or [])]
    assert len(postgres) == 1, "two servers on one data dir"
    assert _fretcoach(data_dir, 1, "db", "stop").returncode == 0


def test_killed_client_does_not_keep_the_server_up(data_dir: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(data_dir, 0.02))
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    assert _server_pid(data_dir) is not None
    holder.kill()
    holder.wait()
    # no fretcoach process runs again: the watchdog alone must notice and stop it
    assert _wait(lambda: _server_pid(data_dir) is None, 0.02 * 60 + 30), "orphaned server"
    assert not any((data_dir / "pg-run" / "clients").iterdir())


def test_a_killed_watchdog_is_replaced_by_the_next_command(data_dir: Path) -> None:
    _status(data_dir, 0.05)
    (dog,) = _watchdogs(data_dir)
    dog.kill()
    dog.wait(10)
    assert _fretcoach(data_dir, 0.05, "db", "url").returncode == 0
    assert _watchdogs(data_dir), "nobody would stop the idle server"
    assert _wait(lambda: _server_pid(data_dir) is None, 0.05 * 60 + 30)


@contextlib.contextmanager
def _small_disk(size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (root only); any server on it is stopped before it is unmounted."""
    mount = Path(tempfile.mkdtemp(prefix="fc-full-", dir="/tmp"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        pid = postmaster_pid(mount / "data" / "pg")
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait(lambda: not psutil.pid_exists(pid)
                  or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 15)
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def test_full_disk_warm_server_still_serves_reads() -> None:
    with _small_disk("80m") as mount:
        data_dir = mount / "data"
        assert _status(data_dir, 1)["server"]["state"] == "running"
        with (mount / "filler").open("wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * (1 << 20))
        assert shutil.disk_usage(mount).free < (1 << 20)
        out = _fretcoach(data_dir, 1, "history", "--json")
        assert out.returncode == 0, out.stderr
        assert _status(data_dir, 1)["server"]["state"] == "running"
        stop = _fretcoach(data_dir, 1, "db", "stop")
        assert stop.returncode == 0, stop.stderr
        assert postmaster_pid(data_dir / "pg") is None


def test_full_disk_is_one_line_database_error() -> None:
    with _small_disk("2m") as mount:
        out = _fretcoach(mount / "data", 1, "db", "status")
        assert out.returncode == 4, (out.returncode, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "No space left on device" in out.stderr and "disk" in out.stderr
        assert "Traceback" not in out.stderr
        assert postmaster_pid(mount / "data" / "pg") is None


def test_deleting_the_data_dir_stops_its_idle_server(data_dir: Path) -> None:
    pid = _status(data_dir, 10)["server"]["pid"]
    assert psutil.pid_exists(pid)
    shutil.rmtree(data_dir)
    # postmaster.pid went with the directory: look for the process itself
    assert _wait(lambda: not psutil.pid_exists(pid)
                 or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 30), "orphaned"
