"""Wires every command module into the root app, each under its help panel."""

from __future__ import annotations

import importlib

import typer

# (module, attribute) pairs; each module exposes `register(app: typer.Typer) -> None`.
_MODULES = (
    "fretcoach_cli.cli.config_cmd",
    "fretcoach_cli.cli.db",
    "fretcoach_cli.cli.history",
    "fretcoach_cli.cli.stats",
    "fretcoach_cli.cli.export",
    "fretcoach_cli.cli.sync",
    "fretcoach_cli.cli.scales",
    "fretcoach_cli.cli.exercises",
    "fretcoach_cli.cli.practice",
    "fretcoach_cli.cli.sessions",
    "fretcoach_cli.cli.doctor",
    "fretcoach_cli.cli.chat",
    "fretcoach_cli.cli.analyze",
    "fretcoach_cli.cli.devices",
    "fretcoach_cli.cli.models",
    "fretcoach_cli.cli.recommend",
    "fretcoach_cli.cli.plans",
    "fretcoach_cli.cli.coach",
    "fretcoach_cli.cli.tune",
    "fretcoach_cli.cli.rate",
)


def register(app: typer.Typer) -> None:
    for name in _MODULES:
        importlib.import_module(name).register(app)
