"""`fretcoach coach status [--ping] [--json]`: the model chain, link by link;
`coach compare`: two prompt versions replayed on your sessions, side by side."""

from __future__ import annotations

import json
import os
from typing import Any

import typer

from fretcoach_cli.cli import context

coach_app = typer.Typer(help="The AI coach: models, fallbacks, tracing and prompt versions.",
                        no_args_is_help=True)


@coach_app.command("status")
def status(
    ping: bool = typer.Option(False, "--ping", help="Call every model once: OK/FAIL + latency."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Which models answer, in which order, and what happens when they fail."""
    from fretcoach_cli.llm.chain import ProviderChain
    from fretcoach_cli.llm.limits import limits_for
    from fretcoach_cli.llm.links import OFFLINE

    settings = context.settings()
    limits = limits_for(settings, settings.llm_base_url or "")
    chain = ProviderChain.from_settings(settings, retries=0)
    results = {r.link: r for r in chain.ping()} if ping else {}
    rows: list[dict[str, Any]] = []  # the JSON rows; the table reads them too
    for i, link in enumerate(chain.links, 1):
        spec = link.spec
        row: dict[str, Any] = {
            "position": i, "link": spec.label, "provider": spec.provider, "model": spec.model,
            "base_url": spec.base_url or None, "key": spec.key_origin or None,
            "usable": not spec.problem, "problem": spec.problem or None}
        if ping:
            r = results[spec.label]
            row.update({"ping": "OK" if r.ok else "FAIL",
                        "latency_ms": round(r.seconds * 1000) if r.seconds else None,
                        "error": None if r.ok else (r.detail or r.kind)})
        rows.append(row)
    rows.append({"position": len(rows) + 1, "link": OFFLINE, "provider": OFFLINE, "model": None,
                 "base_url": None, "key": None, "usable": True, "problem": None,
                 **({"ping": "OK", "latency_ms": 0, "error": None} if ping else {})})
    tracing = (settings.tracing or "off").lower()
    tracing_info = {"mode": tracing if tracing not in ("", "none") else "off"}
    if tracing_info["mode"] == "opik":
        tracing_info["endpoint"] = os.environ.get("OPIK_URL_OVERRIDE") or "opik default"
        tracing_info["project"] = os.environ.get("OPIK_PROJECT_NAME") or "fretcoach"
    if as_json:
        typer.echo(json.dumps({"chain": rows, "tracing": tracing_info,
                               "answering": any(r.ok for r in results.values()) if ping
                               else None,
                               "timeout_s": limits.answer_s,
                               "first_token_timeout_s": limits.first_token_s,
                               "max_tokens": limits.max_tokens,
                               "retries": settings.llm_retries}, indent=2))
        _exit_if_none_answers(ping, chain, results)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Coach chain (tried in order)", title_justify="left")
    cols = ["#", "link", "key", "state"] + (["ping", "latency"] if ping else [])
    for col in cols:
        table.add_column(col, overflow="fold")
    for row in rows:
        if row["link"] == OFFLINE:
            state = "always available (deterministic, no model)"
        else:
            state = "ready" if row["usable"] else f"[red]{row['problem']}[/]"
        cells: list[str] = [str(row["position"]), row["link"], row["key"] or "—", state]
        if ping:
            ok = row["ping"] == "OK"
            cells.append("[green]OK[/]" if ok else f"[red]FAIL[/] {row['error']}")
            cells.append(f"{row['latency_ms']} ms" if row["latency_ms"] is not None else "—")
        table.add_row(*cells)
    console = Console()
    console.print(table)
    if not chain.configured:
        console.print("No model configured: the offline coach answers. Set one with "
                      "'fretcoach config set llm_provider openai' (or gemini).")
    extra = f" ({tracing_info.get('endpoint')})" if tracing_info["mode"] == "opik" else ""
    console.print(f"first token {limits.first_token_s:g} s · answer {limits.answer_s:g} s · "
                  f"max {limits.max_tokens} tokens · retries {settings.llm_retries} · "
                  f"tracing {tracing_info['mode']}{extra}")
    _exit_if_none_answers(ping, chain, results)


def _exit_if_none_answers(ping: bool, chain: Any, results: dict[str, Any]) -> None:
    """`--ping` exits 1 when models are configured and none of them answered."""
    if ping and chain.configured and not any(r.ok for r in results.values()):
        typer.echo("error: no configured model answered; the offline coach answers instead",
                   err=True)
        raise typer.Exit(1)


@coach_app.command("compare")
def compare_cmd(
    prompt: str = typer.Option(..., "--prompt", help="Prompt version to compare (e.g. v1)."),
    against: str = typer.Option(..., "--against", help="The other version (e.g. v2)."),
    sessions: int = typer.Option(5, "--sessions", "-n", min=1, max=100,
                                 help="How many of your latest sessions to replay."),
    kind: str = typer.Option("live", "--kind", help="live, summary or plan."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Replay your latest sessions through two prompt versions, side by side."""
    from fretcoach_cli.coach.compare import KINDS, compare
    from fretcoach_cli.errors import UsageError
    from fretcoach_cli.llm.chain import ProviderChain
    from fretcoach_cli.store import open_database

    if kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
    settings = context.settings()
    chain = ProviderChain.from_settings(settings, retries=0)
    with open_database(settings) as db, db.connect(settings.user) as conn:
        result = compare(conn, kind=kind, version_a=prompt, version_b=against,
                         sessions=sessions, chain=chain if chain.configured else None)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    a, b = result.columns
    table = Table(title=f"{kind} prompt: {a.version} vs {b.version} over "
                        f"{len(result.sessions)} session(s)", title_justify="left")
    table.add_column("")
    table.add_column(a.version, justify="right")
    table.add_column(b.version, justify="right")
    rows = [
        ("ratings so far (+/-)", f"{a.ups}/{a.downs}", f"{b.ups}/{b.downs}"),
        ("replies", str(len(a.replies)), str(len(b.replies))),
        ("mean length (words)", f"{a.mean_words:.1f}", f"{b.mean_words:.1f}"),
        ("figures cited (mean)", f"{a.mean_figures:.2f}", f"{b.mean_figures:.2f}"),
        ("grounded (all figures in the data)", f"{a.grounded}/{len(a.replies)}",
         f"{b.grounded}/{len(b.replies)}"),
        ("answered by", ", ".join(a.sources), ", ".join(b.sources)),
    ]
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    if a.replies and b.replies:
        console.print(f"[dim]{a.version}:[/] {escape(a.replies[0].text)}", highlight=False)
        console.print(f"[dim]{b.version}:[/] {escape(b.replies[0].text)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(coach_app, name="coach", rich_help_panel="Coach")
