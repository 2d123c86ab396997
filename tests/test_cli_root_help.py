"""The root help drawn from the cached list of commands (`cli/listing.py`) is byte-identical
to the one drawn from every command module, imports none of them, and a list that no longer
matches the sources is never used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fretcoach_cli.cli.commands import OWNERS

PROBE = """
import json, sys
from fretcoach_cli.cli import listing
from fretcoach_cli.cli.main import run
try:
    run(sys.argv[1:])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
loaded = sorted(m for m in sys.modules if m.startswith("fretcoach_cli.cli.")
                and m.rsplit(".", 1)[1] in sys.argv[0].split(","))
print(json.dumps({"loaded": loaded, "cache": str(listing.cache_path())}), file=sys.stderr)
"""
MODULES = ",".join({m for owners in OWNERS.values() for m in owners})


def _run(tmp_path: Path, *args: str, write: bool = True, colour: bool = False
         ) -> tuple[str, dict]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "FORCE_COLOR", "NO_COLOR")}
    env.update(PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"), COLUMNS="100")
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if colour:
        env["FORCE_COLOR"] = "1"
    p = subprocess.run([sys.executable, "-c", PROBE.replace("sys.argv[0]", repr(MODULES)),
                        *args], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout, json.loads(p.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["--user", "ann", "--help"]])
def test_the_cached_list_draws_the_same_page(tmp_path: Path, args: list[str]) -> None:
    full, first = _run(tmp_path, *args)  # no list yet: every module, then the list is written
    assert len(first["loaded"]) == len(set(MODULES.split(",")))
    assert Path(first["cache"]).is_file()
    light, second = _run(tmp_path, *args)
    assert second["loaded"] == []
    assert light == full and "history" in light and "Usage: fretcoach" in light


def test_colours_are_the_same_too(tmp_path: Path) -> None:
    full, _ = _run(tmp_path, "--help", colour=True)
    light, info = _run(tmp_path, "--help", colour=True)
    assert info["loaded"] == [] and light == full and "\x1b[" in light


def test_a_stale_or_broken_list_is_not_used(tmp_path: Path) -> None:
    full, info = _run(tmp_path, "--help")
    cache = Path(info["cache"])
    data = json.loads(cache.read_text())
    data["commands"] = [["history", None, "something else", False, False]]
    cache.write_text(json.dumps({**data, "key": "0" * 64}))  # sources changed since
    out, info = _run(tmp_path, "--help")
    assert out == full and info["loaded"]
    assert json.loads(cache.read_text())["key"] == data["key"]  # rewritten
    cache.write_text("{not json")
    out, info = _run(tmp_path, "--help")
    assert out == full and info["loaded"]


def test_no_list_is_written_where_bytecode_may_not_be(tmp_path: Path) -> None:
    full, info = _run(tmp_path, "--help", write=False)
    assert not Path(info["cache"]).exists() and info["loaded"]
    assert _run(tmp_path, "--help")[0] == full


def test_commands_still_run_after_the_list_is_cached(tmp_path: Path) -> None:
    _run(tmp_path, "--help")
    out, info = _run(tmp_path, "scales", "show", "A minor", "--json")
    assert json.loads(out)["scale"] == "A natural minor" and info["loaded"] == [
        "fretcoach_cli.cli.scales"]


def test_every_command_summary_is_one_line() -> None:
    """Typer's rich help keeps a docstring's line breaks: a summary wrapped in the source
    shows as a broken line in every list of commands (export and sync once did)."""
    import click
    import typer

    from fretcoach_cli.cli.commands import register
    from fretcoach_cli.cli.main import app

    register(app)
    broken = []

    def walk(cmd: click.Command, path: str) -> None:
        summary = (cmd.help or "").strip().split("\n\n", 1)[0]
        if "\n" in summary:
            broken.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "fretcoach")
    assert broken == []
