"""`fretcoach exercises` (list the built-ins) and `fretcoach exercises show NAME|FILE`.

`exercises --json` is a stable interface: a list of objects with `name` and `description`.
Play one against a recording with `fretcoach analyze FILE --exercise NAME --bpm N`.
"""

from __future__ import annotations

import json
from typing import Any

import typer

exercises_app = typer.Typer(
    help="Built-in exercises (runs, sequences, arpeggios) for any scale, and tab files.",
    invoke_without_command=True,
)


@exercises_app.callback()
def exercises(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the built-in exercises (each works in any scale and key)."""
    if ctx.invoked_subcommand is not None:
        return
    from fretcoach_cli.music.exercises import describe

    rows = describe()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="exercises", title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], row["description"])
    console = Console()
    console.print(table)
    console.print("[dim]Show one: fretcoach exercises show thirds --scale \"A minor "
                  "pentatonic\"; score a take: fretcoach analyze take.wav --exercise thirds "
                  "--scale \"A minor pentatonic\" --bpm 90. Your own: a tab file "
                  "(docs/exercises.md).[/]")


@exercises_app.command("show")
def show(
    name: str = typer.Argument(..., metavar="NAME|FILE", help="A built-in name (caged-E …) "
                               "or a tab, MusicXML or Guitar Pro file."),
    scale: str | None = typer.Option(None, "--scale", "-s",
                                     help='Scale of a built-in, e.g. "A minor pentatonic".'),
    position: int | None = typer.Option(None, "--position", "-p",
                                        help="Fret where the five-fret position starts "
                                        "(default: the root on the low E string)."),
    shape: str | None = typer.Option(None, "--shape", metavar="C|A|G|E|D",
                                     help="A built-in in a CAGED shape."),
    as_json: bool = typer.Option(False, "--json", help="The expected notes as JSON."),
) -> None:
    """Print an exercise as tab (or its expected notes as JSON)."""
    from fretcoach_cli.music.exercises import load
    from fretcoach_cli.music.scales import parse_scale

    the_scale = parse_scale(scale) if scale is not None else None
    ex = load(name, the_scale, position=position, shape=shape)
    if as_json:
        typer.echo(json.dumps(exercise_json(ex), indent=2))
        return
    from fretcoach_cli.music.tab import write_tab

    typer.echo(write_tab(ex), nl=False)


def exercise_json(ex: Any) -> dict[str, Any]:
    return {
        "name": ex.name,
        "description": ex.description,
        "source": ex.source,
        "bpm": ex.bpm,
        "tuning": list(ex.tuning),
        "length_beats": ex.length_beats,
        "notes": [{"midi": n.midi, "string": n.string, "fret": n.fret, "beat": n.beat,
                   "beats": n.beats} for n in ex.notes],
    }


def register(app: typer.Typer) -> None:
    app.add_typer(exercises_app, name="exercises", rich_help_panel="Practice")
