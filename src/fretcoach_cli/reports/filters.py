"""Which sessions a report looks at: a period, a scale, a status — as SQL conditions.

The conditions are written so PostgreSQL can use ``sessions_user_start_idx``
(user_id, start_time DESC) and ``sessions_user_scale_start_idx``: the user comes from the
connection's ``fretcoach.user_id`` setting (the same one row-level security checks), the
period is a half-open range on ``start_time`` and the scale is an equality on
``scale_chosen``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.errors import UsageError
from fretcoach_cli.reports.dates import Period, parse_period, resolve_timezone

STATUSES = ("completed", "interrupted", "active")

# The user-scoping condition: equal to the RLS policy, spelled out so the planner can use it
# as an index condition.
USER_COND = "user_id = current_setting('fretcoach.user_id', true)"
# A session finished before any note was played is not practice: reports leave it out
# (new ones are not even stored; older rows may remain). Interrupted sessions count until
# they are recovered, which counts their notes. ddl/012 applies the same rule to the day
# groups of `stats`.
PLAYED_COND = "NOT (status = 'completed' AND total_notes_played = 0)"


def counts_as_practice(status: str | None, total_notes_played: int | None) -> bool:
    """The Python side of PLAYED_COND, for rows already read (``recommend``)."""
    return not (status in (None, "completed") and total_notes_played == 0)


def normalise_scale(text: str) -> str:
    """The stored ``scale_chosen`` display name for what the user typed ("a min pent")."""
    from fretcoach_cli.music.scales import parse_scale

    return parse_scale(text).display_name


def check_status(text: str | None) -> tuple[str, ...] | None:
    """Validate --status: one of STATUSES, "all", or a comma list; None means default."""
    if text is None or text == "":
        return None
    if text == "all":
        return STATUSES
    wanted = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    bad = [w for w in wanted if w not in STATUSES]
    if bad or not wanted:
        raise UsageError(f"unknown status {text!r}",
                         hint=f"use {', '.join(STATUSES)} or all")
    return wanted


@dataclass(frozen=True)
class SessionFilter:
    """A selection of one user's sessions; ``statuses`` None means the caller's default."""

    period: Period
    scale: str | None = None
    statuses: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def timezone(self) -> str:
        return self.period.timezone

    def where(self, default_statuses: tuple[str, ...] = STATUSES,
              alias: str = "", *, played_only: bool = True) -> tuple[str, dict[str, Any]]:
        """SQL conditions (joined with AND) and their bound parameters; ``played_only``
        leaves out sessions finished with no notes (PLAYED_COND)."""
        p = f"{alias}." if alias else ""
        conds = [f"{p}{USER_COND}"]
        if played_only:
            conds.append(f"NOT ({p}status = 'completed' AND {p}total_notes_played = 0)")
        params: dict[str, Any] = {}
        if self.period.start is not None:
            conds.append(f"{p}start_time >= %(f_since)s")
            params["f_since"] = self.period.start
        if self.period.end is not None:
            conds.append(f"{p}start_time < %(f_until)s")
            params["f_until"] = self.period.end
        if self.scale is not None:
            conds.append(f"{p}scale_chosen = %(f_scale)s")
            params["f_scale"] = self.scale
        statuses = self.statuses or default_statuses
        if set(statuses) != set(STATUSES):
            conds.append(f"{p}status = ANY(%(f_status)s)")
            params["f_status"] = list(statuses)
        return " AND ".join(conds), params

    def as_dict(self) -> dict[str, Any]:
        return {**self.period.as_dict(), "scale": self.scale,
                "status": list(self.statuses) if self.statuses else None}


def build_filter(*, since: str | None = None, until: str | None = None,
                 scale: str | None = None, status: str | None = None,
                 timezone: str | None = None, now: Any = None) -> SessionFilter:
    """From user text (CLI flags or the chat agent's tool arguments) to a SessionFilter.

    Raises UsageError (exit 2) for bad dates, unknown scales, statuses or time zones.
    """
    tz = resolve_timezone(timezone)
    period = parse_period(since, until, timezone=tz, now=now)
    return SessionFilter(period, normalise_scale(scale) if scale else None,
                         check_status(status))


def day_group_conditions(flt: SessionFilter, first: Any, last: Any,
                         params: dict[str, Any]) -> list[str]:
    """WHERE conditions selecting the user's per-day groups (``report_days``) of the
    filter's whole local days ``first``…``last`` (None: open) and scale; fills ``params``."""
    params["tz"] = flt.timezone
    conds = ["user_id = current_setting('fretcoach.user_id', true)", "tz = %(tz)s"]
    if first is not None:
        conds.append("day >= %(d_first)s")
        params["d_first"] = first
    if last is not None:
        conds.append("day <= %(d_last)s")
        params["d_last"] = last
    if flt.scale is not None:
        conds.append("scale = %(f_scale)s")
        params["f_scale"] = flt.scale
    return conds
