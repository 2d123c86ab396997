"""Wires the command modules into the root app, each under its help panel.

A run that names its command imports only the module(s) that register that name
(:data:`OWNERS`): `fretcoach history` need not import the chat, practice or tuner modules
and their option tables. The root help registers placeholders from the cached list of
commands (:mod:`cli.listing`) when it is current, else everything; an unknown name (so click
can suggest the right one) and completion register everything.
``tests/test_cli_lazy_commands.py`` keeps the table true.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from typing import Any

import typer

_P = "fretcoach_cli.cli."
# Every module exposes `register(app: typer.Typer) -> None`.
_MODULES = (
    "config_cmd", "db", "history", "stats", "export", "sync", "scales", "exercises",
    "practice", "sessions", "doctor", "chat", "analyze", "devices", "models", "recommend",
    "plans", "coach", "tune", "memory", "rate", "calibrate",
)
# Top-level command name -> the modules that put commands under it ("db seed" comes from
# export, "sessions show|delete" from history).
OWNERS: dict[str, tuple[str, ...]] = {
    "config": ("config_cmd",), "db": ("db", "export"), "history": ("history",),
    "stats": ("stats",), "export": ("export",), "import": ("export",), "sync": ("sync",),
    "scales": ("scales",), "exercises": ("exercises",), "practice": ("practice",),
    "sessions": ("sessions", "history"), "doctor": ("doctor",), "chat": ("chat",),
    "analyze": ("analyze",), "devices": ("devices",), "models": ("models",),
    "recommend": ("recommend",), "plans": ("plans",), "coach": ("coach",), "tune": ("tune",),
    "memory": ("memory",), "rate": ("rate",), "calibrate": ("calibrate",),
}
# Root options that take a value (the word after them is not the command).
_VALUE_OPTIONS = frozenset({"--user", "-u"})
# Words after which click answers at the root (its help), whatever follows.
_ROOT_ONLY = frozenset({"--", "--help", "-h", "--install-completion", "--show-completion"})


def command_name(argv: Iterable[str]) -> str | None:
    """The first word of ``argv`` that is not a root option (or its value), if any."""
    words = iter(argv)
    for word in words:
        if word in _ROOT_ONLY:
            return None
        if word in _VALUE_OPTIONS:
            next(words, None)
            continue
        if word.startswith("-"):
            continue
        return word
    return None


def register(app: typer.Typer, argv: Iterable[str] | None = None) -> None:
    """Register every command, or (given the command line) only the one it runs; for the
    root help page only what its list of commands needs (:mod:`cli.listing`)."""
    completing = any(key.startswith("_FRETCOACH_COMPLETE") for key in os.environ)
    words = None if argv is None or completing else list(argv)
    name = None if words is None else command_name(words)
    if words is not None and name is None and _root_help(words):
        from fretcoach_cli.cli import listing

        entries = listing.load()
        if entries is not None:
            _register_placeholders(app, entries)
            return
        _register_modules(app, _MODULES)
        listing.save(typer.main.get_command(app))
        return
    _register_modules(app, OWNERS.get(name, _MODULES) if name is not None else _MODULES)


def _register_modules(app: typer.Typer, modules: Iterable[str]) -> None:
    for module in modules:
        importlib.import_module(_P + module).register(app)


def _root_help(words: list[str]) -> bool:
    """Whether click answers this command line (naming no command) with the root help."""
    from fretcoach_cli.cli.rich_help import wants_help

    return not words or wants_help(words)


def _register_placeholders(app: typer.Typer, entries: list[list[Any]]) -> None:
    """One command per cached entry, shown exactly as the real one in the root help."""
    for name, panel, text, hidden, deprecated in entries:
        app.command(name, help=text, rich_help_panel=panel, hidden=hidden,
                    deprecated=deprecated)(_not_loaded)


def _not_loaded() -> None:
    """Placeholder: only the root help page is drawn when these are registered."""
    raise RuntimeError("a placeholder command ran (cli.commands registered it by mistake)")
