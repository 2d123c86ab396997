"""Schema migrations: numbered SQL files in ``ddl/`` are the only schema source.

``ddl/NNN_name.sql`` files are applied in order, each in its own transaction together with its
row in ``fretcoach.schema_migrations`` (version, name, sha256 checksum). The runner is cheap to
call on every open: it first reads the applied versions without locking and only takes the
advisory lock when something is pending, then re-checks under the lock, so two processes
migrating at once apply each file exactly once. Nothing is ever dropped or rewritten: an edited
file that was already applied is reported (checksum mismatch), not re-run.

The ``ddl/`` directory ships inside the package as ``fretcoach_cli/ddl`` (a symlink in the
source tree that setuptools resolves when building the sdist/wheel).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import DatabaseError

if TYPE_CHECKING:
    import psycopg

SCHEMA = "fretcoach"
# pg_advisory_lock key for "migrating the fretcoach schema" (arbitrary, fixed forever).
MIGRATION_LOCK_KEY = 0x66726574636F6163  # b"fretcoac"
_FILE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")

_BOOTSTRAP = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        # normalise line endings so a Windows checkout does not look "edited"
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:03d}_{self.name}.sql"


@dataclass
class MigrationState:
    """Where a database stands relative to the migrations this code ships."""

    applied: dict[int, str] = field(default_factory=dict)  # version -> checksum
    available: list[Migration] = field(default_factory=list)

    @property
    def pending(self) -> list[Migration]:
        return [m for m in self.available if m.version not in self.applied]

    @property
    def mismatched(self) -> list[Migration]:
        """Applied migrations whose file changed since (reported, never re-run)."""
        return [m for m in self.available
                if m.version in self.applied and self.applied[m.version] != m.checksum]

    @property
    def unknown(self) -> list[int]:
        """Versions in the database that this code does not know (a newer fretcoach wrote them)."""
        known = {m.version for m in self.available}
        return sorted(v for v in self.applied if v not in known)

    @property
    def level(self) -> int:
        return max(self.applied, default=0)

    @property
    def latest(self) -> int:
        return max((m.version for m in self.available), default=0)


def ddl_dir() -> Path:
    """The directory holding the migration files (inside the installed package)."""
    packaged = resources.files("fretcoach_cli") / "ddl"
    path = Path(str(packaged))
    if path.is_dir():
        return path
    source_tree = Path(__file__).resolve().parents[3] / "ddl"  # editable checkout fallback
    if source_tree.is_dir():
        return source_tree
    raise DatabaseError("the schema files (ddl/*.sql) are missing from this installation",
                        hint="reinstall fretcoach")


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All ``NNN_name.sql`` files, in version order; duplicate versions are an error."""
    directory = directory or ddl_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        match = _FILE.match(path.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise DatabaseError(f"two migrations share version {version}: "
                                f"{found[version].filename} and {path.name}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _applied(conn: psycopg.Connection[Any]) -> dict[int, str] | None:
    """Applied versions, or None when the bookkeeping table does not exist yet."""
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",)
    ).fetchone()
    if not exists or not exists[0]:
        return None
    rows = conn.execute(f"SELECT version, checksum FROM {SCHEMA}.schema_migrations").fetchall()
    return {int(v): str(c) for v, c in rows}


def state(conn: psycopg.Connection[Any], available: Iterable[Migration] | None = None,
          ) -> MigrationState:
    """Read the migration level without changing anything."""
    migrations = list(available) if available is not None else load_migrations()
    with conn.transaction():
        applied = _applied(conn) or {}
    return MigrationState(applied, migrations)


def migrate(conn: psycopg.Connection[Any], available: Iterable[Migration] | None = None,
            ) -> list[Migration]:
    """Apply every pending migration; returns those applied by this call (maybe none).

    ``conn`` must be an owner/admin connection in autocommit mode (each file gets its own
    transaction). Safe to run from several processes at once.
    """
    import psycopg

    migrations = list(available) if available is not None else load_migrations()
    wanted = {m.version for m in migrations}
    applied = _applied(conn)
    if applied is not None and wanted <= set(applied):
        return []  # fast path: nothing to do, no lock taken
    done: list[Migration] = []
    conn.execute("SET lock_timeout = '60s'")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(_BOOTSTRAP)
        applied = _applied(conn) or {}
        for mig in migrations:
            if mig.version in applied:
                continue
            try:
                with conn.transaction():
                    conn.execute(mig.sql)  # no params: many statements
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
            except psycopg.Error as exc:
                raise DatabaseError(
                    f"migration {mig.filename} failed: {_first_line(exc)}",
                    hint="nothing of it was applied; fix the cause and run 'fretcoach db migrate'",
                ) from None
            done.append(mig)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute("RESET lock_timeout")
    return done


def drop_schema(conn: psycopg.Connection[Any]) -> None:
    """Drop the whole fretcoach schema (``db reset``); roles are cluster-wide and stay."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
