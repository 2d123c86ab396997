"""A run that names its command registers only that command's modules (`cli.commands`), so
the table of owners must give every command exactly the tree a full registration gives it.

Each tree is built in a fresh interpreter: command modules register into module-level
sub-apps (`db seed` is added to `db`'s app by `export`), so within one process an earlier
full registration would hide a missing owner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fretcoach_cli.cli.commands import OWNERS, command_name

TREE = """
import json, sys
import typer
from fretcoach_cli.cli import main
main._register_commands(None if sys.argv[1] == '*' else [sys.argv[1]])
root = typer.main.get_command(main.app)

def tree(cmd):
    subs = getattr(cmd, 'commands', None)
    if subs is None:
        return sorted(p.name for p in cmd.params)
    return {name: tree(sub) for name, sub in sorted(subs.items())}

print(json.dumps(tree(root)))
"""


def _tree(name: str) -> dict:
    p = subprocess.run([sys.executable, "-c", TREE, name], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def full_tree() -> dict:
    return _tree("*")


def test_owners_name_every_top_level_command(full_tree: dict) -> None:
    assert set(OWNERS) == set(full_tree)


@pytest.mark.parametrize("name", sorted(OWNERS))
def test_a_named_command_gets_its_whole_tree(name: str, full_tree: dict) -> None:
    assert _tree(name)[name] == full_tree[name]


@pytest.mark.parametrize(("argv", "expected"), [
    (["history"], "history"),
    (["--user", "ann", "stats", "--json"], "stats"),
    (["-u", "stats", "history"], "history"),  # 'stats' is the user's name here
    (["--user=ann", "--debug", "db", "status"], "db"),
    (["--help", "history"], None),  # click prints the root help
    (["-h"], None),
    (["--debug"], None),
    ([], None),
])
def test_command_name_skips_root_options(argv: list[str], expected: str | None) -> None:
    assert command_name(argv) == expected


def test_root_help_lists_every_command() -> None:
    p = subprocess.run([sys.executable, "-c",
                        "from fretcoach_cli.cli.main import run; run(['--help'])"],
                       capture_output=True, text=True, timeout=120)
    for name in OWNERS:
        assert f" {name} " in p.stdout, name


def test_a_typo_still_gets_a_suggestion() -> None:
    p = subprocess.run([sys.executable, "-c",
                        "from fretcoach_cli.cli.main import run; run(['histroy'])"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "Did you mean 'history'?" in p.stderr
