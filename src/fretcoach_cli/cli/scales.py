"""`fretcoach scales` (list the supported scale types) and `fretcoach scales show SCALE`."""

from __future__ import annotations

import json
from typing import Any, TypedDict

import typer

scales_app = typer.Typer(
    help="List the scale types fretcoach knows, or show one scale's notes and fretboard.",
    invoke_without_command=True,
)

_FRET_MARKERS = (3, 5, 7, 9, 12, 15, 17, 19, 21)


class _ScaleTypeRow(TypedDict):
    """One scale type as `scales --json` prints it (and the table reads it)."""

    key: str
    name: str
    aliases: list[str]
    intervals: list[int]
    degrees: list[str]
    example: str
    description: str


@scales_app.callback()
def scales(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List supported scale types with aliases, intervals and an example."""
    if ctx.invoked_subcommand is not None:
        return
    from fretcoach_cli.music.scales import SCALE_TYPES, example_scale

    rows: list[_ScaleTypeRow] = []
    for stype in SCALE_TYPES:
        example = example_scale(stype)
        rows.append({
            "key": stype.key,
            "name": stype.name,
            "aliases": [a for a in stype.aliases if a != stype.name],
            "intervals": list(stype.intervals),
            "degrees": list(stype.degree_labels),
            "example": example.example(),
            "description": stype.description,
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scale types", title_justify="left", show_lines=False)
    table.add_column("scale", no_wrap=True, style="bold")
    table.add_column("degrees / semitones")
    table.add_column("example")
    table.add_column("also written", style="dim")
    for row in rows:
        table.add_row(row["name"],
                      " ".join(row["degrees"]) + "\n[dim]"
                      + " ".join(str(i) for i in row["intervals"]) + "[/]",
                      row["example"], ", ".join(row["aliases"]))
    console = Console()
    console.print(table)
    console.print("[dim]Write any root before the type: 'A minor pentatonic', 'Bb dorian', "
                  "'F# blues', 'Am' (A natural minor), 'C' (C major).[/]")


@scales_app.command("show")
def show(
    scale_text: str = typer.Argument(..., metavar="SCALE", help="e.g. \"A minor pentatonic\"."),
    frets: int = typer.Option(15, "--frets", min=1, max=24, help="Highest fret to draw."),
    degrees: bool = typer.Option(False, "--degrees", "-d",
                                 help="Label the diagram with degrees instead of note names."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Notes, degrees and a fretboard diagram of one scale."""
    from fretcoach_cli.music.fretboard import STANDARD_TUNING, positions
    from fretcoach_cli.music.scales import parse_scale

    scale = parse_scale(scale_text)
    names = scale.note_names()
    spots = positions(scale, range(0, frets + 1))
    if as_json:
        typer.echo(json.dumps(_show_json(scale, spots), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"{scale.root_name} {scale.alias} ({scale.spelling})" if scale.alias \
        else scale.display_name
    table = Table(title=title, title_justify="left")
    table.add_column("degree", justify="right")
    table.add_column("note")
    table.add_column("semitones", justify="right")
    for label, name, semis in zip(scale.degree_labels, names, scale.intervals, strict=True):
        table.add_row(label, f"[bold]{name}[/]" if semis == 0 else name, str(semis))
    console.print(table)
    console.print(_diagram(scale, spots, frets, degrees, STANDARD_TUNING))


def _show_json(scale: Any, spots: list[Any]) -> dict[str, Any]:
    return {
        "scale": scale.display_name,
        "root": scale.root_name,
        "type": scale.type_key,
        "type_name": scale.type_name,
        "spelling": scale.spelling,
        "notes": list(scale.note_names()),
        "degrees": list(scale.degree_labels),
        "intervals": list(scale.intervals),
        "pitch_classes": list(scale.pitch_classes),
        "positions": [
            {"string": p.string, "fret": p.fret, "pitch_class": p.pc, "degree": p.degree}
            for p in spots
        ],
    }


def _diagram(scale: Any, spots: list[Any], frets: int, degrees: bool,
             tuning: tuple[int, ...]) -> Any:
    """A text fretboard, high string on top like tablature; the root is highlighted."""
    from rich.text import Text

    from fretcoach_cli.music.fretboard import STRING_NAMES

    names = scale.note_names()
    labels = scale.degree_labels
    at = {(p.string, p.fret): p.degree for p in spots}
    text = Text()
    text.append("   0 " + "".join(f"{f:^3} " for f in range(1, frets + 1)) + "\n", style="dim")
    for s in reversed(range(len(tuning))):
        text.append(f"{STRING_NAMES[s]:<2}", style="bold")
        for fret in range(0, frets + 1):
            degree = at.get((s, fret))
            mark = "" if degree is None else (labels if degrees else names)[degree - 1]
            style = "bold red" if degree == 1 else "cyan"
            if fret == 0:
                text.append(f"{mark:>2}", style=style)
                text.append("‖", style="dim")
                continue
            text.append(f"{mark:-^3}" if mark else "---", style=style if mark else "dim")
            text.append("|", style="dim")
        text.append("\n")
    markers = "".join(
        f"{'••' if f % 12 == 0 else '•' if f in _FRET_MARKERS else '':^3} "
        for f in range(1, frets + 1)
    )
    text.append("     " + markers + "\n", style="dim")
    text.append("root in red; " + ("degrees" if degrees else "note names")
                + f" shown; {', '.join(scale.note_names())}", style="dim")
    return text


def register(app: typer.Typer) -> None:
    app.add_typer(scales_app, name="scales", rich_help_panel="Practice")
