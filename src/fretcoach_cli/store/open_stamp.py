"""A stamp that lets a command skip the open-time checks on a warm embedded server.

Opening the database checks the migration level and inspects roles and row-level security:
about ten round trips and a read of every ``ddl/*.sql``, on every command, although neither
changes while one server runs one schema. After a full open the result is written to
``<data_dir>/pg-run/opened.json``, keyed on the postmaster (pid and start time, from
``postmaster.pid``), the server URL and the migration files (names, sizes, mtimes). The next
open on the same server with the same files uses it instead: no query at all before the
user connection. A restarted server, another checkout's migrations, ``db migrate`` and
``db reset`` (which delete it) all make the next open do the full checks again; ``db
status`` always does them. One restart keeps the stamp: a server that fretcoach stopped
cleanly and started again with nothing run on the data dir in between (``pg_control``
unchanged, see :func:`store.warm.take_clean_stop`) gets it through :func:`carry_over`.
External servers (``database_url``) never use a stamp.

The stamp saves work; it is not what keeps users apart: row-level security and the roles
are enforced by PostgreSQL on every query, and a role dropped behind our back makes the user
connection fail loudly (``SET ROLE``).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fretcoach_cli.fingerprint import files_fingerprint

if TYPE_CHECKING:
    from fretcoach_cli.store.db import Security

FILE = "opened.json"
FORMAT = 1


def path_for(pgdata: Path) -> Path:
    """Where the stamp of the server on ``pgdata`` lives (beside the warm-server state)."""
    return pgdata.parent / f"{pgdata.name}-run" / FILE


def _postmaster(pgdata: Path) -> list[str] | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return [lines[0].strip(), lines[2].strip()] if len(lines) > 2 else None


def ddl_fingerprint(directory: Path) -> str:
    """The migration files' fingerprint."""
    return files_fingerprint(directory, ".sql")


def _key(pgdata: Path, url: str, ddl: Path) -> dict[str, Any] | None:
    postmaster = _postmaster(pgdata)
    if postmaster is None:
        return None
    return {"format": FORMAT, "postmaster": postmaster, "url": url,
            "ddl": ddl_fingerprint(ddl)}


def load(pgdata: Path, url: str, ddl: Path) -> tuple[str, Security, str | None] | None:
    """(server version, security, agent URL) if a stamp matches this server and schema."""
    from fretcoach_cli.store.db import Security

    try:
        data = json.loads(path_for(pgdata).read_text())
        key = _key(pgdata, url, ddl)
        if key is None or data.get("key") != key:
            return None
        return (str(data["server_version"]), Security(**data["security"]),
                data["agent_url"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def save(pgdata: Path, url: str, ddl: Path, server_version: str, security: Security,
         agent_url: str | None) -> None:
    """Record a full open; a failure to write (full disk, no run dir) only costs speed."""
    key = _key(pgdata, url, ddl)
    if key is None:
        return
    target = path_for(pgdata)
    tmp = target.with_name(f".{FILE}.{os.getpid()}")
    body = {"key": key, "server_version": server_version, "security": asdict(security),
            "agent_url": agent_url}
    try:
        tmp.write_text(json.dumps(body))
        tmp.replace(target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def carry_over(pgdata: Path, before: list[str], after: list[str]) -> None:
    """Move the stamp of postmaster ``before`` ([pid, start time]) to ``after``: the same
    data dir, stopped cleanly and restarted with nothing run in between."""
    target = path_for(pgdata)
    tmp = target.with_name(f".{FILE}.{os.getpid()}")
    try:
        data = json.loads(target.read_text())
        if data["key"]["postmaster"] != before:
            return
        data["key"]["postmaster"] = after
        tmp.write_text(json.dumps(data))
        tmp.replace(target)
    except (OSError, ValueError, TypeError, KeyError):
        with contextlib.suppress(OSError):
            tmp.unlink()


def forget(pgdata: Path | None) -> None:
    """Drop the stamp: the schema or the roles are about to change."""
    if pgdata is not None:
        with contextlib.suppress(OSError):
            path_for(pgdata).unlink()
