"""Every report, to the byte, on a fixed seeded history: what the commands printed before the
report-speed work (issue 17: indexes, maintained groups, catalog comments) is recorded in
tests/data/reports_golden.json and must not change.

The history is `db seed` with a fixed end and seed (ids included), plus the rows seeding never
makes: a session completed with no notes (reports leave it out), one without a scale and one
just before local midnight in a DST zone. Only the ``today`` field of `stats --json` is
dropped (it is the run's date). Regenerating is a deliberate act that needs a reason in the
commit: ``FRETCOACH_WRITE_GOLDEN=1 pytest tests/test_reports_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app

GOLDEN = Path(__file__).parent / "data" / "reports_golden.json"
USER = "golden-reports"
TZ = "America/New_York"
END = datetime(2026, 6, 1, 12, tzinfo=UTC)

STATS = [
    ["stats", "--json"],
    ["stats", "--json", "--by", "day"],
    ["stats", "--json", "--by", "week"],
    ["stats", "--json", "--by", "month"],
    ["stats", "--json", "--by", "scale"],
    ["stats", "--json", "--since", "2024-01-01"],
    ["stats", "--json", "--since", "2025-03-01", "--until", "2025-11-15", "--by", "week"],
    ["stats", "--json", "--scale", "A minor pentatonic", "--by", "month"],
    ["stats", "--json", "--since", "2026-03-08", "--until", "2026-03-08", "--by", "day"],
    # an instant, not a whole day: the groups are computed from the sessions
    ["stats", "--json", "--since", "2025-06-01T18:30", "--by", "week"],
    ["stats", "--json", "--since", "2031-01-01"],
    ["stats", "--csv"],
    ["stats", "--csv", "--by", "week"],
    ["stats", "--csv", "--by", "scale", "--since", "2025-01-01"],
    ["stats", "--json", "--since", "2026-05-28T19:00", "--until", "2026-05-29T21:00"],
    ["stats", "--json", "--since", "2026-05-14T18:30", "--until", "2026-05-14T23:00",
     "--by", "scale"],
    ["stats", "--csv", "--until", "2026-02-10T18:00", "--by", "month"],
    ["stats", "--charts", "--since", "2025-10-01", "--until", "2026-05-31"],
    ["stats", "--charts", "--by", "week", "--until", "2026-05-31"],
    ["stats", "--charts", "--by", "scale", "--since", "2025-10-01", "--until", "2026-05-31"],
    ["stats", "--no-charts"],
]
HISTORY = [
    ["history", "--json"],
    ["history", "--json", "--limit", "300"],
    ["history", "--csv", "--limit", "50"],
    ["history"],
    ["history", "--limit", "5", "--scale", "G major", "--since", "2026-01-01"],
    ["history", "--json", "--status", "interrupted", "--limit", "30"],
    ["history", "--since", "2025-06-01T18:30", "--until", "2025-06-20"],
    ["history", "--status", "completed", "--limit", "3"],
]


def _prepare(database: Any) -> list[list[str]]:
    """(Re)build the golden user's history; the `sessions show` cases need its ids."""
    from fretcoach_cli.reports.seed import seed

    with database.connect(USER) as conn:
        for table in ("sessions", "ai_practice_plans", "report_zones", "deleted_rows"):
            conn.execute(f"DELETE FROM fretcoach.{table}")
        seed(conn, user=USER, sessions=1500, notes_per_session=15, timezone=TZ, end=END,
             random_seed=17)
        conn.execute("""
            INSERT INTO fretcoach.sessions (session_id, user_id, start_time, end_time,
                duration_seconds, scale_chosen, status, total_notes_played, overall_score,
                pitch_accuracy, updated_at)
            VALUES ('00000000-0000-4000-8000-000000000001', %(u)s, '2026-03-08 03:59:00+00',
                    '2026-03-08 04:09:00+00', 600, 'A minor pentatonic', 'completed', 0,
                    NULL, NULL, '2026-03-08 04:09:00+00'),
                   ('00000000-0000-4000-8000-000000000002', %(u)s, '2026-03-08 04:30:00+00',
                    '2026-03-08 04:40:00+00', 600, NULL, 'completed', 40, 81.5, 90.25,
                    '2026-03-08 04:40:00+00'),
                   ('00000000-0000-4000-8000-000000000003', %(u)s, '2026-03-09 03:58:30+00',
                    '2026-03-09 04:08:30+00', 600.5, 'G major', 'interrupted', 12, 55.0, 61.0,
                    '2026-03-09 04:08:30+00')""", {"u": USER})
        picks = [r[0] for r in conn.execute("""
            SELECT left(session_id::text, 8) FROM (
                SELECT session_id, row_number() OVER (ORDER BY start_time, session_id) AS k
                FROM fretcoach.sessions) s
            WHERE k IN (1, 2, 700, 1501, 1502, 1503) ORDER BY k""")]
        conn.commit()
    shows = [["sessions", "show", "--json", p] for p in picks]
    return [*shows, ["sessions", "show", "--json", "--notes", picks[1]],
            ["sessions", "show", picks[2]],
            ["sessions", "show", "--json", "00000000-0000-4000-8000-000000000002"],
            ["sessions", "show", "--json", "00000000"]]  # ambiguous: exit 2


def _run(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--user", USER, *args],
                                env={"FRETCOACH_TIMEZONE": TZ})
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        # the CLI's own errors reach main()'s handler as exceptions here
        from fretcoach_cli.errors import FretcoachError

        assert isinstance(exc, FretcoachError), result.exc_info
        return {"exit": exc.exit_code, "stdout": result.stdout, "stderr": str(exc)}
    out = result.stdout
    if args[0] == "sessions":  # reply ids come from one identity shared by every test's rows
        out = re.sub(r'"reply_id": \d+', '"reply_id": "N"', out)
        out = re.sub(r"(\d\d:\d\d \w+) #\d+", r"\1 #N", out)
    if "--json" in args and args[0] == "stats" and result.exit_code == 0:
        doc = json.loads(out)
        doc.pop("today")
        out = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return {"exit": result.exit_code, "stdout": out, "stderr": result.stderr}


@pytest.fixture(scope="module")
def outputs(database: Any) -> dict[str, dict[str, Any]]:
    _register_commands()
    cases = [*STATS, *HISTORY, *_prepare(database)]
    return {" ".join(args): _run(args) for args in cases}


def test_reports_match_the_recorded_outputs(outputs: dict[str, dict[str, Any]]) -> None:
    if os.environ.get("FRETCOACH_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(outputs, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(outputs) == sorted(golden)
    for case, want in golden.items():
        assert outputs[case] == want, f"`fretcoach {case}` changed"


def test_golden_history_is_not_trivial(outputs: dict[str, dict[str, Any]]) -> None:
    """The comparison means something: real numbers, every grouping, every path."""
    doc = json.loads(outputs["stats --json --by week"]["stdout"])
    assert doc["totals"]["sessions"] == 1502 and doc["totals"]["days_practised"] > 500
    assert len(doc["buckets"]) > 100 and doc["metrics"]["overall_score"]["change"]
    assert [case for case, o in outputs.items() if o["exit"]] == [
        "sessions show --json 00000000"]
    assert "of 1502 sessions" in outputs["history"]["stderr"]
