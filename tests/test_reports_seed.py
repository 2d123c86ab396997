"""`db seed`: synthetic history that looks like months of real practice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.reports.filters import build_filter
from fretcoach_cli.reports.seed import seed
from fretcoach_cli.reports.stats import practice_stats


def test_seeded_history_is_realistic(conn: Any, user_id: str) -> None:
    end = datetime(2026, 6, 1, 12, tzinfo=UTC)
    result = seed(conn, user=user_id, sessions=200, notes_per_session=20,
                  timezone="Europe/Berlin", end=end)
    assert (result.sessions, result.plans) == (200, 17)
    notes = conn.execute("SELECT count(*) FROM fretcoach.session_notes").fetchone()[0]
    stored = conn.execute("SELECT sum(total_notes_played) FROM fretcoach.sessions").fetchone()[0]
    assert notes == stored == result.notes
    hours = {r[0] for r in conn.execute(
        "SELECT DISTINCT extract(hour FROM start_time AT TIME ZONE 'Europe/Berlin')::int "
        "FROM fretcoach.sessions")}
    conn.commit()
    assert hours <= set(range(17, 24))  # evening practice, local time
    st = practice_stats(conn, build_filter(timezone="Europe/Berlin", now=end),
                        today=date(2026, 6, 1))
    assert len(st.scales) >= 6 and st.scales[0].scale == "A minor pentatonic"
    assert st.metrics["overall_score"].change > 3            # players improve
    assert st.metrics["overall_score"].slope_per_week > 0
    assert 2 <= st.longest_streak.days < st.totals.days_practised  # streaks break
    assert st.worst_scale in ("B mixolydian", "F# harmonic minor", "D dorian")


def test_db_seed_command(user_id: str, database: Any) -> None:
    _register_commands()
    out = CliRunner().invoke(app, ["--user", user_id, "db", "seed", "-n", "15", "--json",
                                   "--notes-per-session", "4"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert '"sessions": 15' in out.stdout
    assert database.row_counts(user_id)["sessions"] == 15


def test_seed_is_reproducible_and_reports_progress(conn: Any, user_id: str) -> None:
    """Same arguments, same rows (ids too): golden report files depend on it; the batches
    are reported as they are stored."""
    end = datetime(2026, 6, 1, 12, tzinfo=UTC)
    seen: list[list[str]] = []
    for _ in range(2):
        calls: list[tuple[int, int]] = []
        seed(conn, user=user_id, sessions=4100, notes_per_session=2, end=end, random_seed=3,
             progress=lambda done, total, calls=calls: calls.append((done, total)))
        seen.append([str(r[0]) for r in conn.execute(
            "SELECT session_id FROM fretcoach.sessions ORDER BY start_time")])
        conn.execute("DELETE FROM fretcoach.sessions")
        conn.execute("DELETE FROM fretcoach.ai_practice_plans")
        conn.commit()
        assert calls == [(4000, 4100), (4100, 4100)]
    assert seen[0] == seen[1] and len(set(seen[0])) == 4100


def test_one_scan_counts_equal_the_users_own_counts(database: Any, user_id: str) -> None:
    """`db status` counts both columns in one admin scan: each must equal what the user's own
    (row-level secured) connection counts, with another user's rows beside them."""
    other = f"{user_id}-other"
    for who, n in ((user_id, 3), (other, 2)):
        with database.connect(who) as c:
            seed(c, user=who, sessions=n, notes_per_session=4, timezone="UTC",
                 end=datetime(2026, 6, 1, 12, tzinfo=UTC))
            c.commit()
    both = database.row_counts_all_and_user(user_id)
    mine, everyone = database.row_counts(user_id), database.row_counts()
    assert {t: m for t, (_a, m) in both.items()} == mine
    assert {t: a for t, (a, _m) in both.items()} == everyone
    assert mine["sessions"] == 3 and everyone["sessions"] >= 5
    assert all(m is None for _a, m in database.row_counts_all_and_user(None).values())
