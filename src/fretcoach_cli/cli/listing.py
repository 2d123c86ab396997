"""The root help's list of commands, cached beside our bytecode.

`fretcoach --help` lists every command with its panel and the first paragraph of its help,
which lives in the command modules' docstrings: drawing it means importing all of them and
building every command's options (≈25 ms). What the list needs — per top-level command its
name, panel and help text, in order — is derived from the ``cli/*.py`` sources alone, so it
is cached the way Python caches their bytecode: in their ``__pycache__`` (or under
``PYTHONPYCACHEPREFIX``), keyed by the sources' names, sizes and mtimes and the fretcoach
and typer versions, written only where bytecode may be written. A later root help registers
one placeholder per cached entry and typer draws the same page from them; any edit of a
command module (or an upgrade) makes the next root help register everything again and
rewrite the cache. ``tests/test_cli_root_help.py`` checks the two pages are byte-identical.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

FORMAT = 1
_HERE = Path(__file__).resolve().parent


def cache_path() -> Path:
    """Where the list is cached: beside this module's bytecode."""
    return Path(importlib.util.cache_from_source(str(_HERE / "listing.py"))).with_name(
        "root-help.json")


def source_key() -> str:
    """Names, sizes and mtimes of the command modules, and the versions that draw them."""
    import typer

    from fretcoach_cli import __version__
    from fretcoach_cli.fingerprint import files_fingerprint

    return files_fingerprint(_HERE, ".py", f"{FORMAT}\0{__version__}\0{typer.__version__}\n")


def load() -> list[list[Any]] | None:
    """The cached entries ``[name, panel, help, hidden, deprecated]``, if still current."""
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        if data.get("key") != source_key():
            return None
        entries = data["commands"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(entries, list) or not all(
            isinstance(e, list) and len(e) == 5 for e in entries):
        return None
    return entries


def save(root: Any) -> None:
    """Cache the top-level commands of ``root`` (the built click group); a failure to write
    (read-only install, full disk) only costs speed next time."""
    if sys.dont_write_bytecode:
        return
    entries = [[name, getattr(cmd, "rich_help_panel", None), cmd.short_help or cmd.help or "",
                bool(cmd.hidden), bool(cmd.deprecated)]
               for name, cmd in root.commands.items()]
    target = cache_path()
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": source_key(), "commands": entries}), encoding="utf-8")
        tmp.replace(target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
