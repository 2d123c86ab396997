"""`fretcoach devices` (list inputs) and `fretcoach devices test` (level, clipping, pitch)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import typer

from fretcoach_cli.cli import context

if TYPE_CHECKING:
    import numpy as np

    from fretcoach_cli.audio.pitch import PitchBackend

devices_app = typer.Typer(help="List and test audio input devices.", invoke_without_command=True)


# What to do without a sound card, in forms the commands accept (`analyze` takes the file
# as its argument; `practice` and `tune` take --input FILE).
NO_DEVICE_HINT = ("connect a microphone or audio interface, or work from a recording: "
                  "fretcoach analyze FILE --scale S, or practice --input FILE")


@devices_app.callback()
def devices(ctx: typer.Context,
            as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
            ) -> None:
    """List input devices (index, name, channels, default rate; * = default)."""
    if ctx.invoked_subcommand is not None:
        return
    from fretcoach_cli.audio.sources import input_devices
    from fretcoach_cli.errors import AudioError

    devs = input_devices()
    if as_json:
        typer.echo(json.dumps(devs, indent=2))
        if not devs:
            raise AudioError("no audio input device found", hint=NO_DEVICE_HINT)
        return
    if not devs:
        raise AudioError("no audio input device found", hint=NO_DEVICE_HINT)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="audio inputs", title_justify="left")
    for col in ("", "index", "name", "channels", "default rate", "host API"):
        table.add_column(col)
    for d in devs:
        table.add_row("*" if d["default"] else "", str(d["index"]), d["name"],
                      str(d["channels"]), f"{d['default_rate']:.0f} Hz", d["hostapi"])
    Console().print(table)


@devices_app.command("test")
def test(device: str = typer.Argument(None, help="Index or part of the name (default: "
                                                 "the configured input_device)."),
         seconds: float = typer.Option(3.0, "--seconds", "-s", min=0.5, max=60,
                                       help="How long to listen."),
         channel: int = typer.Option(None, "--channel", "-c", min=1,
                                     help="Input channel (1-based)."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
         ) -> None:
    """Listen for a few seconds: report level, clipping and whether a guitar pitch was heard."""
    import numpy as np

    from fretcoach_cli.audio.pitch import get_backend
    from fretcoach_cli.audio.sources import MicSource
    from fretcoach_cli.errors import AudioError

    s = context.settings()
    try:
        mic = MicSource(device if device is not None else (s.input_device or None),
                        channel=channel or int(s.input_channel))
        mic.open()
    except AudioError as exc:
        if exc.message == "no audio input device found":
            raise AudioError(exc.message, hint=NO_DEVICE_HINT) from None
        raise
    blocks = []
    try:
        got = 0
        deadline = time.monotonic() + seconds + 2.0
        while got < seconds * mic.rate and time.monotonic() < deadline:
            b = mic.read(0.2)
            if b is not None and len(b):
                blocks.append(b)
                got += len(b)
    finally:
        mic.close()
    audio = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    report = summarize(audio, get_backend("swift"))
    report.update(device=mic.label, overflows=mic.overflows + mic.dropped_blocks)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"device   {report['device']}")
    typer.echo(f"level    rms {report['rms_db']:.1f} dBFS, peak {report['peak_db']:.1f} dBFS"
               + ("  CLIPPING: turn the input gain down" if report["clipped"] else ""))
    if report["pitch_hz"]:
        typer.echo(f"pitch    heard {report['note']} ({report['pitch_hz']:.1f} Hz) in "
                   f"{report['voiced_share'] * 100:.0f} % of the time")
    else:
        typer.echo("pitch    no clear guitar pitch heard: play a single note and retry")
    if report["overflows"]:
        typer.echo(f"warning  {report['overflows']} input overflow(s)")


def summarize(audio: np.ndarray, backend: PitchBackend) -> dict[str, Any]:
    """Level, clipping and the dominant pitch of a short recording (16 kHz mono)."""
    import numpy as np

    from fretcoach_cli.music.notes import hz_to_midi, note_name

    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    out = {"seconds": len(audio) / 16000, "rms_db": 20 * np.log10(max(rms, 1e-7)),
           "peak_db": 20 * np.log10(max(peak, 1e-7)), "clipped": peak >= 0.999,
           "pitch_hz": None, "note": None, "voiced_share": 0.0}
    if len(audio) >= 4096:
        tr = backend.track(audio)
        voiced = (tr.confidence >= 0.5) & (tr.f0 >= 70) & (tr.f0 <= 1400)
        out["voiced_share"] = float(voiced.mean())
        if voiced.sum() >= 5:
            hz = float(np.median(tr.f0[voiced]))
            out["pitch_hz"], out["note"] = hz, note_name(hz_to_midi(hz))
    return out


def register(app: typer.Typer) -> None:
    app.add_typer(devices_app, name="devices", rich_help_panel="Setup")
