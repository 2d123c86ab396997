"""Who uses the embedded server, when it may stop, and the watchdog that stops it.

Standard library only: this file also runs as the detached watchdog script
(``python -I warm.py PGDATA GRACE_S``), which must start fast and import nothing of fretcoach.

State lives next to the PostgreSQL data dir ``<data_dir>/pg``, in ``<data_dir>/pg-run/``
(never inside it: ``initdb`` wants an empty directory):

* ``lock`` — an exclusive ``flock`` held for every transition: a process registering or
  leaving, a start, a stop, a watchdog check. Milliseconds (a few seconds while starting).
* ``clients/<pid>`` — one per fretcoach process using the server, holding
  ``{"pid", "grace_s"}``; the process keeps an exclusive ``flock`` on its own file while it uses
  the server. A file whose lock can be taken belongs to a process that is gone (crash,
  ``kill -9``, reboot): it is removed and not counted. The kernel drops the locks of dead
  processes, so neither a reused PID nor a reboot can make a dead process count.
* ``idle.json`` — ``{"since", "grace_s"}``, written when the last user leaves (with its own
  ``db_idle_minutes``), removed when one arrives: the server stops at ``since + grace_s``.
  ``db status`` attaches as an onlooker and leaves a running timer as it is.
* ``watchdog.lock`` — flock'd by the one watchdog of this data dir.
* ``stopped.json`` — ``{"postmaster", "control"}``, written by a clean stop and used up by the
  next start: see :func:`take_clean_stop`.

The reaper is a real process: every fretcoach process that registers or leaves makes sure a
watchdog runs (it starts one, detached in its own session, when ``watchdog.lock`` is free), so
a killed watchdog is replaced by the next command. The watchdog wakes at the deadline or every
``POLL_S`` seconds and, under ``lock``: exits when the server is gone; does nothing while a
live user remains; writes ``idle.json`` when it finds only dead users (a crashed process's
grace then runs from the moment it is noticed); stops the server (SIGINT = PostgreSQL's fast
shutdown, then SIGQUIT, then SIGKILL) once the deadline has passed, and exits. A data dir
deleted under a running server gets that server stopped at once. A grace of 0 is
handled by the leaving process itself, at once, as before. The one gap: a watchdog killed
with SIGKILL while no fretcoach process ever runs again leaves the server up (until the next
command or a reboot).

``postmaster.pid`` is trusted only if its PID is a live ``postgres`` whose ``-D`` is this data
dir: after a reboot or a ``kill -9`` of the server the PID may be free or reused. A reused PID
would make PostgreSQL refuse to start ("lock file already exists"): :func:`clear_stale`
removes such a file, and the socket files, before a start. Never two servers on one data
dir: starts happen under ``lock`` after looking for a live postmaster, and PostgreSQL's own
``postmaster.pid`` interlock refuses a second one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

POLL_S = 1.0  # how late a watchdog may notice a dead user or a passed deadline
LOCK_TIMEOUT_S = 90.0  # a start (initdb on a slow disk) holds the lock this long at most
STOP_TIMEOUT_S = 60.0

# the watchdogs this process started, by data dir (kept so no ResourceWarning fires at exit)
_spawned: list[tuple[Path, subprocess.Popen[bytes]]] = []


class Busy(Exception):
    """The state lock stayed taken for longer than the timeout."""


@dataclass(frozen=True)
class Layout:
    """Where a data dir's warm-server state lives."""

    pgdata: Path

    @property
    def run(self) -> Path:
        return self.pgdata.parent / f"{self.pgdata.name}-run"

    @property
    def lock(self) -> Path:
        return self.run / "lock"

    @property
    def clients(self) -> Path:
        return self.run / "clients"

    @property
    def idle(self) -> Path:
        return self.run / "idle.json"

    @property
    def watchdog_lock(self) -> Path:
        return self.run / "watchdog.lock"

    @property
    def stopped(self) -> Path:
        return self.run / "stopped.json"


@dataclass(frozen=True)
class Postmaster:
    """The interesting lines of ``postmaster.pid``."""

    pid: int
    port: int
    socket_dir: str
    start_time: int
    status: str = ""  # "starting", "ready" (accepts connections), "stopping"; "" if not yet


@dataclass(frozen=True)
class Client:
    pid: int
    grace_s: float


@dataclass(frozen=True)
class Idle:
    since: float
    grace_s: float

    @property
    def deadline(self) -> float:
        return self.since + self.grace_s


@dataclass
class Registration:
    """This process's claim on the server: the open, locked ``clients/<pid>`` file."""

    fd: int
    path: Path
    pid: int
    grace_s: float
    observer: bool = False  # leaves a running idle timer as it is (``db status``)


# --- locking -------------------------------------------------------------------------------

@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT_S, *, create: bool = True) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created if needed); :class:`Busy` after ``timeout``."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy(str(path)) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock


# --- users ---------------------------------------------------------------------------------

def register(layout: Layout, grace_s: float, *, observer: bool = False) -> Registration:
    """Record this process as a user (call under ``lock``); raises OSError (e.g. ENOSPC)."""
    layout.clients.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    path = layout.clients / str(pid)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            os.write(fd, json.dumps({"pid": pid, "grace_s": grace_s}).encode())
        except OSError as exc:  # a full disk: the locked file alone still counts this user
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return Registration(fd, path, pid, grace_s, observer)


def unregister(reg: Registration) -> None:
    """Drop this process's user file (call under ``lock``)."""
    with contextlib.suppress(OSError):
        reg.path.unlink()
    with contextlib.suppress(OSError):
        os.close(reg.fd)


def scan(layout: Layout) -> tuple[list[Client], list[Client]]:
    """(live users, dead users); dead users' files are removed. Call under ``lock``."""
    live: list[Client] = []
    dead: list[Client] = []
    try:
        entries = sorted(layout.clients.iterdir())
    except OSError:
        return live, dead
    for path in entries:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            client = _read_client(fd, path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.append(client)
                continue
            dead.append(client)
            with contextlib.suppress(OSError):
                path.unlink()
        finally:
            os.close(fd)
    return live, dead


def _read_client(fd: int, path: Path) -> Client:
    try:
        data = json.loads(os.read(fd, 4096) or b"{}")
        return Client(int(data.get("pid", path.name)), float(data.get("grace_s", 0)))
    except (ValueError, TypeError, AttributeError):
        return Client(int(path.name) if path.name.isdigit() else 0, 0.0)


# --- idle timer ----------------------------------------------------------------------------

def read_idle(layout: Layout) -> Idle | None:
    try:
        data = json.loads(layout.idle.read_text())
        return Idle(float(data["since"]), float(data["grace_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_idle(layout: Layout, grace_s: float, since: float | None = None) -> Idle:
    idle = Idle(time.time() if since is None else since, grace_s)
    tmp = layout.idle.with_suffix(".tmp")
    tmp.write_text(json.dumps({"since": idle.since, "grace_s": idle.grace_s}))
    tmp.replace(layout.idle)
    return idle


def clear_idle(layout: Layout) -> None:
    with contextlib.suppress(FileNotFoundError):
        layout.idle.unlink()


# --- the postmaster ------------------------------------------------------------------------

def read_postmaster(pgdata: Path) -> Postmaster | None:
    """``postmaster.pid`` parsed, or None when missing or unreadable (alive or not)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        status = lines[7].strip() if len(lines) > 7 else ""
        return Postmaster(int(lines[0]), int(lines[3] or 0), lines[4].strip(), int(lines[2]),
                          status)
    except (OSError, IndexError, ValueError):
        return None


def is_postgres(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process named ``postgres``."""
    if pid <= 0:
        return False
    proc = Path("/proc") / str(pid)
    if Path("/proc/self/stat").exists():
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            return False
        name, _, rest = stat.partition("(")[2].rpartition(")")
        return name == "postgres" and rest.split()[:1] != ["Z"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a live postgres serving ``pgdata`` (its ``-D``, where readable)."""
    if not is_postgres(pid):
        return False
    proc = Path("/proc") / str(pid)
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS) or no access: the name has to do
    if b"-D" not in args[:-1]:
        return True  # started with PGDATA in its environment
    target = Path(os.fsdecode(args[args.index(b"-D") + 1]))
    if not target.is_absolute():
        target = proc / "cwd" / target
    try:
        return os.path.samefile(target, pgdata)
    except OSError:
        return False


def running(pgdata: Path) -> Postmaster | None:
    """The live postmaster of ``pgdata``, or None."""
    info = read_postmaster(pgdata)
    return info if info is not None and is_postmaster_of(info.pid, pgdata) else None


def clear_stale(pgdata: Path, socket_dirs: tuple[Path, ...] = ()) -> None:
    """Before a start (under ``lock``, no server running): remove socket files and a
    ``postmaster.pid`` whose PID now belongs to another process.

    A ``postmaster.pid`` naming a dead PID is left to PostgreSQL: it sees it is stale itself,
    and first checks that no orphaned backend still uses the old shared memory.
    """
    info = read_postmaster(pgdata)
    if info is not None and is_postmaster_of(info.pid, pgdata):
        return
    dirs = {Path(info.socket_dir)} if info is not None and info.socket_dir else set()
    dirs.update(socket_dirs)
    port = info.port if info is not None and info.port else 5432
    for folder in dirs:
        for name in (f".s.PGSQL.{port}", f".s.PGSQL.{port}.lock"):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
    if info is not None and _pid_exists(info.pid):  # reused by another process
        with contextlib.suppress(OSError):
            (pgdata / "postmaster.pid").unlink()


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(layout: Layout) -> int | None:
    """Stop the server now (call under ``lock``); its PID, or None if it was not running."""
    info = running(layout.pgdata)
    clear_idle(layout)
    if info is None:
        clear_stale(layout.pgdata)
        return None
    # SIGINT = fast shutdown (sessions are ended, a checkpoint is written); SIGQUIT =
    # immediate shutdown (crash recovery at the next start); SIGKILL as the last resort
    fast = False
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 10.0),
                      (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, sig)
        if _wait_gone(info.pid, wait):
            fast = sig == signal.SIGINT
            break
    clear_stale(layout.pgdata)
    record_stop(layout, info if fast else None)
    return info.pid


# --- what a clean stop leaves ---------------------------------------------------------------
#
# A server we stopped cleanly, started again with nothing run on its data dir in between, has
# the same schema and roles as before: the next start carries the open stamp
# (store.open_stamp) over to the new postmaster, so a cold command skips the open-time checks
# as a warm one does. "Nothing in between" is checked on pg_control, which every start and
# every stop of any server on the data dir rewrites.

_DB_SHUTDOWNED = 1  # pg_control's DBState after a clean shutdown


def control_state(pgdata: Path) -> tuple[int, str] | None:
    """(cluster state, fingerprint) of ``global/pg_control``, or None if unreadable.

    The state is the int32 after system_identifier (8 bytes), pg_control_version and
    catalog_version_no (4 each): a layout unchanged since PostgreSQL 8.
    """
    try:
        data = (pgdata / "global" / "pg_control").read_bytes()
    except OSError:
        return None
    if len(data) < 20:
        return None
    return int.from_bytes(data[16:20], sys.byteorder, signed=True), \
        hashlib.sha256(data).hexdigest()


def record_stop(layout: Layout, stopped: Postmaster | None) -> None:
    """After a stop: remember the postmaster and pg_control of a clean one (``stopped``),
    or forget any earlier record (None: killed, crashed, unknown)."""
    control = control_state(layout.pgdata) if stopped is not None else None
    if stopped is None or control is None or control[0] != _DB_SHUTDOWNED:
        with contextlib.suppress(OSError):
            layout.stopped.unlink()
        return
    body = {"postmaster": [str(stopped.pid), str(stopped.start_time)], "control": control[1]}
    tmp = layout.stopped.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(body))
        tmp.replace(layout.stopped)
    except OSError:  # a full disk: the next start checks everything again
        with contextlib.suppress(OSError):
            tmp.unlink()
        with contextlib.suppress(OSError):
            layout.stopped.unlink()


def take_clean_stop(layout: Layout) -> list[str] | None:
    """Before a start (under ``lock``): the [pid, start time] of the postmaster we last
    stopped cleanly, if no server has run on the data dir since; the record is used up."""
    try:
        data = json.loads(layout.stopped.read_text())
    except (OSError, ValueError):
        return None
    finally:
        with contextlib.suppress(OSError):
            layout.stopped.unlink()
    control = control_state(layout.pgdata)
    try:
        postmaster = [str(part) for part in data["postmaster"]]
        same = control is not None and control[0] == _DB_SHUTDOWNED \
            and data["control"] == control[1]
    except (KeyError, TypeError):
        return None
    return postmaster if same and len(postmaster) == 2 else None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_postgres(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- the watchdog --------------------------------------------------------------------------

def watchdog_running(layout: Layout) -> bool:
    try:
        fd = os.open(layout.watchdog_lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def ensure_watchdog(layout: Layout, grace_s: float) -> None:
    """Start the data dir's watchdog unless one runs (detached: it outlives this process).

    One this process started that is still alive counts even before it has taken
    ``watchdog.lock`` (its interpreter needs 50-150 ms to get there): no second one.
    """
    _spawned[:] = [(d, p) for d, p in _spawned if p.poll() is None]  # reap exited ones
    if any(d == layout.pgdata for d, _p in _spawned):
        return
    if watchdog_running(layout) or not sys.executable:
        return
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(layout.pgdata),
             str(grace_s)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True, close_fds=True,
        )
    except OSError:  # no interpreter to run (frozen app): the next command tries again
        return
    _spawned.append((layout.pgdata, proc))


@dataclass
class _Memo:
    """What a watchdog remembers between checks."""

    idle: Idle | None = None  # the timer it started itself (idle.json may be unwritable)
    pid: int | None = None  # the postmaster it last saw


def step(layout: Layout, default_grace_s: float, memo: _Memo) -> float | None:
    """One watchdog check (call under ``lock``): seconds to sleep, or None to exit.

    A full disk must not keep the server up for ever: when ``idle.json`` cannot be written,
    the timer lives in ``memo``.
    """
    info = running(layout.pgdata)
    if info is None:
        clear_idle(layout)
        return None
    memo.pid = info.pid
    live, dead = scan(layout)
    if live:
        memo.idle = None
        return POLL_S
    idle = read_idle(layout) or memo.idle
    if idle is None:  # the last users died without leaving: their grace runs from now
        grace = max((c.grace_s for c in dead), default=default_grace_s)
        idle = memo.idle = Idle(time.time(), grace)
        with contextlib.suppress(OSError):
            write_idle(layout, grace, idle.since)
    remaining = idle.deadline - time.time()
    if remaining <= 0:
        stop(layout)
        return None
    return min(remaining, POLL_S)


def _stop_orphan(pid: int | None, pgdata: Path) -> None:
    """The data dir was deleted under a running server: stop it, it can serve nothing."""
    if pid is None or not is_postgres(pid):
        return
    try:
        args = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"-D" in args[:-1] and args[args.index(b"-D") + 1] == os.fsencode(str(pgdata)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        _wait_gone(pid, STOP_TIMEOUT_S)


def watch(pgdata: Path, default_grace_s: float) -> int:
    """The watchdog loop: returns once the server is stopped (by it or by anyone)."""
    layout = Layout(pgdata)
    fd = os.open(layout.watchdog_lock, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + 1.0  # the spawner may be probing the lock right now
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                return 0  # another watchdog runs
            time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    memo = _Memo()
    while True:
        try:
            if not layout.run.is_dir():
                raise FileNotFoundError(layout.run)
            with locked(layout.lock, create=False):
                wait = step(layout, default_grace_s, memo)
        except FileNotFoundError:  # the data dir was deleted
            _stop_orphan(memo.pid, pgdata)
            return 0
        except (Busy, OSError):  # e.g. a full disk: try again later
            wait = POLL_S
        if wait is None:
            return 0
        time.sleep(max(wait, 0.01))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: warm.py PGDATA GRACE_SECONDS", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return watch(Path(argv[0]), float(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
