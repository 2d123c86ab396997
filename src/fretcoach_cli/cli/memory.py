"""`fretcoach memory list|add|edit|forget|clear`: what the coach remembers about you."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import UsageError

KINDS_HELP = "goal, gear, tuning, limit, struggle, plan or note"

memory_app = typer.Typer(
    help="What the coach remembers about you (goals, guitar, tuning, limits, struggles, "
         "agreed plans), used by chat, the live coach and recommend.",
    no_args_is_help=True)


def _memories() -> Any:
    """(database, connection, repository) for the current user, as a context manager."""
    from contextlib import contextmanager

    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.memory import Memories

    @contextmanager
    def opened() -> Any:
        settings = context.settings()
        with open_database(settings) as db, db.connect(settings.user) as conn:
            yield Memories(conn)

    return opened()


def _text(words: list[str], what: str) -> str:
    text = " ".join(words).strip()
    context.utf8_text(text, what)
    if not text:
        raise UsageError(f"{what} needs some text")
    return text


def _kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    from fretcoach_cli.store.memory import check_kind

    return check_kind(kind.strip().lower())


@memory_app.command("list")
def list_cmd(
    kind: str | None = typer.Option(None, "--kind", "-k", help=f"Only this kind ({KINDS_HELP})."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Everything the coach remembers, oldest first."""
    with _memories() as memories:
        rows = memories.list(kind=_kind(kind))
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    if not rows:
        typer.echo("The coach remembers nothing about you yet. Tell it in chat (\"my goal is "
                   "…\") or add a fact: fretcoach memory add \"I tune to drop D\"")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Coach memory", title_justify="left")
    for col in ("id", "kind", "memory", "from", "updated"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.memory_id), r.kind, r.text, r.source,
                      r.updated_at.strftime("%Y-%m-%d"))
    Console().print(table)


@memory_app.command("add")
def add_cmd(
    text: list[str] = typer.Argument(..., help="The fact, e.g. \"my wrist hurts after 20 "
                                               "minutes\"."),
    kind: str | None = typer.Option(None, "--kind", "-k",
                                    help=f"{KINDS_HELP} (default: guessed from the text)."),
) -> None:
    """Tell the coach a fact to remember."""
    from fretcoach_cli.coach.memory import classify

    fact = _text(text, "memory add")
    chosen = _kind(kind) or classify(fact) or "note"
    with _memories() as memories:
        row, created = memories.add(fact, kind=chosen, source="user")
    if created:
        typer.echo(f"Remembered {row.memory_id} [{row.kind}]: {row.text}")
    else:
        typer.echo(f"Already remembered as {row.memory_id} [{row.kind}]: {row.text}")


@memory_app.command("edit")
def edit_cmd(
    memory_id: int = typer.Argument(..., help="The memory's id (see 'fretcoach memory list')."),
    text: list[str] = typer.Argument(..., help="The new text."),
    kind: str | None = typer.Option(None, "--kind", "-k", help=f"New kind ({KINDS_HELP})."),
) -> None:
    """Change what a memory says."""
    fact = _text(text, "memory edit")
    with _memories() as memories:
        row = memories.edit(memory_id, fact, kind=_kind(kind))
    typer.echo(f"Updated {row.memory_id} [{row.kind}]: {row.text}")


@memory_app.command("forget")
def forget_cmd(
    memory_ids: list[int] = typer.Argument(..., help="Id(s) of the memories to forget."),
) -> None:
    """Forget one or more memories."""
    with _memories() as memories:
        rows = [memories.require(i) for i in memory_ids]  # all exist, or nothing is forgotten
        for row in rows:
            memories.forget(row.memory_id)
    for row in rows:
        typer.echo(f"Forgot {row.memory_id}: {row.text}")


@memory_app.command("clear")
def clear_cmd(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Forget everything the coach remembers about you."""
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("memory clear forgets everything", hint="add --yes to confirm")
        if not typer.confirm("Forget everything the coach remembers about you?"):
            raise typer.Exit(1)
    with _memories() as memories:
        n = memories.clear()
    typer.echo(f"Forgot {n} memor{'y' if n == 1 else 'ies'}.")


def register(app: typer.Typer) -> None:
    app.add_typer(memory_app, name="memory", rich_help_panel="Coach")
