"""Chat threads of the connection's user (table ``chat_threads``, row-level security).

The conversation itself lives in LangGraph's checkpoint tables, which carry no user; this
table is the door to it: a thread id is accepted only if the user's own row exists.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    import psycopg

TITLE_CHARS = 60
_ID_PREFIX = re.compile(r"^[0-9a-fA-F-]{4,36}$")


@dataclass(frozen=True)
class ThreadRow:
    thread_id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    model: str | None
    turns: int


def title_from(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


class Threads:
    """Create, find and list threads on a user-scoped (app role) connection."""

    _COLS = "thread_id, title, created_at, updated_at, model, turns"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def create(self, title: str | None = None) -> str:
        row = self.conn.execute(
            "INSERT INTO fretcoach.chat_threads (user_id, title) "
            "VALUES (current_setting('fretcoach.user_id'), %s) RETURNING thread_id",
            (title,)).fetchone()
        self._commit()
        assert row is not None
        return str(row[0])

    def touch(self, thread_id: str, *, model: str | None, title: str | None = None) -> None:
        """One more turn answered by ``model``; sets the title if the thread has none."""
        self.conn.execute(
            "UPDATE fretcoach.chat_threads SET updated_at = now(), turns = turns + 1, "
            "model = coalesce(%s, model), title = coalesce(title, %s) WHERE thread_id = %s",
            (model, title, thread_id))
        self._commit()

    def get(self, thread_id: str) -> ThreadRow | None:
        rows = self._select("WHERE thread_id = %s", (thread_id,))
        return rows[0] if rows else None

    def find(self, text: str) -> ThreadRow:
        """A thread by full id or unique prefix (as `/threads` shows them)."""
        text = text.strip()
        if not text:
            raise UsageError("which thread?", hint="give an id from /threads")
        exact = self.get(text)
        if exact is not None:
            return exact
        if not _ID_PREFIX.match(text):
            raise NotFoundError(f"no chat thread {text!r}")
        rows = self._select("WHERE thread_id LIKE %s ORDER BY updated_at DESC LIMIT 2",
                            (text.lower() + "%",))
        if not rows:
            raise NotFoundError(f"no chat thread {text!r}", hint="see /threads")
        if len(rows) > 1:
            raise UsageError(f"thread prefix {text!r} is ambiguous", hint="type more of the id")
        return rows[0]

    def list(self, limit: int = 20) -> list[ThreadRow]:
        return self._select("ORDER BY updated_at DESC LIMIT %s", (int(limit),))

    # builtins.list: inside the class body `list` is the method above.
    def _select(self, tail: str, params: Any) -> builtins.list[ThreadRow]:
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(ThreadRow)) as cur:
            cur.execute(f"SELECT {self._COLS} FROM fretcoach.chat_threads {tail}", params)
            rows = cur.fetchall()
        self._commit()
        return rows

    def _commit(self) -> None:
        if not self.conn.autocommit:
            self.conn.commit()
