"""AI practice plans (table ``ai_practice_plans``) on a user-scoped connection.

A plan is completed when the sessions played with it meet its own targets
(:class:`PlanProgress`): progress is summed from those stored sessions every time, never kept
in a counter that could drift, and :meth:`Plans.settle` is the one place that decides it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.store.rows import Repository, as_uuid, columns, jsonb, translate_errors

PlanStatus = Literal["pending", "in_progress", "completed", "dismissed"]
PlanSource = Literal["model", "offline"]
PLAN_STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed", "dismissed")
OPEN_STATUSES: tuple[str, ...] = ("pending", "in_progress")  # settle() may still move these
# The focus areas a plan can name: each is a 0..100 score column of fretcoach.sessions
# (coach.plans.FOCUS_AREAS; spelled out here because the store sits below the coach).
FOCUS_COLUMNS: tuple[str, ...] = ("pitch_accuracy", "scale_conformity", "timing_stability",
                                  "clean_playing", "scale_coverage")
# Sessions that count toward a plan: played ones (completed or interrupted, not empty), the
# rule of reports.filters.PLAYED_COND; an active session counts once it has finished.
_COUNTED = ("status IN ('completed', 'interrupted') "
            "AND NOT (status = 'completed' AND total_notes_played = 0)")
_TEMPO_SLACK_BPM = 0.5  # a click stored as 119.6 for a 120 BPM target still meets it


def _number(value: Any) -> float | None:
    """A positive finite number from a stored plan document, else None (old or odd docs)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        return None
    return number if 0 < number < float("inf") else None


@dataclass(frozen=True)
class PlanTargets:
    """What a stored plan document asks for: minutes and/or notes (``session_target``), and
    where given a click tempo (``target_tempo_bpm``) and a score of its focus area
    (``target_accuracy``, 0..100)."""

    minutes: float | None = None
    notes: int | None = None
    tempo_bpm: float | None = None
    focus_area: str | None = None
    accuracy: float | None = None

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> PlanTargets:
        doc = doc if isinstance(doc, Mapping) else {}  # a hand-edited document may be anything
        target = doc.get("session_target")
        target = target if isinstance(target, Mapping) else {}
        notes = _number(target.get("notes"))
        focus = doc.get("focus_area")
        accuracy = _number(doc.get("target_accuracy"))
        return cls(minutes=_number(target.get("minutes")) or _number(doc.get("minutes")),
                   notes=None if notes is None else int(notes),
                   tempo_bpm=_number(doc.get("target_tempo_bpm")),
                   focus_area=focus if focus in FOCUS_COLUMNS else None,
                   accuracy=accuracy if focus in FOCUS_COLUMNS and accuracy is not None
                   and accuracy <= 100 else None)


@dataclass(frozen=True)
class PlanProgress:
    """How far the sessions played with a plan got toward its targets."""

    practice_id: UUID
    targets: PlanTargets
    sessions: int = 0  # played ones (completed or interrupted), which count toward the targets
    active: int = 0  # still being played: the plan is started, they count once finished
    seconds: float = 0.0
    notes: int = 0
    best_tempo_bpm: float | None = None  # the fastest click any of its sessions used
    focus_score: float | None = None  # the focus area's score, weighted by notes played

    @property
    def minutes(self) -> float:
        return self.seconds / 60.0

    def checks(self) -> builtins.list[tuple[str, bool]]:
        """Each target the plan sets, as (progress text, met)."""
        t, out = self.targets, []
        if t.minutes is not None:
            out.append((f"{int(self.minutes)} of {t.minutes:g} min", self.minutes >= t.minutes))
        if t.notes is not None:
            out.append((f"{self.notes} of {t.notes} notes", self.notes >= t.notes))
        if t.tempo_bpm is not None:
            best = "no" if self.best_tempo_bpm is None else f"{self.best_tempo_bpm:g}"
            out.append((f"{best} of {t.tempo_bpm:g} BPM", self.best_tempo_bpm is not None
                        and self.best_tempo_bpm >= t.tempo_bpm - _TEMPO_SLACK_BPM))
        if t.accuracy is not None and t.focus_area is not None:
            score = "–" if self.focus_score is None else f"{self.focus_score:.0f}"
            out.append((f"{t.focus_area.replace('_', ' ')} {score} of {t.accuracy:g}",
                        self.focus_score is not None and self.focus_score >= t.accuracy))
        return out

    @property
    def met(self) -> bool:
        """Every target reached; a plan document with no target at all (old vintages) is met
        by one played session."""
        return self.sessions > 0 and all(ok for _, ok in self.checks())

    @property
    def status(self) -> PlanStatus:
        """The status an open (pending or in-progress) plan should have."""
        if self.met:
            return "completed"
        return "in_progress" if self.sessions or self.active else "pending"

    def text(self) -> str:
        """One line, e.g. "9 of 15 min · 412 of 600 notes"."""
        parts = [text for text, _ in self.checks()]
        return " · ".join(parts) if parts else f"{self.sessions} session(s)"

    def to_json(self) -> dict[str, Any]:
        t = self.targets
        return {"sessions": self.sessions, "minutes": round(self.minutes, 2),
                "notes": self.notes, "best_tempo_bpm": self.best_tempo_bpm,
                "focus_area": t.focus_area,
                "focus_score": None if self.focus_score is None else round(self.focus_score, 1),
                "targets": {"minutes": t.minutes, "notes": t.notes, "tempo_bpm": t.tempo_bpm,
                            "accuracy": t.accuracy},
                "met": self.met, "text": self.text()}


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
class Plans(Repository):
    """Create, read and progress practice plans of the connection's user."""


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

    def latest_open(self) -> PlanRow | None:
        """The newest plan still to be played: pending, or in progress toward its targets."""
        rows = self._select("WHERE status IN ('pending', 'in_progress') "
                            "ORDER BY generated_at DESC LIMIT 1", ())
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

    def progress(self, rows: Iterable[PlanRow]) -> dict[UUID, PlanProgress]:
        """Progress of each plan, summed from the played sessions that carry its id (one query
        for all of them)."""
        rows = builtins.list(rows)
        if not rows:
            return {}
        ok = f"FILTER (WHERE {_COUNTED})"
        weighted = ", ".join(
            f"sum({c} * total_notes_played) {ok} / nullif(sum(total_notes_played) "
            f"FILTER (WHERE {_COUNTED} AND {c} IS NOT NULL), 0)" for c in FOCUS_COLUMNS)
        found = {r[0]: r[1:] for r in self.conn.execute(
            f"SELECT practice_id, count(*) {ok}, count(*) FILTER (WHERE status = 'active'), "
            f"coalesce(sum(duration_seconds) {ok}, 0), "
            f"coalesce(sum(total_notes_played) {ok}, 0), max(tempo_bpm) {ok}, {weighted} "
            "FROM fretcoach.sessions WHERE practice_id = ANY(%s) "
            "GROUP BY practice_id", ([r.practice_id for r in rows],)).fetchall()}
        out: dict[UUID, PlanProgress] = {}
        for r in rows:
            targets = PlanTargets.of(r.practice_plan)
            got = found.get(r.practice_id)
            if got is None:
                out[r.practice_id] = PlanProgress(r.practice_id, targets)
                continue
            scores = dict(zip(FOCUS_COLUMNS, got[5:], strict=True))
            focus = scores.get(targets.focus_area) if targets.focus_area else None
            out[r.practice_id] = PlanProgress(
                r.practice_id, targets, sessions=int(got[0]), active=int(got[1]),
                seconds=float(got[2]), notes=int(got[3]),
                best_tempo_bpm=None if got[4] is None else float(got[4]),
                focus_score=None if focus is None else float(focus))
        return out

    def settle(self, practice_id: UUID | str) -> PlanProgress:
        """Bring an open plan's status in line with its sessions (after one finished or was
        discarded): completed once its targets are met, in progress while some were played,
        pending when none are left. Completed and dismissed plans are left as they are."""
        row = self.require(practice_id)
        progress = self.progress([row])[row.practice_id]
        if row.status in OPEN_STATUSES and progress.status != row.status:
            self.set_status(row.practice_id, progress.status)
        return progress

    # builtins.list: inside the class body `list` is the method above.
    def _select(self, tail: str, params: Any) -> builtins.list[PlanRow]:
        from psycopg.rows import class_row

        with self.conn.cursor(row_factory=class_row(PlanRow)) as cur:
            cur.execute(f"SELECT {columns(PlanRow)} FROM fretcoach.ai_practice_plans {tail}",
                        params)
            return cur.fetchall()
