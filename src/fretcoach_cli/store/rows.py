"""Small helpers shared by the repositories: JSON that PostgreSQL accepts, column lists."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from fretcoach_cli.errors import DatabaseError, UsageError

if TYPE_CHECKING:
    import psycopg


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN/±inf become None (jsonb rejects them), dataclasses become dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Path):
        return str(value)
    if isinstance(value, Enum):
        return json_safe(value.value)
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    if hasattr(value, "tolist"):  # numpy arrays
        return json_safe(value.tolist())
    return str(value)


def jsonb(value: Any) -> Any:
    """A psycopg Jsonb parameter holding ``json_safe(value)``."""
    from psycopg.types.json import Jsonb

    return Jsonb(json_safe(value), dumps=lambda v: json.dumps(v, allow_nan=False))


def finite(value: float | None) -> float | None:
    """None for NaN/None; ±inf kept (PostgreSQL double precision stores it)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def columns(cls: type) -> str:
    """Comma-separated column list for a row dataclass whose fields are column names."""
    return ", ".join(f.name for f in dataclasses.fields(cls))


def as_uuid(value: UUID | str, what: str = "id") -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise UsageError(f"{value!r} is not a valid {what}") from None


_C = TypeVar("_C", bound=type)


def translate_errors(what: str) -> Any:
    """Class decorator: psycopg errors from public methods become one-line DatabaseErrors.

    The connection is rolled back first (unless autocommit), so the caller can go on using it.
    The original error stays attached as ``__cause__`` for ``--debug``.
    """

    def wrap(method: Any) -> Any:
        @functools.wraps(method)
        def inner(self: Any, *args: Any, **kwargs: Any) -> Any:
            import psycopg

            try:
                return method(self, *args, **kwargs)
            except psycopg.Error as exc:
                conn = getattr(self, "conn", None)
                if conn is not None and not conn.closed and not conn.autocommit:
                    conn.rollback()
                text = str(exc).strip()
                line = text.splitlines()[0] if text else type(exc).__name__
                raise DatabaseError(f"{what} {method.__name__} failed: {line}") from exc

        return inner

    def decorate(cls: _C) -> _C:
        for name, value in list(vars(cls).items()):
            if callable(value) and not name.startswith("_"):
                setattr(cls, name, wrap(value))
        return cls

    return decorate


def commit(conn: Any) -> None:
    """Commit a repository's write, unless the connection is in autocommit (nothing to
    commit) — so a caller's own transaction is never split."""
    if not conn.autocommit:
        conn.commit()


def rollback(conn: Any) -> None:
    """Undo a failed write, unless the connection is in autocommit."""
    if not conn.autocommit:
        conn.rollback()


class Repository:
    """One table's access on a caller's (user-scoped) connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def _commit(self) -> None:
        commit(self.conn)

    def _rollback(self) -> None:
        rollback(self.conn)
