"""`fretcoach db status|stop|migrate|url|reset` — where the data lives, its server, its schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import UsageError

if TYPE_CHECKING:
    from fretcoach_cli.store import Database

db_app = typer.Typer(help="Where the practice data lives; migrations and reset.",
                     no_args_is_help=True)


def _open(*, migrate: bool = True, verify: bool = False) -> Database:
    from fretcoach_cli.store import open_database

    return open_database(context.settings(), migrate=migrate, verify=verify)


def _server_data(db: Database) -> dict[str, Any] | None:
    """The embedded server's state as this command leaves it (None for an external one)."""
    if db.kind != "embedded" or db.data_dir is None:
        return None
    from fretcoach_cli.store import server

    settings = context.settings()
    state = server.server_state(settings.data_path, settings.db_idle_minutes)
    stops_in = state.stops_in_s
    return {
        "state": "running" if state.running else "stopped",
        "pid": state.pid,
        "port": state.port,
        "socket": state.socket,
        "data_dir": str(state.pgdata),
        "other_users": len(state.users),
        "user_pids": list(state.users),
        "idle_minutes": round(state.grace_s / 60.0, 4),
        "stops_in_s": None if stops_in is None else round(stops_in, 1),
        "watchdog": state.watchdog,
    }


def _status_data(db: Database) -> dict[str, Any]:
    settings = context.settings()
    state = db.migration_state()
    everyone = db.bypasses_rls()
    scoped = db.security.mode != "none"
    if everyone:  # one scan per table gives both columns
        both = db.row_counts_all_and_user(settings.user if scoped else None)
        total = {t: n for t, (n, _m) in both.items()}
        mine = {t: m for t, (_n, m) in both.items()} if scoped else {}
    else:
        mine = db.row_counts(settings.user) if scoped else {}
        total = {}
    return {
        "kind": db.kind,
        "location": str(db.data_dir) if db.kind == "embedded" else db.display_location,
        "url": db.display_location if db.kind == "external" else db.url,
        "server_version": db.server_version,
        "migration_level": state.level,
        "migrations_available": state.latest,
        "pending": [m.filename for m in state.pending],
        "changed_since_applied": [m.filename for m in state.mismatched],
        "unknown_versions": state.unknown,
        "user": settings.user,
        "rows": {t: {"user": mine.get(t), "all": total.get(t)} for t in (mine or total)},
        "security": {
            "ok": db.security.ok,
            "mode": db.security.mode,
            "app_role": db.security.app_role,
            "reader_role": db.security.reader_role,
            "problems": db.security.problems,
        },
        "timings_s": {k: round(v, 4) for k, v in db.timings.items()},
        "server": _server_data(db),
    }


@db_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Where the database is, its server and idle timer, migration level, rows, security."""
    from fretcoach_cli.store import server

    # looking must not restart the idle timer; the checks run in full (no open stamp)
    with server.observing(), _open(verify=True) as db:
        data = _status_data(db)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    where = (f"embedded PostgreSQL in [bold]{data['location']}[/]" if data["kind"] == "embedded"
             else f"external PostgreSQL at [bold]{data['location']}[/]")
    console.print(f"database   {where}")
    console.print(f"server     PostgreSQL {data['server_version']}")
    if data["server"] is not None:
        for line in server_lines(data["server"]):
            console.print(f"           {line}", soft_wrap=True)
    level = f"{data['migration_level']:03d} (of {data['migrations_available']:03d})"
    if data["pending"]:
        level += f" — [yellow]pending: {', '.join(data['pending'])}[/]"
    console.print(f"schema     fretcoach, migration {level}")
    for name in data["changed_since_applied"]:
        console.print(f"[yellow]WARN[/]       {name} changed after it was applied (not re-run)")
    if data["unknown_versions"]:
        console.print("[yellow]WARN[/]       the database has migrations this fretcoach does not "
                      f"know: {data['unknown_versions']} (a newer version wrote them)")
    sec = data["security"]
    if sec["ok"]:
        console.print("security   [green]OK[/] row-level security on all tables, "
                      "roles app+reader")
    else:
        for problem in sec["problems"]:
            console.print(f"security   [yellow]WARN[/] {problem}")
    table = Table(title_justify="left", box=None, pad_edge=False)
    table.add_column("table")
    table.add_column(f"rows ({data['user']})", justify="right")
    table.add_column("rows (all users)", justify="right")
    for name, counts in data["rows"].items():
        table.add_row(name, _fmt(counts["user"]), _fmt(counts["all"]))
    console.print(table)


def server_lines(info: dict[str, Any]) -> list[str]:
    """The embedded server's state and idle timer, for people."""
    if info["state"] != "running":
        return [f"stopped (data in {info['data_dir']})"]
    lines = [f"running, pid {info['pid']}, socket {info['socket']}"]
    grace = _duration(info["idle_minutes"] * 60.0)
    others = info["other_users"]
    if others:
        noun = "process" if others == 1 else "processes"
        lines.append(f"used by {others} other fretcoach {noun} "
                     f"(pid {', '.join(map(str, info['user_pids']))}); "
                     f"stops {grace} after the last one exits")
    elif info["stops_in_s"] is not None:
        lines.append(f"idle: stops in {_duration(info['stops_in_s'])} if unused")
    elif info["idle_minutes"] > 0:
        lines.append(f"used only by this command: stops {grace} after it if unused")
    else:
        lines.append("used only by this command: stops when it exits (db_idle_minutes = 0)")
    if not info["watchdog"]:
        lines.append("[yellow]WARN[/] no watchdog runs: the next fretcoach command starts one")
    return lines


def _duration(seconds: float) -> str:
    """7 min 12 s, 45 s, 1 h 5 min."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@db_app.command("stop")
def stop(
    force: bool = typer.Option(
        False, "--force", help="Stop it even while other fretcoach processes use it."),
) -> None:
    """Stop the embedded PostgreSQL server now instead of after its idle time."""
    settings = context.settings()
    if str(settings.database_url or "").strip():
        raise UsageError("the database is an external server (database_url): fretcoach never "
                         "stops it", hint="db stop only applies to the embedded server")
    from fretcoach_cli.store import server

    pid = server.stop_server(settings.data_path, force=force)
    if pid is None:
        typer.echo("the embedded PostgreSQL server is not running")
    else:
        typer.echo(f"stopped the embedded PostgreSQL server (pid {pid})")


def _fmt(value: int | None) -> str:
    return "—" if value is None else str(value)


@db_app.command("migrate")
def migrate() -> None:
    """Apply pending schema migrations (they are also applied automatically)."""
    with _open(migrate=False) as db:
        done = db.migrate()
        level = db.migration_state().level
    if done:
        for mig in done:
            typer.echo(f"applied {mig.filename}")
    else:
        typer.echo(f"schema is up to date (migration {level:03d})")


@db_app.command("url")
def url() -> None:
    """Print the connection URI (e.g. for psql); the embedded server is started if needed."""
    with _open(migrate=False) as db:
        typer.echo(db.url)


@db_app.command("reset")
def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    external: bool = typer.Option(
        False, "--external", help="Also allow resetting an external (non-embedded) server."
    ),
) -> None:
    """Delete ALL fretcoach data (every user) and recreate the schema."""
    with _open(migrate=False) as db:
        if db.kind == "external" and not external:
            raise UsageError(f"refusing to reset the external database {db.display_location}",
                             hint="add --external if you really mean it")
        if not yes:
            try:
                ok = typer.confirm(f"Delete all fretcoach data in {db.display_location}?",
                                   default=False)
            except typer.Abort:  # no answer (stdin closed)
                ok = False
            if not ok:
                typer.echo("nothing changed", err=True)
                raise typer.Exit(1)
        done = db.reset()
    typer.echo(f"schema recreated ({', '.join(m.filename for m in done)})")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db", rich_help_panel="Data")
