"""`fretcoach stats`: JSON/CSV shapes, text without colour, charts only when asked/a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from test_reports_stats import TZ, insert_dataset

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
_register_commands()
runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"FRETCOACH_TIMEZONE": TZ},
                         catch_exceptions=False)


@pytest.fixture
def data(conn: Any) -> dict[str, str]:
    return insert_dataset(conn)


def test_stats_json_shape_and_values(user_id: str, data: dict[str, str]) -> None:
    env = {**os.environ, "FRETCOACH_TIMEZONE": TZ}
    out = subprocess.run([FRETCOACH, "--user", user_id, "stats", "--json", "--by", "week"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"filter", "today", "totals", "metrics", "raw", "scales", "best_scale",
                        "worst_scale", "current_streak", "longest_streak", "weakest_area",
                        "by", "buckets", "clean_tempo"}
    assert doc["totals"]["sessions"] == 5 and doc["totals"]["practice_seconds"] == 3600
    assert doc["metrics"]["overall_score"]["mean"] == 70
    assert doc["longest_streak"] == {"days": 3, "first": "2026-01-05", "last": "2026-01-07"}
    assert [(b["key"], b["sessions"]) for b in doc["buckets"]] == [("2026-W02", 4),
                                                                   ("2026-W03", 1)]
    assert doc["weakest_area"]["most_often"] == "timing_stability"
    assert "\x1b[" not in out.stdout and out.stderr == ""


def test_stats_csv_per_metric_and_per_group(user_id: str, data: dict[str, str]) -> None:
    out = invoke("--user", user_id, "stats", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["metric"] for r in rows][:2] == ["overall_score", "pitch_accuracy"]
    assert float(rows[0]["mean"]) == 70 and rows[0]["sessions"] == "5"
    out = invoke("--user", user_id, "stats", "--csv", "--by", "scale", "--since", "2026-01-06")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["key"]: int(r["sessions"]) for r in rows} == {"A minor pentatonic": 2,
                                                            "G major": 2}


def test_stats_text_has_no_charts_unless_asked(user_id: str, data: dict[str, str]) -> None:
    plain = invoke("--user", user_id, "stats", "--scale", "a minor pentatonic")
    assert plain.exit_code == 0
    assert "3 sessions" in plain.stdout and "longest 2" in plain.stdout
    assert "▁" not in plain.stdout and "calendar" not in plain.stdout
    assert "\x1b[" not in plain.stdout
    charts = invoke("--user", user_id, "stats", "--charts", "--until", "2026-01-20")
    assert "practice time per week" in charts.stdout and "calendar" in charts.stdout
    assert any(ch in charts.stdout for ch in "▁▂▃▄▅▆▇█")
    assert "2026-W02  " in charts.stdout and "2026-W04  " in charts.stdout  # up to --until


def test_stats_for_nobody_says_so_on_stderr(user_id: str) -> None:
    out = invoke("--user", user_id, "stats")
    assert out.exit_code == 0 and out.stdout == "" and "no sessions" in out.stderr
