"""Coach replies (live tips, closing words, plans, chat answers) and the player's ratings.

Every reply carries two ids: ``reply_id`` (a small number, what the player types:
`fretcoach rate 42 +`) and ``reply_uuid`` (made by the writer before the reply is stored:
session replies travel through the journal and land later, and the practice room may rate a
tip before its row exists). Ratings live in ``coach_ratings`` keyed by the uuid; rating again
replaces the earlier one. Row-level security scopes both tables to the connection's user.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.rows import commit

KINDS = ("live", "summary", "plan", "chat")
_ME = "current_setting('fretcoach.user_id')"
_COLUMNS = ("r.reply_id, r.reply_uuid, r.session_id, r.thread_id, r.kind, r.text, r.source, "
            "r.prompt_name, r.prompt_version, r.trace_id, r.at, g.rating, g.comment, "
            "g.opik_sent_at")
_FROM = ("fretcoach.coach_replies r "
         "LEFT JOIN fretcoach.coach_ratings g ON g.reply_uuid = r.reply_uuid")


@dataclass(frozen=True)
class ReplyRow:
    reply_id: int
    reply_uuid: UUID
    session_id: UUID | None
    thread_id: str | None
    kind: str
    text: str
    source: str
    prompt_name: str | None
    prompt_version: str | None
    trace_id: str | None
    at: datetime
    rating: int | None = None
    comment: str | None = None
    opik_sent_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reply_id": self.reply_id, "reply_uuid": str(self.reply_uuid),
                "session_id": str(self.session_id) if self.session_id else None,
                "thread_id": self.thread_id, "kind": self.kind, "text": self.text,
                "model": self.source, "prompt": self.prompt_name,
                "prompt_version": self.prompt_version, "trace_id": self.trace_id,
                "at": self.at.isoformat(), "rating": self.rating, "comment": self.comment}


def new_uuid() -> str:
    """A reply's identity, made before the reply is stored."""
    return str(uuidlib.uuid4())


def parse_rating(value: str) -> int:
    """``+``/``up``/``1`` → 1, ``-``/``down``/``-1`` → -1; anything else is a UsageError."""
    v = value.strip().lower()
    if v in ("+", "up", "1", "+1", "good", "👍"):
        return 1
    if v in ("-", "down", "-1", "bad", "👎"):
        return -1
    raise UsageError(f"rating must be + or - (up/down), not {value!r}")


def record(conn: Any, *, kind: str, text: str, source: str, prompt_name: str | None = None,
           prompt_version: str | None = None, session_id: Any = None,
           thread_id: str | None = None, trace_id: str | None = None,
           reply_uuid: str | None = None, at: datetime | None = None) -> int:
    """Store one reply and return its ``reply_id``. Idempotent on ``reply_uuid`` (a journal
    replayed after a crash stores nothing twice); also skips the same session reply written
    before replies had uuids (same session, time, kind and text)."""
    if kind not in KINDS:
        raise ValueError(f"unknown reply kind {kind!r}")
    ref = reply_uuid or new_uuid()
    row = conn.execute(
        f"""
        INSERT INTO fretcoach.coach_replies (reply_uuid, session_id, user_id, at, source, kind,
                                             text, thread_id, prompt_name, prompt_version,
                                             trace_id)
        SELECT %s, %s, {_ME}, coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s
         WHERE NOT EXISTS (SELECT 1 FROM fretcoach.coach_replies
                            WHERE %s::uuid IS NOT NULL AND session_id = %s AND at = %s
                              AND kind = %s AND text = %s)
        ON CONFLICT (reply_uuid) DO NOTHING
        RETURNING reply_id
        """,
        (ref, session_id, at, source or "offline", kind, text, thread_id, prompt_name,
         prompt_version, trace_id, session_id, session_id, at, kind, text)).fetchone()
    if row is None:  # already there
        row = conn.execute("SELECT reply_id FROM fretcoach.coach_replies WHERE reply_uuid = %s",
                           (ref,)).fetchone()
    commit(conn)
    return int(row[0]) if row else 0


def get(conn: Any, ref: str | int) -> ReplyRow:
    """A reply by its number (``42``, ``#42``) or its uuid (or the uuid's first 8+ chars)."""
    text = str(ref).strip().removeprefix("#")
    args: tuple[Any, ...]
    if text.isdigit():
        where, args = "r.reply_id = %s", (int(text),)
    elif len(text) >= 8 and all(c in "0123456789abcdef-" for c in text.lower()):
        where, args = "r.reply_uuid::text LIKE %s", (text.lower() + "%",)
    else:
        raise UsageError(f"not a reply id: {ref!r}", hint="a number such as 42 (see --json "
                         "outputs' reply_id) or --last")
    rows = _select(conn, where, args, limit=2)
    if not rows:
        raise NotFoundError(f"no coach reply {ref}")
    if len(rows) > 1:
        raise UsageError(f"reply id {ref!r} is ambiguous", hint="give more characters")
    return rows[0]


def by_uuid(conn: Any, reply_uuid: str) -> ReplyRow | None:
    rows = _select(conn, "r.reply_uuid = %s", (reply_uuid,), limit=1)
    return rows[0] if rows else None


def latest(conn: Any, kind: str | None = None) -> ReplyRow | None:
    """The user's most recent reply (of ``kind`` when given)."""
    if kind is None:
        rows = _select(conn, "true", (), limit=1)
    else:
        rows = _select(conn, "r.kind = %s", (kind,), limit=1)
    return rows[0] if rows else None


def of_session(conn: Any, session_id: str | UUID, *, limit: int
               ) -> tuple[list[ReplyRow], int]:
    """A session's newest ``limit`` replies, newest first, and how many it has in all."""
    rows = _select(conn, "r.session_id = %s", (session_id,), limit=limit)
    if len(rows) < limit:
        return rows, len(rows)
    total = conn.execute("SELECT count(*) FROM fretcoach.coach_replies WHERE session_id = %s",
                         (session_id,)).fetchone()[0]
    commit(conn)
    return rows, int(total)


def _select(conn: Any, where: str, args: tuple[Any, ...], *, limit: int) -> list[ReplyRow]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE {where} "
                        "ORDER BY r.at DESC, r.reply_id DESC LIMIT %s", (*args, limit)).fetchall()
    commit(conn)
    return [ReplyRow(*r) for r in rows]


def rate(conn: Any, reply_uuid: str | UUID, rating: int, comment: str | None = None) -> None:
    """Store (or replace) the rating of one reply. The reply need not be stored yet: a live tip
    rated in the practice room may still be on its way through the session journal."""
    if rating not in (-1, 1):
        raise UsageError("rating must be +1 or -1")
    conn.execute(
        f"""
        INSERT INTO fretcoach.coach_ratings (reply_uuid, user_id, rating, comment)
        VALUES (%s, {_ME}, %s, %s)
        ON CONFLICT (reply_uuid) DO UPDATE
           SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, rated_at = now(),
               opik_sent_at = NULL
        """, (str(reply_uuid), rating, comment or None))
    commit(conn)


def mark_sent(conn: Any, reply_uuid: str | UUID) -> None:
    """The rating reached Opik."""
    conn.execute("UPDATE fretcoach.coach_ratings SET opik_sent_at = now() "
                 "WHERE reply_uuid = %s", (str(reply_uuid),))
    commit(conn)


def ratings_by_version(conn: Any, prompt_name: str) -> dict[str, tuple[int, int]]:
    """``{version: (ups, downs)}`` for the user's rated replies of one prompt."""
    rows = conn.execute(
        f"SELECT r.prompt_version, count(*) FILTER (WHERE g.rating > 0), "
        f"count(*) FILTER (WHERE g.rating < 0) FROM {_FROM} "
        "WHERE r.prompt_name = %s AND g.rating IS NOT NULL GROUP BY r.prompt_version",
        (prompt_name,)).fetchall()
    commit(conn)
    return {str(v): (int(up), int(down)) for v, up, down in rows if v}

