"""Opening the database: embedded server or external URL, migrations, user-scoped connections.

``open_database(settings)`` is the one entry point. It picks the server (``database_url`` set →
external, else the embedded server under ``<data_dir>/pg``), applies pending migrations and
works out how rows can be scoped to a user:

* ``role``  — the normal case: a user connection sets ``fretcoach.user_id`` and switches to the
  non-superuser role ``fretcoach_app`` (superusers bypass row-level security).
* ``owner`` — the roles could not be created (external server without CREATEROLE); the
  connecting user owns the tables and FORCE ROW LEVEL SECURITY still applies to it.
* ``none``  — the connecting user bypasses RLS and cannot switch role: user connections are
  refused rather than silently unscoped.

The ``fretcoach.user_id`` setting is chosen by whoever holds the connection; for app
connections RLS keeps our own code honest, it is not a boundary against SQL a user writes.
Reader connections (the chat agent's) are different: see :mod:`store.roles` — their session
user is the unprivileged ``fretcoach_agent`` login where possible (embedded server, or
``FRETCOACH_AGENT_DATABASE_URL``), and their user scope is pinned by the owner, not by the
setting. Where neither is possible the status says so (WARN) and only the SQL guard protects.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fretcoach_cli.errors import DatabaseError, UsageError
from fretcoach_cli.store import migrations, open_stamp, roles

if TYPE_CHECKING:
    import psycopg

    from fretcoach_cli.config import Settings

CONNECT_TIMEOUT_S = 4
APP_ROLE = "fretcoach_app"
READER_ROLE = "fretcoach_reader"
USER_TABLES = ("sessions", "session_notes", "ai_practice_plans", "user_configs",
               "coach_replies", "chat_threads")
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")

Kind = Literal["embedded", "external"]
log = logging.getLogger(__name__)

# Called with the settings after every open_database() that migrated (the schema is
# current): the CLI registers the replay of pending practice journals here, so any command
# that opens the database first writes what a crashed session left in the journal. A hook
# that opens the database itself is not re-entered (per thread); its failures are logged,
# never raised — the command still runs on what the database has.
_open_hooks: list[Callable[[Settings], None]] = []
_in_hook = threading.local()


def add_open_hook(hook: Callable[[Settings], None]) -> None:
    """Run ``hook(settings)`` after each open_database() (once registered; idempotent)."""
    if hook not in _open_hooks:
        _open_hooks.append(hook)


def _run_open_hooks(settings: Settings) -> None:
    if getattr(_in_hook, "active", False):
        return
    _in_hook.active = True
    try:
        for hook in list(_open_hooks):
            try:
                hook(settings)
            except Exception as exc:  # e.g. a broken journal: never blocks the command
                log.warning("after opening the database: %s", _first_line(exc))
    finally:
        _in_hook.active = False
ScopeMode = Literal["role", "owner", "none"]


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for display."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def normalise_url(url: str) -> str:
    """Accept SQLAlchemy-style ``postgresql+psycopg://`` and ``postgres://`` URLs."""
    url = url.strip()
    url = _DRIVER_SUFFIX.sub(r"\1://", url)
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise DatabaseError(f"database_url {mask_url(url)!r} is not a PostgreSQL URL",
                            hint="use postgresql://user:password@host:5432/dbname")
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


@contextmanager
def db_errors(what: str) -> Iterator[None]:
    """Turn psycopg errors inside the block into a one-line DatabaseError."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DatabaseError(f"{what}: {_first_line(exc)}") from None


@dataclass
class Security:
    """How user scoping works on this server, and what is wrong with it (for `db status`)."""

    mode: ScopeMode
    app_role: bool
    reader_role: bool
    rls_tables: dict[str, bool] = field(default_factory=dict)  # table -> enabled and forced
    problems: list[str] = field(default_factory=list)
    #: the chat agent's queries run with fretcoach_agent (or FRETCOACH_AGENT_DATABASE_URL's
    #: login) as session user, not on a session of the connecting user
    agent_login: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Database:
    """An open fretcoach database. Use as a context manager, or call :meth:`close`."""

    url: str
    kind: Kind
    server_version: str
    security: Security
    data_dir: Path | None = None
    migrations_applied: list[migrations.Migration] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: where reader (chat agent) connections log in; None = a session of ``url``'s user
    agent_url: str | None = field(default=None, repr=False)

    @property
    def display_location(self) -> str:
        if self.kind == "embedded" and self.data_dir is not None:
            return f"embedded server in {self.data_dir}"
        return mask_url(self.url)

    def admin(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """An unscoped connection as the connecting (owner) user: migrations, status, reset."""
        return _connect(self.url, autocommit=autocommit)

    def connect(self, user_id: str, *, role: Literal["app", "reader"] = "app",
                autocommit: bool = False) -> psycopg.Connection[Any]:
        """A connection that sees and writes only ``user_id``'s rows.

        ``role="reader"`` gives the read-only role the chat agent uses: on the agent login
        when there is one (see :mod:`store.roles`), else ``SET ROLE`` on our own session. Its
        user is pinned by the owner too (``fretcoach.agent_scopes``). The returned psycopg
        connection is a context manager (commits on success, closes on exit).
        """
        if not user_id or not user_id.strip():
            raise UsageError("no user given", hint="pass --user or set FRETCOACH_USER")
        if self.security.mode == "none":
            raise DatabaseError(
                "row-level security cannot be enforced on this server: the connecting user "
                "bypasses it and the fretcoach roles are missing",
                hint="create roles fretcoach_app and fretcoach_reader (NOLOGIN), grant them to "
                     "this user, then run 'fretcoach db migrate'",
            )
        if role == "reader" and self.agent_url and self.security.mode == "role":
            conn = roles.open_agent(self.agent_url, self.url, user_id, connect=_connect)
            conn.autocommit = autocommit
            return conn
        conn = _connect(self.url, autocommit=False)
        try:
            conn.execute("SELECT set_config('fretcoach.user_id', %s, false)", (user_id,))
            conn.execute("SELECT set_config('search_path', 'fretcoach, public', false)")
            if self.security.mode == "role":
                if role == "reader":  # the restrictive agent_scope policies need the pin
                    pid = conn.execute("SELECT pg_backend_pid()").fetchone()
                    conn.commit()
                    roles.register_scope(conn, int(pid[0]) if pid else 0, user_id)
                conn.execute(f"SET ROLE {APP_ROLE if role == 'app' else READER_ROLE}")
            elif role == "reader":
                conn.execute("SET default_transaction_read_only = on")
            conn.commit()  # SET ROLE / set_config are transactional: make them stick
            conn.autocommit = autocommit
        except Exception as exc:
            conn.close()
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise DatabaseError(f"cannot scope the connection to user {user_id!r}: "
                                    f"{_first_line(exc)}",
                                    hint="run 'fretcoach db status'") from None
            raise
        return conn

    def migrate(self) -> list[migrations.Migration]:
        """Apply pending migrations now (they are also applied on open)."""
        open_stamp.forget(self.data_dir)
        with self.admin() as conn, db_errors("migration failed"):
            done = migrations.migrate(conn)
        self._refresh_security()
        return done

    def migration_state(self) -> migrations.MigrationState:
        with self.admin() as conn, db_errors("cannot read the migration level"):
            return migrations.state(conn)

    def row_counts(self, user_id: str | None = None) -> dict[str, int | None]:
        """Rows per table: all users' (admin connection) or one user's (scoped)."""
        conn = self.admin() if user_id is None else self.connect(user_id, autocommit=True)
        with conn, db_errors("cannot count rows"):
            rows = _table_counts(conn, "count(*)", ())
        return {t: None if r is None else int(r[0]) for t, r in rows.items()}

    def row_counts_all_and_user(self, user_id: str | None
                                ) -> dict[str, tuple[int | None, int | None]]:
        """(all users' rows, ``user_id``'s rows) per table in one scan each, on the admin
        connection (which must see every row: :meth:`bypasses_rls`). Counting the user's
        rows through their own connection scans the table a second time and tests the RLS
        policy on every row: 3.3 s of ``db status`` at 12 M notes, against 0.7 s."""
        mine = "count(*) FILTER (WHERE user_id = %s)" if user_id is not None else "NULL"
        with self.admin() as conn, db_errors("cannot count rows"):
            rows = _table_counts(conn, f"count(*), {mine}",
                                 (user_id,) if user_id is not None else ())
        return {t: (None, None) if r is None else
                (int(r[0]), None if r[1] is None else int(r[1])) for t, r in rows.items()}

    def bypasses_rls(self) -> bool:
        """Whether the admin connection sees every user's rows (superuser/BYPASSRLS)."""
        with self.admin() as conn:
            row = conn.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        return bool(row and row[0])

    def reset(self) -> list[migrations.Migration]:
        """Drop the fretcoach schema and recreate it from the migrations (all data lost)."""
        open_stamp.forget(self.data_dir)
        with self.admin() as conn, db_errors("reset failed"):
            migrations.drop_schema(conn)
            done = migrations.migrate(conn)
        self._refresh_security()
        return done

    def _refresh_security(self) -> None:
        with _connect(self.url, autocommit=True) as conn, db_errors("cannot inspect roles"):
            self.security = inspect_security(conn)
            if self.kind == "embedded" and self.agent_url is None:
                self.agent_url = _embedded_agent(conn, self.url)
        _note_agent(self.security, self.agent_url)

    def close(self) -> None:
        """Nothing pooled yet; the embedded server is released when the process exits."""

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _table_counts(conn: psycopg.Connection[Any], counts: str, params: tuple[Any, ...]
                  ) -> dict[str, tuple[Any, ...] | None]:
    """``SELECT {counts}`` over each of USER_TABLES (None for one not created yet)."""
    out: dict[str, tuple[Any, ...] | None] = {}
    for table in USER_TABLES:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                              (f"fretcoach.{table}",)).fetchone()
        out[table] = (conn.execute(f"SELECT {counts} FROM fretcoach.{table}", params).fetchone()
                      if exists and exists[0] else None)
    return out


def _connect(url: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="fretcoach")
    except psycopg.Error as exc:
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {mask_url(url)}: {_first_line(exc)}",
            hint="check that the server runs and FRETCOACH_DATABASE_URL is right, "
                 "or unset it to use the embedded database",
        ) from None


def _embedded_agent(conn: psycopg.Connection[Any], url: str) -> str | None:
    """The agent's login on the embedded server (LOGIN turned on here), or None."""
    return roles.embedded_agent_url(url) if roles.enable_embedded_login(conn) else None


def _note_agent(security: Security, agent_url: str | None) -> None:
    """Record whether the agent has its own login; say so when it has not."""
    security.agent_login = bool(agent_url) and security.mode == "role"
    if not security.agent_login and roles.SHARED_SESSION_WARNING not in security.problems:
        security.problems.append(roles.SHARED_SESSION_WARNING)


def inspect_security(conn: psycopg.Connection[Any]) -> Security:
    """Find out whether user connections can be scoped, and how (admin connection)."""
    me = conn.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    superuser, bypass = (bool(me[0]), bool(me[1])) if me else (False, False)
    have = {}
    for role in (APP_ROLE, READER_ROLE):
        row = conn.execute(
            "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
        have[role] = bool(row and row[0])
    # every fretcoach table with a user_id column must have RLS enabled and forced
    tables = {
        name: bool(enabled and forced)
        for name, enabled, forced in conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'fretcoach' AND c.relkind = 'r' AND EXISTS ("
            "  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
            "  AND a.attname = 'user_id' AND NOT a.attisdropped)"
        ).fetchall()
    }
    problems = []
    for table in sorted(set(USER_TABLES) | set(tables)):
        if not tables.get(table):
            problems.append(f"row-level security is not enabled+forced on {table}")
    if have[APP_ROLE]:
        mode: ScopeMode = "role"
    elif not (superuser or bypass):
        mode = "owner"
        problems.append(f"role {APP_ROLE} missing or not granted: rows are scoped only by "
                        "FORCE ROW LEVEL SECURITY on the table owner")
    else:
        mode = "none"
        problems.append(f"role {APP_ROLE} missing and the connecting user bypasses RLS: "
                        "user connections are refused")
    if not have[READER_ROLE]:
        problems.append(f"role {READER_ROLE} missing or not granted: the chat agent falls "
                        "back to read-only transactions")
    problems += roles.agent_policy_problems(conn) + roles.agent_role_problems(conn)
    return Security(mode, have[APP_ROLE], have[READER_ROLE], tables, problems)


def resolve(settings: Settings) -> tuple[Kind, str, Path | None, dict[str, float]]:
    """Pick the server (starting the embedded one if needed): kind, URL, data dir, timings."""
    url = str(settings.database_url or "").strip()
    if url:
        return "external", normalise_url(url), None, {}
    from fretcoach_cli.store import server

    data_dir = settings.data_path
    emb = server.ensure_server(data_dir)
    key = "attach" if emb.attached else "start"
    return "embedded", emb.uri, server.pgdata_for(data_dir), {key: emb.seconds}


def open_database(settings: Settings, *, migrate: bool = True,
                  agent_url: str | None = None, verify: bool = False) -> Database:
    """Open the configured database; applies pending migrations unless ``migrate=False``.

    ``agent_url`` (default: ``FRETCOACH_AGENT_DATABASE_URL``) is the chat agent's own login on
    an external server; the embedded server always uses ``fretcoach_agent``. On a warm
    embedded server whose schema this code already checked, the checks are skipped (see
    :mod:`store.open_stamp`) unless ``verify`` (``db status``) asks for them.
    """
    kind, url, data_dir, timings = resolve(settings)
    t0 = time.perf_counter()
    if migrate and not verify and kind == "embedded" and data_dir is not None:
        stamped = open_stamp.load(data_dir, url, migrations.ddl_dir())
        if stamped is not None:
            version, security, agent = stamped
            timings["open"] = time.perf_counter() - t0
            db = Database(url=url, kind=kind, server_version=version, security=security,
                          data_dir=data_dir, timings=timings, agent_url=agent)
            if _open_hooks:
                _run_open_hooks(settings)
            return db
    configured = roles.configured_agent_url() if agent_url is None else agent_url.strip()
    agent = normalise_url(configured) if kind == "external" and configured else None
    done: list[migrations.Migration] = []
    with _connect(url, autocommit=True) as conn, db_errors("cannot open the database"):
        row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "?"
        if migrate:
            done = migrations.migrate(conn)
        security = inspect_security(conn)
        if kind == "embedded":
            agent = _embedded_agent(conn, url)
    _note_agent(security, agent)
    if migrate and kind == "embedded" and data_dir is not None:
        open_stamp.save(data_dir, url, migrations.ddl_dir(), version, security, agent)
    timings["open"] = time.perf_counter() - t0
    db = Database(url=url, kind=kind, server_version=version, security=security,
                  data_dir=data_dir, migrations_applied=done, timings=timings,
                  agent_url=agent)
    if migrate and _open_hooks:
        _run_open_hooks(settings)
    return db
