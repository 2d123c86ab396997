"""New ids for an export imported by another user (`fretcoach import` of someone else's file).

Session, plan, reply and chat-thread ids are keys of the whole database, not of one user: a
copy of another player's history under the same ids would collide with their rows (which
row-level security hides). So when the file's ``user`` is not the importing user, every id is
replaced by a uuid derived from (importing user, old id) — the same every time, so importing
the file twice still adds nothing, and every reference (a note's, verdict's or reply's
session, a plan's session and a session's plan, a rating's reply, a reply's chat thread) is
rewritten with the same function and stays attached to its row.
"""

from __future__ import annotations

import uuid
from typing import Any

from fretcoach_cli.reports import carry

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://fretcoach/import")
ID_KEYS = ("session_id", "practice_id", "reply_uuid", "thread_id")
_NESTED = ("coach_replies", "exercise_verdicts")  # a session's own rows


def new_id(user: str, old: str) -> str:
    """The id ``old`` gets when ``user`` imports it."""
    return str(uuid.uuid5(_NAMESPACE, f"{user}\n{old}"))


def _row(row: Any, user: str) -> Any:
    if not isinstance(row, dict):
        return row  # left for the import to reject
    out = dict(row)
    for key in ID_KEYS:
        if isinstance(out.get(key), str):
            out[key] = new_id(user, out[key])
    for key in _NESTED:
        if isinstance(out.get(key), list):
            out[key] = [_row(r, user) for r in out[key]]
    return out


def for_user(data: dict[str, Any], user: str) -> dict[str, Any]:
    """A copy of the export ``data`` with every id replaced for ``user``."""
    out = dict(data)
    for key in ("plans", "sessions", "coach_replies", *(t.table for t in carry.STANDALONE)):
        if isinstance(out.get(key), list):
            out[key] = [_row(r, user) for r in out[key]]
    out["user"] = user
    return out
