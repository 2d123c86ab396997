"""Issue 16, first hour: one trend rule for the chat and `recommend`.

Reported: from the same two sessions, the offline chat said "not enough sessions to see a
trend" while `recommend` said "trend −31". Both now take the trend from
``reports.trend`` (the older floor(N/2) sessions against the rest, once there are two), so
they agree on any number of sessions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fretcoach_cli.chat.offline import OfflineResponder
from fretcoach_cli.coach.offline import METRIC_TITLES
from fretcoach_cli.coach.plans import offline_plan, recommendation_input
from fretcoach_cli.reports.filters import build_filter
from fretcoach_cli.reports.stats import practice_stats
from fretcoach_cli.reports.trend import halves, trend_change
from fretcoach_cli.store import Sessions
from test_first_hour_stats import insert

SCORES = (81, 50, 64, 92, 38, 70, 77, 45, 88, 59)


def _play(conn: Any, n: int) -> None:
    start = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    for i in range(n):
        insert(conn, start + timedelta(days=i // 2, hours=i % 2), score=SCORES[i])


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_chat_and_recommend_agree(conn: Any, n: int) -> None:
    _play(conn, n)
    stats = practice_stats(conn, build_filter(timezone="UTC"), today=date(2026, 3, 20))
    chat = OfflineResponder(None).answer_from_stats("how am I doing?", stats.to_dict())  # type: ignore[arg-type]
    data = recommendation_input(Sessions(conn).list(status="completed", limit=20))
    for m in METRIC_TITLES:
        chat_change = stats.metrics[m].change
        rec = data.trend[m]
        if n < 2:
            assert chat_change is None and rec is None
        else:
            assert rec is not None and chat_change is not None, m
            assert rec == pytest.approx(round(chat_change, 1)), (m, n)
    reasoning = offline_plan(data).reasoning
    if n < 2:
        assert "Not enough sessions yet to see a trend" in chat.text
        assert "trend" not in reasoning
    else:
        assert "Not enough sessions" not in chat.text, chat.text
        assert "trend" in reasoning


def test_the_rule() -> None:
    assert halves([]) == (None, None) and halves([70.0]) == (None, 70.0)
    assert halves([60.0, 80.0]) == (60.0, 80.0)
    assert halves([60.0, 70.0, 90.0]) == (60.0, 80.0)  # older floor(3/2) = 1 session
    assert halves([None, 50.0, 70.0, None]) == (50.0, 70.0)
    assert trend_change(60.0, 80.0, scored=2) == pytest.approx(20.0)
    assert trend_change(60.0, 80.0, scored=1) is None
    assert trend_change(None, 80.0, scored=3) is None
