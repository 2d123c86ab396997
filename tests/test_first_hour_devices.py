"""Issue 16, first hour: `devices` without a sound card points at commands that exist.

Reported: the error suggested ``--input FILE`` for `analyze`, which takes the file as its
argument. The hint must name a form every command accepts.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from fretcoach_cli.cli.main import _register_commands, app
from fretcoach_cli.errors import AudioError

_register_commands()
runner = CliRunner()


def _hint(result: Any) -> str:
    assert isinstance(result.exception, AudioError), result.output
    assert result.exception.message == "no audio input device found"
    return result.exception.one_line()


def test_devices_hint_names_analyze_with_its_file_argument(monkeypatch: Any) -> None:
    monkeypatch.setattr("fretcoach_cli.audio.sources.input_devices", lambda: [])
    for args in (["devices"], ["devices", "--json"]):
        line = _hint(runner.invoke(app, args))
        assert "fretcoach analyze FILE" in line, line
        assert "analyse a file with --input" not in line
        assert "practice --input FILE" in line


@pytest.mark.parametrize("args", [["devices", "test", "--seconds", "1"]])
def test_devices_test_hint_too(monkeypatch: Any, args: list[str]) -> None:
    from fretcoach_cli.audio import sources

    class NoMic:
        def __init__(self, *a: Any, **kw: Any) -> None:
            raise AudioError("no audio input device found", hint=sources.NO_DEVICE_HINT)

    monkeypatch.setattr(sources, "MicSource", NoMic)
    line = _hint(runner.invoke(app, args))
    assert "fretcoach analyze FILE" in line and "analyse a file with --input" not in line
