"""The --on-quality hook: band logic with a fake clock, real subprocesses, and the real CLI."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fretcoach_cli.practice.quality_hook import (
    AMBER_AT,
    GREEN_AT,
    BandGate,
    QualityHook,
    band_of,
    parse_command,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "a_minor_pentatonic_clean.flac"
RECORDER = ("import json, os, sys\n"
            "env = {k: v for k, v in os.environ.items() if k.startswith('FRETCOACH_')}\n"
            "with open(sys.argv[1], 'a') as out:\n"
            "    out.write(json.dumps(env) + '\\n')\n")


def _recorder(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "record_env.py"
    script.write_text(RECORDER)
    out = tmp_path / "bands.jsonl"
    return shlex.join([sys.executable, str(script), str(out)]), out


def _wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _practice(user: str, hook: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user, "practice",
         "--scale", "A minor pentatonic", "--input", str(EXAMPLE), "--no-tui", "--no-coach",
         "--fast", "--json", "--on-quality", hook],
        capture_output=True, text=True, timeout=timeout)


def _hook_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "quality hook" in line]


# -- pure logic ----------------------------------------------------------------------------
@pytest.mark.parametrize(("score", "band"), [
    (None, None), (0.0, "red"), (AMBER_AT - 0.01, "red"), (AMBER_AT, "amber"),
    (GREEN_AT - 0.01, "amber"), (GREEN_AT, "green"), (100.0, "green")])
def test_band_thresholds(score, band):
    assert band_of(score) == band


def test_gate_runs_a_change_once_and_rate_limits_with_latest_band_winning():
    gate = BandGate(min_interval_s=2.0)
    assert gate.take(0.0) is None  # nothing offered
    gate.offer("red", {"FRETCOACH_BAND": "red"})
    first = gate.take(0.0)
    assert first is not None and first.band == "red"
    gate.offer("amber", {})
    assert gate.take(0.5) is None  # still running
    gate.done()
    assert gate.take(0.5) is None  # interval not over
    assert gate.wait_s(0.5) == pytest.approx(1.5)
    gate.offer("green", {})  # the latest band wins over amber
    chosen = gate.take(2.0)
    assert chosen is not None and chosen.band == "green"
    gate.done()
    gate.offer("green", {})  # same band as last run: never run again
    assert gate.take(10.0) is None
    assert gate.wait_s(10.0) is None
    gate.offer("amber", {})
    gate.offer("green", {})  # came back before it was due: nothing to show
    assert gate.take(10.0) is None


def test_gate_with_zero_interval_runs_each_change():
    gate = BandGate(min_interval_s=0.0)
    seen = []
    for band in ("red", "red", "amber", "amber", "green", "red"):
        gate.offer(band, {})
        chosen = gate.take(1.0)
        if chosen is not None:
            seen.append(chosen.band)
            gate.done()
    assert seen == ["red", "amber", "green", "red"]


def test_parse_command_uses_no_shell():
    assert parse_command("sh -c 'echo $FRETCOACH_BAND > x'") == [
        "sh", "-c", "echo $FRETCOACH_BAND > x"]
    for bad in ("", "   ", "echo 'unbalanced"):
        with pytest.raises(ValueError):
            parse_command(bad)


# -- the hook with real subprocesses ------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hook_runs_changes_with_env_and_not_twice_for_a_band(tmp_path):
    command, out = _recorder(tmp_path)
    warnings: list[str] = []
    clock = FakeClock()
    hook = QualityHook(parse_command(command), warn=warnings.append, min_interval_s=5.0,
                       clock=clock)
    hook.offer("red", {"FRETCOACH_BAND": "red", "FRETCOACH_OVERALL": "40"})
    _wait_for(lambda: len(_lines(out)) == 1)
    _wait_for(lambda: not hook._gate.running)
    hook.offer("red", {"FRETCOACH_BAND": "red", "FRETCOACH_OVERALL": "45"})
    hook.offer("amber", {"FRETCOACH_BAND": "amber", "FRETCOACH_OVERALL": "70"})
    hook.offer("green", {"FRETCOACH_BAND": "green", "FRETCOACH_OVERALL": "90"})
    clock.now = 5.0  # the interval passes: the latest band (green) runs, amber never does
    with hook._cond:
        hook._cond.notify()
    _wait_for(lambda: len(_lines(out)) == 2)
    hook.close()
    assert hook.join(10)
    bands = [(row["FRETCOACH_BAND"], row["FRETCOACH_OVERALL"]) for row in _lines(out)]
    assert bands == [("red", "40"), ("green", "90")]
    assert warnings == [] and hook.runs == 2


def test_a_failing_hook_warns_once_however_often_it_fails(tmp_path):
    marks = tmp_path / "runs"
    warnings: list[str] = []
    hook = QualityHook(["sh", "-c", f"echo x >> {shlex.quote(str(marks))}; echo no bulb >&2; "
                        "exit 3"], warn=warnings.append, min_interval_s=0.0)
    for band in ("red", "amber", "green", "red"):
        hook.offer(band, {"FRETCOACH_BAND": band})  # type: ignore[arg-type]
        _wait_for(lambda: not hook._gate.running and hook._gate.pending is None)
    _wait_for(lambda: hook.failures >= 2)
    hook.close()
    assert hook.join(10)
    assert len(warnings) == 1
    assert "failed (exit 3): no bulb" in warnings[0]


def test_a_missing_program_warns_once_and_turns_the_hook_off(tmp_path):
    warnings: list[str] = []
    hook = QualityHook([str(tmp_path / "no-such-bulb")], warn=warnings.append,
                       min_interval_s=0.0)
    hook.offer("red", {})
    _wait_for(lambda: warnings)
    hook.offer("green", {})
    _wait_for(lambda: not hook._gate.running and hook._gate.pending is None)
    hook.close()
    assert hook.join(10)
    assert len(warnings) == 1 and "cannot run" in warnings[0]


def test_a_slow_hook_is_killed_at_its_timeout_without_holding_up_the_caller(tmp_path):
    pid_file = tmp_path / "pid"
    warnings: list[str] = []
    hook = QualityHook(["sh", "-c", f"echo $$ > {shlex.quote(str(pid_file))}; exec sleep 60"],
                       warn=warnings.append, timeout_s=1.0, min_interval_s=0.0)
    started = time.monotonic()
    hook.offer("red", {})
    hook.offer("green", {})  # while it runs: waits, is not started beside it
    assert time.monotonic() - started < 0.2  # offering never waits on the hook
    pid = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    _wait_for(lambda: warnings)
    assert "took over 1 s" in warnings[0]
    assert not _alive(pid)
    hook.close()
    assert hook.join(10)


def test_a_hook_offered_from_many_threads_runs_one_at_a_time(tmp_path):
    log = tmp_path / "log"
    hook = QualityHook(["sh", "-c", f"echo start >> {log}; sleep 0.2; echo end >> {log}"],
                       warn=lambda _line: None, min_interval_s=0.0)

    def offer(band: str) -> None:
        for _ in range(50):
            hook.offer(band, {})  # type: ignore[arg-type]

    threads = [threading.Thread(target=offer, args=(b,)) for b in ("red", "amber", "green")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _wait_for(lambda: not hook._gate.running and hook._gate.pending is None)
    hook.close()
    assert hook.join(10)
    text = log.read_text().split()
    assert text and text == ["start", "end"] * (len(text) // 2)  # never overlapping


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- through the real CLI -------------------------------------------------------------------
def test_practice_sends_the_band_and_live_metrics_to_the_hook(database, user_id, tmp_path):
    command, out = _recorder(tmp_path)
    proc = _practice(user_id, command)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    rows = _wait_for(lambda: _lines(out))
    first = rows[0]
    assert first["FRETCOACH_BAND"] in {"red", "amber", "green"}
    assert first["FRETCOACH_BAND"] == band_of(float(first["FRETCOACH_OVERALL"]))
    assert first["FRETCOACH_SCALE"] == "A minor pentatonic"
    for name in ("FRETCOACH_PITCH_ACCURACY", "FRETCOACH_TIMING_STABILITY",
                 "FRETCOACH_SCALE_CONFORMITY", "FRETCOACH_NOTES"):
        assert name in first
    assert 0 <= float(first["FRETCOACH_PITCH_ACCURACY"]) <= 100
    bands = [row["FRETCOACH_BAND"] for row in rows]
    assert all(a != b for a, b in itertools.pairwise(bands))
    assert _hook_warnings(proc.stderr) == []


def test_practice_survives_a_failing_hook_with_one_warning(database, user_id, tmp_path):
    proc = _practice(user_id, "sh -c 'echo bulb offline >&2; exit 7'")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    warnings = _hook_warnings(proc.stderr)
    assert len(warnings) == 1, proc.stderr
    assert "fretcoach: warning: quality hook 'sh' failed (exit 7): bulb offline" in warnings[0]


def test_practice_survives_a_missing_hook_program(database, user_id, tmp_path):
    proc = _practice(user_id, str(tmp_path / "no-such-bulb"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    assert len(_hook_warnings(proc.stderr)) == 1, proc.stderr


def test_practice_ends_promptly_with_a_slow_hook_and_leaves_nothing_behind(
        database, user_id, tmp_path):
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    proc = _practice(user_id, f"sh -c 'echo $$ > {shlex.quote(str(pid_file))}; exec sleep 60'",
                     timeout=50)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    assert took < 45  # never waits out the 60 s hook
    pid = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    _wait_for(lambda: not _alive(pid))
    warnings = _hook_warnings(proc.stderr)
    assert len(warnings) == 1, proc.stderr
    assert "stopped" in warnings[0]


def test_a_badly_quoted_hook_is_a_usage_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fretcoach_cli.cli.main", "practice", "--scale",
         "A minor pentatonic", "--input", str(EXAMPLE), "--no-tui", "--on-quality",
         "echo 'unbalanced"], capture_output=True, text=True, timeout=60,
        env={**os.environ})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") <= 2 and "--on-quality" in proc.stderr


def test_the_readme_bulb_example_parses_and_maps_each_band(tmp_path):
    import re
    import tomllib

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```toml\n(on_quality = .*?)\n```", readme, re.S)
    assert block is not None
    argv = parse_command(tomllib.loads(block.group(1))["on_quality"])
    assert argv[:2] == ["sh", "-c"] and "curl" in argv[2]
    argv[2] = argv[2].replace("curl -fsS -m 3 -o /dev/null", "echo")  # no bulb here
    urls = {band: subprocess.run(argv, env={**os.environ, "FRETCOACH_BAND": band},
                                 capture_output=True, text=True, check=True).stdout
            for band in ("green", "amber", "red")}
    assert "green=255" in urls["green"] and "red=0" in urls["green"]
    assert "green=140" in urls["amber"] and "green=0" in urls["red"]
