"""Help pages are drawn by typer's rich help without rich.markdown and rich.traceback
(`cli/rich_help.py`), byte for byte as with them, and the two names typer takes from them
still work when something uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fretcoach_cli.cli.rich_help import wants_help

HELP = """
import json, sys
if sys.argv[1] == "full":
    import typer.rich_utils  # imported the ordinary way: the preload does nothing
from fretcoach_cli.cli.main import run
try:
    run(sys.argv[2:])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = ("rich.markdown", "markdown_it", "rich.traceback", "rich.pretty", "pydantic")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def _help(mode: str, *args: str) -> tuple[str, list[str]]:
    env = {**os.environ, "COLUMNS": "100"}
    p = subprocess.run([sys.executable, "-c", HELP, mode, *args], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout, json.loads(p.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["history", "--help"], ["db", "-h"],
                                  ["sessions", "show", "--help"], []])
def test_help_is_the_same_without_the_unused_modules(args: list[str]) -> None:
    light, light_modules = _help("light", *args)
    full, full_modules = _help("full", *args)
    assert light == full and "Usage: fretcoach" in light
    assert light_modules == []
    assert "rich.markdown" in full_modules  # the comparison is with the real modules


def test_the_deferred_names_import_the_real_classes() -> None:
    code = """
from fretcoach_cli.cli import rich_help
rich_help.preload()
import sys
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
from typer import rich_utils
md = rich_utils._make_rich_text(text="**bold**", style="", markup_mode="markdown")
import rich.markdown, rich.traceback
assert type(md) is rich.markdown.Markdown, type(md)
assert rich.markdown.Heading  # the real module, not the stand-in
assert rich_utils.Traceback.from_exception == rich.traceback.Traceback.from_exception
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert p.stdout == "ok\n", p.stderr


@pytest.mark.parametrize(("argv", "expected"), [
    (["--help"], True), (["history", "-h"], True), (["stats", "--json"], False),
    (["chat", "--", "--help"], False), ([], False),
])
def test_wants_help(argv: list[str], expected: bool) -> None:
    assert wants_help(argv) is expected
