"""Option parsing that must fail before the practice room opens."""

from __future__ import annotations

import pytest

from fretcoach_cli.errors import UsageError
from fretcoach_cli.practice.options import check_unit_range, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("300", 300), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1m 30s", 90), ("2:30", 150),
    ("1:00:00", 3600), ("2.5min", 150),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "0", "5m lots", "-3"])
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_duration(text)


def test_unit_range():
    assert check_unit_range(0.5, "--strictness") == 0.5
    with pytest.raises(UsageError):
        check_unit_range(1.5, "--strictness")
