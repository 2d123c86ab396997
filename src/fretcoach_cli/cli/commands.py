"""Wires the command modules into the root app, each under its help panel.

A run that names its command imports only the module(s) that register that name
(:data:`OWNERS`): `fretcoach history` need not import the chat, practice or tuner modules
and their option tables. Root help, an unknown name (so click can suggest the right one) and
completion register everything. ``tests/test_cli_lazy_commands.py`` keeps the table true.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

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
    """Register every command, or (given the command line) only the one it runs."""
    completing = any(key.startswith("_FRETCOACH_COMPLETE") for key in os.environ)
    name = None if argv is None or completing else command_name(argv)
    modules = OWNERS.get(name, _MODULES) if name is not None else _MODULES
    for module in modules:
        importlib.import_module(_P + module).register(app)
