"""`fretcoach plans [--status S] [--json]` and `fretcoach plans dismiss ID`."""

from __future__ import annotations

import json
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import NotFoundError, UsageError

STATUSES = ("pending", "in_progress", "completed", "dismissed")

plans_app = typer.Typer(help="List and dismiss practice plans.", invoke_without_command=True,
                        no_args_is_help=False)


def plan_json(row: Any, progress: Any = None) -> dict[str, Any]:
    """A stored plan row as JSON (the stored format: column names and the jsonb document),
    plus ``progress`` toward its targets when given."""
    from dataclasses import asdict

    from fretcoach_cli.store.rows import json_safe

    out = json_safe(asdict(row))
    if progress is not None:
        out["progress"] = json_safe(progress.to_json())
    return out


def settled_with_progress(plans: Any, rows: list[Any]) -> tuple[list[Any], dict[Any, Any]]:
    """The rows with each open plan's status brought in line with its sessions (a session
    recovered after a crash may have met the targets) and every plan's progress."""
    from fretcoach_cli.store.plans import OPEN_STATUSES

    progress = plans.progress(rows)
    fixed = {r.practice_id for r in rows
             if r.status in OPEN_STATUSES and progress[r.practice_id].status != r.status}
    for pid in fixed:
        plans.settle(pid)
    return [plans.require(r.practice_id) if r.practice_id in fixed else r for r in rows], progress


def describe(doc: dict[str, Any]) -> tuple[str, str]:
    """(title, one-line detail) of a stored plan document of any vintage."""
    title = str(doc.get("title") or doc.get("scale") or "plan")
    bits = []
    if doc.get("focus_area") or doc.get("focus"):
        bits.append(str(doc.get("focus_area") or doc.get("focus")).replace("_", " "))
    if doc.get("target_tempo_bpm"):
        bits.append(f"{doc['target_tempo_bpm']} BPM")
    target = doc.get("session_target") or {}
    minutes = target.get("minutes") if isinstance(target, dict) else None
    minutes = minutes or doc.get("minutes")
    if minutes:
        bits.append(f"{minutes} min")
    if isinstance(target, dict) and target.get("notes"):
        bits.append(f"{target['notes']} notes")
    if doc.get("target_accuracy") is not None:
        bits.append(f"score {doc['target_accuracy']}")
    return title, ", ".join(bits)


def resolve_plan_id(plans: Any, spec: str) -> Any:
    """A full plan id from an id or a unique prefix of one (as `plans` shows them)."""
    spec = spec.strip().lower()
    if len(spec) < 4:
        raise UsageError(f"plan id {spec!r} is too short", hint="give at least 4 characters")
    matches = [r.practice_id for r in plans.list(limit=None) if str(r.practice_id).startswith(spec)]
    if not matches:
        raise NotFoundError(f"no practice plan {spec}", hint="see 'fretcoach plans'")
    if len(matches) > 1:
        raise UsageError(f"plan id {spec!r} is ambiguous", hint="give more characters")
    return matches[0]


@plans_app.callback()
def list_plans(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", "-s",
                                      help=f"Only plans with this status ({', '.join(STATUSES)})."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Practice plans, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown plan status {status!r}", hint=f"use {', '.join(STATUSES)}")
    from fretcoach_cli.store import Plans, open_database

    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn:
        # a huge --limit means "all", not a bigint overflow in PostgreSQL
        plans = Plans(conn)
        rows = plans.list(status=status, limit=min(limit, 1_000_000))  # type: ignore[arg-type]
        rows, progress = settled_with_progress(plans, rows)
        if status is not None:  # a plan that just settled into another status
            rows = [r for r in rows if r.status == status]
    if as_json:
        typer.echo(json.dumps([plan_json(r, progress[r.practice_id]) for r in rows], indent=2))
        return
    if not rows:
        typer.echo("No practice plans" + (f" with status {status}" if status else "")
                   + ". Create one with 'fretcoach recommend'.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Practice plans", title_justify="left")
    for col in ("id", "created", "status", "by", "plan", "details", "progress"):
        table.add_column(col, overflow="fold")
    for r in rows:
        title, detail = describe(r.practice_plan)
        by = r.practice_plan.get("generated_by") or r.source
        table.add_row(str(r.practice_id)[:8], r.generated_at.strftime("%Y-%m-%d %H:%M"),
                      r.status, str(by), title, detail,
                      progress[r.practice_id].text() if r.status == "in_progress" else "")
    Console().print(table)


@plans_app.command("dismiss")
def dismiss(plan_id: str = typer.Argument(..., help="Plan id (or a unique prefix).")) -> None:
    """Mark a plan dismissed (it is no longer offered by `recommend`)."""
    from fretcoach_cli.store import Plans, open_database

    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn:
        plans = Plans(conn)
        row = plans.set_status(resolve_plan_id(plans, plan_id), "dismissed")
    title, _ = describe(row.practice_plan)
    typer.echo(f"Dismissed plan {str(row.practice_id)[:8]} ({title}).")


def register(app: typer.Typer) -> None:
    app.add_typer(plans_app, name="plans", rich_help_panel="Coach")
