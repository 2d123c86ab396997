"""Dates as guitarists type them, resolved in the user's time zone.

Days, weeks and streaks are calendar days where the player lives, not UTC days: a session
at 23:30 in Los Angeles belongs to that evening. So every bound is computed as a local
calendar day and turned into an aware datetime; SQL buckets with ``AT TIME ZONE`` using the
same IANA name.

Accepted forms: ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS][±HH:MM]`` (local if naive),
``today``, ``yesterday``, ``Nd`` / ``Nw`` / ``Nm`` (the last N days / weeks / months,
today included). ``--since`` gives the first instant of that day; ``--until`` is inclusive
of its whole day (it returns the first instant of the *next* day, used as an exclusive
upper bound).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fretcoach_cli.errors import UsageError

_RELATIVE = re.compile(r"^(\d{1,4})\s*([dwm])$")
_FORMS = "use YYYY-MM-DD, today, yesterday, or Nd/Nw/Nm such as 7d, 4w, 3m"


def system_timezone_name() -> str:
    """The IANA name of the system zone (TZ, /etc/timezone, /etc/localtime), else UTC.

    PostgreSQL needs a *name* (a fixed offset would get DST wrong), so the usual
    ``datetime.now().astimezone()`` is not enough.
    """
    env = os.environ.get("TZ", "").lstrip(":")
    if env and _valid(env):
        return env
    try:
        text = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if text and _valid(text):
            return text
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if _valid(name):
                return name
    except OSError:
        pass
    return "UTC"


def _valid(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve_timezone(name: str | None) -> str:
    """The configured zone name (validated), or the system one when empty."""
    if not name:
        return system_timezone_name()
    if not _valid(name):
        raise UsageError(f"unknown time zone {name!r}",
                         hint="use an IANA name such as Europe/Paris or America/New_York")
    return name


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    for dd in (day.day, 30, 29, 28):
        try:
            return date(year, month, dd)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def parse_day_or_instant(text: str, *, tz: tzinfo, today: date,
                         option: str = "date") -> tuple[date | None, datetime | None]:
    """(calendar day, None) for day forms, (None, exact instant) for datetimes."""
    raw = text.strip().lower()
    if raw == "today":
        return today, None
    if raw == "yesterday":
        return today - timedelta(days=1), None
    m = _RELATIVE.match(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if n < 1:
            raise UsageError(f"bad {option} {text!r}: the count must be at least 1",
                             hint=_FORMS)
        if unit == "d":
            return today - timedelta(days=n - 1), None
        if unit == "w":
            return today - timedelta(days=7 * n - 1), None
        return _months_back(today, n) + timedelta(days=1), None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw), None
        except ValueError:
            raise UsageError(f"bad {option} {text!r}: no such day", hint=_FORMS) from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?",
                    raw):
        try:
            moment = datetime.fromisoformat(raw.upper().replace(" ", "T"))
        except ValueError:
            raise UsageError(f"bad {option} {text!r}: no such time", hint=_FORMS) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return None, moment
    raise UsageError(f"bad {option} {text!r}", hint=_FORMS)


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of aware datetimes; either side may be open."""

    start: datetime | None
    end: datetime | None
    timezone: str

    def as_dict(self) -> dict[str, str | None]:
        return {"since": self.start.isoformat() if self.start else None,
                "until": self.end.isoformat() if self.end else None,
                "timezone": self.timezone}


def now_in(tz_name: str) -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(tz_name))


def parse_period(since: str | None, until: str | None, *, timezone: str,
                 now: datetime | None = None) -> Period:
    """Turn --since/--until text into a Period in ``timezone`` (an IANA name).

    Raises UsageError (exit 2) with one line for anything it cannot read, and when the
    period is empty (since after until).
    """
    tz = ZoneInfo(timezone)
    current = (now or datetime.now(UTC)).astimezone(tz)
    today = current.date()
    start: datetime | None = None
    end: datetime | None = None
    if since:
        day, moment = parse_day_or_instant(since, tz=tz, today=today, option="--since")
        start = moment if day is None else _local_midnight(day, tz)
    if until:
        day, moment = parse_day_or_instant(until, tz=tz, today=today, option="--until")
        end = moment if day is None else _local_midnight(day + timedelta(days=1), tz)
    if start is not None and end is not None and start >= end:
        raise UsageError(f"--since {since} is not before --until {until}",
                         hint="the period is empty")
    return Period(start, end, timezone)
