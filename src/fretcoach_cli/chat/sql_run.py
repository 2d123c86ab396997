"""Running an agent query: the database layers of the defence, and results the model can use.

On top of :mod:`sql_guard` (the parser), every query runs:

* on a connection of the read-only ``fretcoach_reader`` role, scoped to the user by row-level
  security (``store.Database.connect(user, role="reader")``) — whose session user is, where
  possible, the unprivileged ``fretcoach_agent`` login (``RESET ROLE`` gains nothing) and whose
  user is pinned by the owner (``fretcoach.agent_scope()``), see ``store/roles.py``;
* inside ``BEGIN READ ONLY`` with ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` set locally and the ``search_path`` pinned;
* through a server-side cursor, fetching at most ``max_rows + 1`` rows (so a huge result is
  never materialised on our side) — the extra row only tells us to set ``truncated``;
* with every row's size bounded on the server (:data:`MAX_ROW_BYTES`): string functions can
  build a value of up to 1 GB from a tiny query (``format('%900000000s', '')``, a chain of
  ``s || s``), which would otherwise be shipped whole into this process before cells are cut;
* with a trip-wire: before rolling back, the session user, role, user setting and pinned
  scope must be what they were (a query that cannot even be checked counts as a change);
* always rolled back.

Errors come back as one short sentence for the model ("no column X; did you mean Y?").
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fretcoach_cli.chat.schema import COLUMNS
from fretcoach_cli.chat.sql_guard import ALLOWED_RELATIONS, SqlRejected, check_sql

if TYPE_CHECKING:
    import psycopg

DEFAULT_MAX_ROWS = 200
DEFAULT_TIMEOUT_S = 3.0
MAX_CELL_CHARS = 200
#: Largest result row (datum bytes) sent back to us; a bigger one fails the query on the server.
MAX_ROW_BYTES = 100_000
CURSOR = "fretcoach_agent_q"
_TOO_LARGE = "fretcoach-row-too-large:"


class ScopeViolation(RuntimeError):
    """The trip-wire fired: a query changed the connection's role or user scope."""


@dataclass
class QueryResult:
    """What one ``run_sql`` call produced (also what ``--json`` reports per tool call)."""

    sql: str                       # as the model wrote it
    executed: str = ""             # the canonical text that ran ("" when refused)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    error: str = ""
    refused: bool = False          # refused by the guard (never reached the server)

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def for_model(self, max_chars: int = 12000) -> str:
        """Compact JSON for the model: columns, rows, truncated — or the error."""
        if self.error:
            return json.dumps({"error": self.error})
        payload: dict[str, Any] = {"columns": self.columns, "rows": self.rows,
                                   "row_count": self.row_count, "truncated": self.truncated}
        if self.truncated:
            payload["note"] = _TRUNCATED_NOTE.format(n=self.row_count)
        text = json.dumps(payload, default=str)
        while len(text) > max_chars and payload["rows"]:
            payload["rows"] = payload["rows"][: max(1, len(payload["rows"]) // 2)]
            payload["truncated"] = True
            payload["row_count"] = len(payload["rows"])
            payload["note"] = _TRUNCATED_NOTE.format(n=payload["row_count"])
            text = json.dumps(payload, default=str)
        return text


#: said to the model with a cut result, so it does not take the rows for all of them
_TRUNCATED_NOTE = ("only the first {n} rows are shown, the query returned more: aggregate, "
                   "filter or add LIMIT")


def plain(value: Any) -> Any:
    """A JSON-safe, bounded version of one cell."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, Decimal):
        return round(float(value), 4)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return value if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


_MISSING_COLUMN = re.compile(r'column "?([\w.]+)"? does not exist')


def explain_error(exc: BaseException, timeout_s: float) -> str:
    """One sentence the model can act on."""
    import psycopg.errors as pe

    if isinstance(exc, pe.QueryCanceled):
        return (f"the query ran longer than {timeout_s:g} s and was cancelled; aggregate, "
                "filter or LIMIT it")
    if isinstance(exc, pe.ConfigurationLimitExceeded):  # temp_file_limit (ddl/032)
        return ("the query needed more temporary space than allowed and was cancelled; "
                "aggregate, filter or LIMIT it")
    if isinstance(exc, pe.InsufficientPrivilege):
        return "permission denied: only sessions, session_notes and ai_practice_plans can be read"
    if isinstance(exc, pe.ReadOnlySqlTransaction):
        return "this is a read-only connection: only SELECT"
    if _TOO_LARGE in str(exc):
        size = str(exc).split(_TOO_LARGE, 1)[1].split('"', 1)[0]
        return (f"a result row is {size} bytes long (at most {MAX_ROW_BYTES}); select fewer "
                "or shorter columns (length(), left(text, 200))")
    diag = getattr(exc, "diag", None)
    primary = (getattr(diag, "message_primary", None) or str(exc)).strip().splitlines()[0]
    hint = getattr(diag, "message_hint", None) or ""
    if isinstance(exc, pe.UndefinedColumn):
        m = _MISSING_COLUMN.search(primary)
        if m:
            name = m.group(1).split(".")[-1]
            known = sorted({c for cols in COLUMNS.values() for c in cols})
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
            text = f"no column {name}"
            if close:
                text += f"; did you mean {' or '.join(close)}?"
            elif hint:
                text += f" ({hint})"
            return text + " (call describe_schema for the columns)"
    text = primary
    if hint:
        text += f" ({hint})"
    return text[:300]


class SqlRunner:
    """Runs checked queries on one user-scoped reader connection (re-opened if it breaks)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], *,
                 max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self.max_rows = int(max_rows)
        self.timeout_s = float(timeout_s)
        self._expected: tuple[str, ...] | None = None
        #: serialises use of the connection (LangGraph may run tool calls in threads)
        self.lock = threading.RLock()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            self._conn.autocommit = True  # we issue BEGIN READ ONLY / ROLLBACK ourselves
            self._expected = _identity(self._conn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None

    def run(self, sql: str) -> QueryResult:
        """Check and run one query; never raises for a bad query (the error is in the
        result), only :class:`ScopeViolation` if the trip-wire fires."""
        result = QueryResult(sql=sql)
        try:
            checked = check_sql(sql)
        except SqlRejected as exc:
            result.error, result.refused = f"refused: {exc}", True
            return result
        result.executed = checked.sql
        import psycopg

        try:
            with self.lock:
                self._execute(checked.sql, result)
        except ScopeViolation:
            self.close()
            raise
        except psycopg.OperationalError as exc:
            self.close()  # broken connection: a fresh one next time
            result.error = explain_error(exc, self.timeout_s)
        except psycopg.Error as exc:
            result.error = explain_error(exc, self.timeout_s)
        return result

    def _execute(self, canonical: str, result: QueryResult) -> None:
        conn = self.conn
        timeout_ms = max(1, int(self.timeout_s * 1000))
        conn.execute("BEGIN READ ONLY")
        try:
            conn.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
            conn.execute("SET LOCAL lock_timeout = 1000")
            conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = {timeout_ms * 4}")
            conn.execute("SET LOCAL search_path = pg_catalog, fretcoach")
            # ``canonical`` is pglast's rendering of exactly one checked SELECT; its shape
            # first (planned, not run), then its rows through the size bound
            shape = conn.execute(f"SELECT * FROM ({canonical}) AS q LIMIT 0")
            names = [d.name for d in shape.description or ()]
            wrapped = bounded_rows(canonical, len(names))
            conn.execute(f"DECLARE {CURSOR} NO SCROLL CURSOR FOR {wrapped}")
            cur = conn.execute(f"FETCH FORWARD {self.max_rows + 1} FROM {CURSOR}")
            rows = cur.fetchall()
            self._tripwire(conn)
        finally:
            if not conn.closed:
                try:
                    conn.execute("ROLLBACK")
                except Exception:
                    conn.close()
        result.columns = names
        result.truncated = len(rows) > self.max_rows
        result.rows = [[plain(v) for v in r] for r in rows[: self.max_rows]]

    def _tripwire(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            now = _identity(conn)
        except psycopg.Error:  # e.g. role reset to fretcoach_agent: no access to the schema
            now = None
        if now != self._expected:
            raise ScopeViolation("the agent's query changed the connection's role or user")


def bounded_rows(canonical: str, n_columns: int) -> str:
    """``canonical`` wrapped so that a row larger than :data:`MAX_ROW_BYTES` raises on the
    server instead of being sent.

    The columns are renamed by position (``q(c0, c1, …)``: names the query chose may repeat)
    and summed with ``pg_column_size`` — a header read, where a whole-row or text rendering of
    a 900 MB value would copy it again for seconds that no timeout interrupts. The error is a
    failed cast of a marker text, which depends on the row so the planner cannot fold it. The
    subquery keeps its ORDER BY (a sorted subquery is not pulled up)."""
    if n_columns == 0:
        return f"SELECT q.* FROM ({canonical}) AS q"
    names = ", ".join(f"c{i}" for i in range(n_columns))
    size = " + ".join(f"coalesce(pg_column_size(q.c{i}), 0)::bigint" for i in range(n_columns))
    return (f"SELECT q.* FROM ({canonical}) AS q({names}) WHERE CASE WHEN {size} > "
            f"{MAX_ROW_BYTES} THEN ('{_TOO_LARGE}' || ({size}))::integer IS NULL ELSE true END")


_IDENTITY = ("SELECT session_user::text, current_user::text, "
             "coalesce(current_setting('fretcoach.user_id', true), ''), "
             "coalesce(fretcoach.agent_scope(), '')")


def _identity(conn: psycopg.Connection[Any]) -> tuple[str, ...]:
    """Who the connection is and whose rows it may see (what the trip-wire compares)."""
    row = conn.execute(_IDENTITY).fetchone()
    assert row is not None
    return tuple(str(v) for v in row)


def allowed_tables() -> list[str]:
    return sorted(ALLOWED_RELATIONS)
