"""AI practice plans (table ``ai_practice_plans``) on a user-scoped connection."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.rows import as_uuid, columns, jsonb, translate_errors

if TYPE_CHECKING:
    import psycopg

PlanStatus = Literal["pending", "in_progress", "completed", "dismissed"]
PlanSource = Literal["model", "offline"]
PLAN_STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed", "dismissed")


@dataclass(frozen=True)
class PlanRow:
    practice_id: UUID
    user_id: str
    generated_at: datetime
    practice_plan: dict[str, Any]
    status: PlanStatus
    session_id: UUID | None
    source: PlanSource
    prompt_version: str | None
    updated_at: datetime


@translate_errors("plans")
class Plans:
    """Create, read and progress practice plans of the connection's user."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def create(self, plan: Mapping[str, Any] | Any, *, source: PlanSource = "offline",
               prompt_version: str | None = None,
               session_id: UUID | str | None = None) -> UUID:
        if source not in ("model", "offline"):
            raise UsageError(f"unknown plan source {source!r}")
        row = self.conn.execute(
            "INSERT INTO fretcoach.ai_practice_plans "
            "(user_id, practice_plan, source, prompt_version, session_id) "
            "VALUES (current_setting('fretcoach.user_id'), %s, %s, %s, %s) "
            "RETURNING practice_id",
            (jsonb(plan), source, prompt_version,
             None if session_id is None else as_uuid(session_id, "session id")),
        ).fetchone()
        assert row is not None
        self._commit()
        return row[0]

    def get(self, practice_id: UUID | str) -> PlanRow | None:
        rows = self._select("WHERE practice_id = %s", (as_uuid(practice_id, "plan id"),))
        return rows[0] if rows else None

    def require(self, practice_id: UUID | str) -> PlanRow:
        row = self.get(practice_id)
        if row is None:
            raise NotFoundError(f"no practice plan {practice_id}")
        return row

    def latest_pending(self) -> PlanRow | None:
        rows = self._select("WHERE status = 'pending' ORDER BY generated_at DESC LIMIT 1", ())
        return rows[0] if rows else None

    def list(self, *, status: PlanStatus | None = None, limit: int | None = 20) -> list[PlanRow]:
        where = ""
        params: builtins.list[object] = []
        if status is not None:
            where = "WHERE status = %s"
            params.append(status)
        sql = f"{where} ORDER BY generated_at DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        return self._select(sql, params)

    def set_status(self, practice_id: UUID | str, status: PlanStatus) -> PlanRow:
        if status not in PLAN_STATUSES:
            raise UsageError(f"unknown plan status {status!r}",
                             hint=f"one of {', '.join(PLAN_STATUSES)}")
        pid = as_uuid(practice_id, "plan id")
        cur = self.conn.execute(
            "UPDATE fretcoach.ai_practice_plans SET status = %s, updated_at = now() "
            "WHERE practice_id = %s", (status, pid))
        if cur.rowcount == 0:
            self._rollback()
            raise NotFoundError(f"no practice plan {pid}")
        self._commit()
        return self.require(pid)

    def link_session(self, practice_id: UUID | str, session_id: UUID | str) -> None:
        """Record that a session practised this plan (both directions) and mark it in progress
        if it was pending."""
        pid = as_uuid(practice_id, "plan id")
        sid = as_uuid(session_id, "session id")
        cur = self.conn.execute(
            "UPDATE fretcoach.ai_practice_plans SET session_id = %s, updated_at = now(), "
            "status = CASE WHEN status = 'pending' THEN 'in_progress' ELSE status END "
            "WHERE practice_id = %s", (sid, pid))
        if cur.rowcount == 0:
            self._rollback()
            raise NotFoundError(f"no practice plan {pid}")
        cur = self.conn.execute(
            "UPDATE fretcoach.sessions SET practice_id = %s, updated_at = now() "
            "WHERE session_id = %s", (pid, sid))
        if cur.rowcount == 0:
            self._rollback()
            raise NotFoundError(f"no session {sid}")
        self._commit()

    # builtins.list: inside the class body `list` is the method above.
    def _select(self, tail: str, params: Any) -> builtins.list[PlanRow]:
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(PlanRow)) as cur:
            cur.execute(f"SELECT {columns(PlanRow)} FROM fretcoach.ai_practice_plans {tail}",
                        params)
            return cur.fetchall()

    def _commit(self) -> None:
        if not self.conn.autocommit:
            self.conn.commit()

    def _rollback(self) -> None:
        if not self.conn.autocommit:
            self.conn.rollback()
