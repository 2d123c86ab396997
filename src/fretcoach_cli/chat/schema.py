"""What the agent may read: tables and columns (here), their meaning and units (the database).

Which tables and columns the agent may query is a decision kept in code (:data:`EXPOSED`: the
SQL guard's column list is built from it, without a database). What each one means lives in
the database as ``COMMENT ON`` (ddl/040_column_comments.sql), read from the catalog by
:func:`read_tables` whenever the agent asks, so a column and its meaning change together in
one migration. Never sample rows: stored free text must not reach the prompt, where it could
carry instructions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

#: The tables the agent may read and, in prompt order, the columns it is told about.
EXPOSED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sessions", (
        "session_id", "start_time", "end_time", "duration_seconds", "scale_chosen",
        "scale_type", "scale_root", "status", "overall_score", "pitch_accuracy",
        "scale_conformity", "timing_stability", "clean_playing", "scale_coverage",
        "weakest_area", "total_notes_played", "correct_notes_played", "bad_notes_played",
        "mean_abs_cents", "in_scale_ratio", "in_tune_ratio", "ioi_cv", "mean_abs_grid_dev_ms",
        "clean_ratio", "tempo_bpm", "strictness", "sensitivity", "pitch_model", "a4_hz",
        "tuning", "practice_id", "ramp", "max_clean_bpm",
    )),
    ("session_notes", (
        "session_id", "seq", "onset_s", "offset_s", "midi", "cents", "pitch_class",
        "note_name", "kind", "in_scale", "in_tune", "confidence", "level_db",
    )),
    ("ai_practice_plans", (
        "practice_id", "generated_at", "status", "session_id", "source", "practice_plan",
    )),
)

#: Columns the agent may know about, by table (used for "did you mean" hints).
COLUMNS: dict[str, tuple[str, ...]] = dict(EXPOSED)

# The short type names the prompt uses for PostgreSQL's format_type() names.
_SHORT_TYPES = {"double precision": "float", "timestamp with time zone": "timestamptz"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str | None = None      # None until read from the catalog
    meaning: str | None = None   # its COMMENT; None until read from the catalog


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str | None
    columns: tuple[Column, ...]


#: The exposed tables and columns by name only (what the system prompt lists); meanings and
#: types come from :func:`read_tables`.
TABLES: tuple[Table, ...] = tuple(
    Table(name, None, tuple(Column(c) for c in cols)) for name, cols in EXPOSED)


class SchemaCommentsMissing(LookupError):
    """An exposed table or column is missing, or has no COMMENT, in the database."""


def read_tables(conn: psycopg.Connection[Any]) -> tuple[Table, ...]:
    """The exposed tables with their types and meanings from the catalog (pg_description).

    Works on any connection, the agent's read-only one included (the catalog is readable by
    every role; names are matched in pg_class, so no USAGE on the schema is needed). Raises
    :class:`SchemaCommentsMissing` when the database lacks a column or a comment, which
    means a migration is missing: the agent is never told a column without its meaning.
    """
    rows = conn.execute("""
        SELECT c.relname, pg_catalog.obj_description(c.oid, 'pg_class'), a.attname,
               pg_catalog.format_type(a.atttypid, a.atttypmod),
               pg_catalog.col_description(c.oid, a.attnum)
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
        WHERE n.nspname = 'fretcoach' AND c.relname = ANY (%s)
          AND a.attnum > 0 AND NOT a.attisdropped""", ([t for t, _ in EXPOSED],)).fetchall()
    tables = {r[0]: r[1] for r in rows}
    cols = {(r[0], r[2]): (_SHORT_TYPES.get(r[3], r[3]), r[4]) for r in rows}
    missing = [t for t, _ in EXPOSED if not tables.get(t)]
    missing += [f"{t}.{c}" for t, names in EXPOSED for c in names
                if not (cols.get((t, c)) or (None, None))[1]]
    if missing:
        raise SchemaCommentsMissing(
            f"no comment in the database for {', '.join(missing)} (run `fretcoach db migrate`)")
    return tuple(Table(t, tables[t], tuple(Column(c, *cols[(t, c)]) for c in names))
                 for t, names in EXPOSED)


def describe(max_rows: int, timeout_s: float,
             conn: psycopg.Connection[Any] | None = None) -> str:
    """The text the ``describe_schema`` tool returns (also summarised in the system prompt).

    ``conn`` (any connection to the database, e.g. the agent's) supplies the meanings; without
    one, or when the catalog lacks them, the columns are listed by name with that said.
    """
    lines = ["PostgreSQL, schema fretcoach. You only ever see the current user's rows.", ""]
    tables = TABLES
    if conn is not None:
        try:
            tables = read_tables(conn)
        except SchemaCommentsMissing as exc:
            lines += [f"(column meanings unavailable: {exc})", ""]
    else:
        lines += ["(column meanings unavailable: no database connection)", ""]
    for table in tables:
        lines.append(f"TABLE {table.name}" + (f" — {table.meaning}" if table.meaning else ""))
        for col in table.columns:
            lines.append(f"  {col.name} {col.type}: {col.meaning}" if col.meaning
                         else f"  {col.name}")
        lines.append("")
    lines += [
        "Rules: one SELECT (WITH … SELECT allowed); aggregates, window, math, date/time, "
        "string and JSON functions; no other tables, no writes, no SET.",
        f"At most {max_rows} rows come back (then 'truncated' is true: aggregate or LIMIT); "
        f"a query running longer than {timeout_s:g} s is cancelled.",
        "Weeks/days: date_trunc('week', start_time AT TIME ZONE '<tz>'). Usually filter "
        "status IN ('completed', 'interrupted').",
    ]
    return "\n".join(lines)
