"""`fretcoach config show|path|set|unset`."""

from __future__ import annotations

import json

import typer

from fretcoach_cli import config
from fretcoach_cli.cli import context

config_app = typer.Typer(help="Show and change settings.", no_args_is_help=True)


@config_app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Effective settings and where each value came from (secrets masked)."""
    s = context.settings()
    rows = s.shown()
    if as_json:
        typer.echo(json.dumps({k: {"value": v, "source": o} for k, v, o, _ in rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"config ({s.path})", title_justify="left")
    for col in ("key", "value", "source", "meaning"):
        table.add_column(col, overflow="fold")
    for key, value, origin, doc in rows:
        table.add_row(key, value or "[dim]—[/]", origin, doc)
    Console().print(table)


@config_app.command("path")
def path() -> None:
    """Print the config file path (it may not exist yet)."""
    typer.echo(str(config.config_path()))


@config_app.command("set")
def set_(key: str, value: str) -> None:
    """Validate and write KEY = VALUE to the config file."""
    context.utf8_text(key, "KEY")
    context.utf8_text(value, "VALUE")
    parsed = config.set_value(key, value)
    typer.echo(f"{key} = {parsed!r} (written to {config.config_path()})")


@config_app.command("unset")
def unset(key: str) -> None:
    """Remove KEY from the config file (its default or env value applies again)."""
    config.unset_value(key)
    typer.echo(f"{key} removed from {config.config_path()}")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config", rich_help_panel="Setup")
