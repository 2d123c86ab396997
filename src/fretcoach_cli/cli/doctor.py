"""`fretcoach doctor`: what works on this machine, each line OK/WARN/FAIL with the fix.

Each check is independent and catches its own failures, so one broken part (no PortAudio,
database down) never hides the others. Exit code 0 unless a FAIL line is printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import FretcoachError


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""


def _config() -> list[Check]:
    s = context.settings()
    where = str(s.path) if s.path.exists() else f"{s.path} (not created; defaults apply)"
    return [Check("config", "OK", f"user {s.user!r}; file {where}")]


def _database() -> list[Check]:
    from fretcoach_cli.store import open_database

    s = context.settings()
    t0 = time.perf_counter()
    with open_database(s) as db:
        state = db.migration_state()
        security = db.security
        checks = [Check("database", "OK",
                        f"{db.kind} PostgreSQL {db.server_version} at {db.display_location} "
                        f"({(time.perf_counter() - t0) * 1000:.0f} ms)")]
        if state.pending or state.mismatched:
            checks.append(Check("migrations", "FAIL",
                                f"level {state.level} of {state.latest}",
                                "run 'fretcoach db migrate'"))
        else:
            checks.append(Check("migrations", "OK", f"level {state.level} (latest)"))
        if security.ok:
            checks.append(Check("row-level security", "OK",
                                f"every table scoped to the current user ({security.mode})"))
        else:
            checks.append(Check("row-level security", "WARN", "; ".join(security.problems),
                                "see 'fretcoach db status'"))
    return checks


def _audio_input() -> list[Check]:
    from fretcoach_cli.audio.sources import import_sounddevice, input_devices

    sd = import_sounddevice()
    devices = input_devices(sd)
    if not devices:
        return [Check("audio input", "WARN", "PortAudio present, but no input device found",
                      "connect an audio interface or microphone; files work with --input")]
    default = next((d for d in devices if d["default"]), devices[0])
    return [Check("audio input", "OK",
                  f"{len(devices)} input device(s); default {default['index']}: {default['name']}")]


def _input_latency() -> list[Check]:
    """The stored latency of the selected input device (what practice subtracts)."""
    from fretcoach_cli.audio.sources import import_sounddevice, input_devices
    from fretcoach_cli.cli.calibrate import stored_for

    s = context.settings()
    try:
        if not input_devices(import_sounddevice()):
            return []  # the audio input line already says so
    except FretcoachError:
        return []  # no PortAudio: likewise
    dev, row = stored_for(s, s.input_device or None)
    if row is None:
        return [Check("input latency", "WARN", f"{dev['name']}: not calibrated: run "
                      "fretcoach calibrate", "fretcoach calibrate")]
    return [Check("input latency", "OK",
                  f"{dev['name']}: {row.latency_ms:.1f} ms ± {row.spread_ms:.1f} ({row.method}, "
                  f"{row.measured_at:%Y-%m-%d}), subtracted from every onset")]


def _pitch_models() -> list[Check]:
    from fretcoach_cli.audio import pitch

    models_dir = context.settings().data_path / "models"
    out = []
    for name in pitch.BACKENDS:
        st = pitch.status(name, models_dir=models_dir)
        if st.usable:
            out.append(Check(f"pitch model {name}", "OK", st.detail))
        else:
            status = "FAIL" if name == pitch.DEFAULT_BACKEND else "WARN"
            out.append(Check(f"pitch model {name}", status, st.detail,
                             f"fretcoach models install {name}" if name != "swift"
                             else "pip install swift-f0"))
    return out


#: Seconds a health check waits for a model's short answer.
PING_S = 15.0


def _llm() -> list[Check]:
    """Each configured model is asked for one word (short deadline): configured is not
    the same as answering, and a coach that silently falls back is worth knowing about."""
    from fretcoach_cli.llm.chain import ProviderChain

    chain = ProviderChain.from_settings(context.settings(), retries=0, timeout=PING_S)
    if not chain.configured:
        return [Check("coach", "OK", "offline coach (no language model configured)",
                      "optional: fretcoach config set llm_provider openai")]
    results = {r.link: r for r in chain.ping()}
    out = []
    for i, link in enumerate(chain.links):
        spec = link.spec
        role = "primary" if i == 0 else f"fallback {i}"
        result = results[spec.label]
        if spec.problem:
            out.append(Check(f"coach {role}", "WARN", f"{spec.label}: {spec.problem}",
                             "the offline coach answers instead"))
        elif result.ok:
            out.append(Check(f"coach {role}", "OK",
                             f"{spec.label} answers ({result.seconds * 1000:.0f} ms, key: "
                             f"{spec.key_origin})"))
        else:
            out.append(Check(f"coach {role}", "FAIL",
                             f"{spec.label} does not answer ({result.detail or result.kind})",
                             "start the model server or fix llm_base_url/llm_model; until "
                             "then the offline coach answers"))
    return out


def _tracing() -> list[Check]:
    s = context.settings()
    if (s.tracing or "none") in ("", "none"):
        return [Check("tracing", "OK", "off")]
    import importlib.util

    if importlib.util.find_spec("opik") is None:
        return [Check("tracing", "WARN", "tracing=opik but the opik package is missing",
                      "pip install 'fretcoach[opik]'")]
    return [Check("tracing", "OK", "Comet Opik (traces sent in the background)")]


CHECKS: tuple[tuple[str, Callable[[], list[Check]], str], ...] = (
    ("config", _config, "FAIL"),
    ("database", _database, "FAIL"),
    ("audio input", _audio_input, "WARN"),
    ("input latency", _input_latency, "WARN"),
    ("pitch models", _pitch_models, "FAIL"),
    ("coach", _llm, "WARN"),
    ("tracing", _tracing, "WARN"),
)


def run_checks() -> list[Check]:
    results: list[Check] = []
    for name, fn, failure in CHECKS:
        try:
            results.extend(fn())
        except FretcoachError as err:
            results.append(Check(name, failure, err.message, err.hint or ""))
        except Exception as exc:  # a broken check is itself a finding, never a crash
            results.append(Check(name, "FAIL", f"{type(exc).__name__}: {exc}",
                                 "rerun with --debug and report it"))
    return results


def doctor(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Check the database, audio input, pitch models, coach and tracing; print fixes."""
    results = run_checks()
    if as_json:
        typer.echo(json.dumps([asdict(c) for c in results], indent=2))
    else:
        from rich.console import Console
        from rich.markup import escape

        console = Console(highlight=False)
        style = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}
        for c in results:
            line = f"[{style[c.status]}]{c.status:<4}[/] {escape(c.name)}: {escape(c.detail)}"
            if c.fix and c.status != "OK" and c.fix not in c.detail:
                line += f" [dim]→ {escape(c.fix)}[/]"
            console.print(line)
    if any(c.status == "FAIL" for c in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", rich_help_panel="Setup")(doctor)
