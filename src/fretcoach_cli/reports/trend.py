"""The one trend rule: the newer sessions against the older ones.

Sessions are ordered oldest first (start time, then id); the older half is the first
floor(N/2) of them and the newer half the rest, so with two sessions each half holds one.
A metric's trend is the newer half's mean minus the older half's, in score points — none
until ``MIN_SESSIONS`` sessions have that score and each half has one. `stats` (and the
chat, which reads its figures) computes the same split in SQL (``reports.stats``: whole
days from the day groups, the day the split falls in from its sessions); `recommend`
applies it here to the rows it read. One rule, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

MIN_SESSIONS = 2
# Changes smaller than this (score points) read as "holding steady".
STEADY_POINTS = 1.0


def split_at(sessions: int) -> int:
    """How many of ``sessions`` (oldest first) form the older half."""
    return max(sessions, 0) // 2


def halves(values_oldest_first: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean score of the older and the newer half (None: no score in that half)."""
    k = split_at(len(values_oldest_first))

    def mean(part: Sequence[float | None]) -> float | None:
        xs = [float(v) for v in part if v is not None]
        return statistics.fmean(xs) if xs else None

    return mean(values_oldest_first[:k]), mean(values_oldest_first[k:])


def trend_change(first_half: float | None, second_half: float | None, *,
                 scored: int) -> float | None:
    """Newer minus older half; None with fewer than MIN_SESSIONS scored sessions or an
    unscored half."""
    if scored < MIN_SESSIONS or first_half is None or second_half is None:
        return None
    return second_half - first_half


def verdict(change: float | None, what: str = "overall score") -> str:
    """One sentence about a change, the same words wherever a trend is told."""
    if change is None:
        return "Not enough sessions yet to see a trend."
    if change >= STEADY_POINTS:
        return f"You're improving: your {what} is up {change:.1f} points."
    if change <= -STEADY_POINTS:
        return f"Your {what} slipped {-change:.1f} points recently."
    return f"Your {what} is holding steady."
