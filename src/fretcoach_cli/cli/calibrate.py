"""`fretcoach calibrate`: measure, store, show and clear the input latency of a device.

Three ways in: play along to clicks (default), an output-to-input loopback (``--loopback``),
or a recorded play-along take (``--input FILE --bpm N``, its first click at t = 0). The
measurement is audio/latency.py; the stored figure (store/latency.py, per user and device)
is what ``practice`` subtracts from every onset before timing is judged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import AudioError, FretcoachError, NotFoundError, UsageError

MAX_LATENCY_MS = 500.0


def register(app: typer.Typer) -> None:
    app.command("calibrate", rich_help_panel="Setup")(calibrate)


def calibrate(
    device: str | None = typer.Option(None, "--device", help="Input device index or name "
                                      "(default: the configured input_device)."),
    output: str | None = typer.Option(None, "--output-device", help="Output device for the "
                                      "clicks or chirps (default: the default output)."),
    loopback: bool = typer.Option(False, "--loopback", help="Measure through an output wired "
                                  "to the input (cable, JACK/ALSA loopback) with chirps."),
    input_file: Path | None = typer.Option(None, "--input", "-i", help="Analyse a recorded "
                                           "play-along take instead: one pluck per click, "
                                           "the first click at t=0 (needs --bpm). Stored "
                                           "only with --device."),
    bpm: float | None = typer.Option(None, "--bpm", help="Click tempo (default 80 live; "
                                     "required with --input)."),
    clicks: int | None = typer.Option(None, "--clicks", min=6, max=200, help="Clicks to play "
                                      "along to (default 16; with --input: as many as fit)."),
    count_in: int = typer.Option(4, "--count-in", min=0, max=16, help="Count-in beats "
                                 "before the first click to pluck on (live)."),
    repeats: int = typer.Option(8, "--repeats", min=3, max=50, help="Chirps (--loopback)."),
    show: bool = typer.Option(False, "--show", help="List the stored calibrations."),
    clear: bool = typer.Option(False, "--clear", help="Forget the stored calibration of "
                               "--device (every device without --device)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Measure your input's latency and store it; practice judges timing without it."""
    from fretcoach_cli.music.tempo import validate_bpm

    if sum((show, clear, loopback, input_file is not None)) > 1:
        raise UsageError("give one of --show, --clear, --loopback, --input")
    if show:
        return _show(as_json)
    if clear:
        return _clear(device, as_json)
    if input_file is not None:
        if bpm is None:
            raise UsageError("--input needs the take's tempo: --bpm N",
                             hint="the clicks are every beat from t=0")
        return _from_file(input_file, validate_bpm(bpm), clicks, device, as_json)
    tempo = validate_bpm(bpm if bpm is not None else 80.0)
    _live(device, output, loopback=loopback, bpm=tempo, clicks=clicks or 16,
          count_in=count_in, repeats=repeats, as_json=as_json)


# -- measuring --------------------------------------------------------------------------------
def _from_file(path: Path, bpm: float, clicks: int | None, device: str | None,
               as_json: bool) -> None:
    import soundfile as sf

    from fretcoach_cli.audio.latency import analyze_take

    if not path.exists():
        raise NotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise NotFoundError(f"{path} is a directory, not a recording")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile.LibsndfileError and friends
        raise AudioError(f"cannot read {path}: {exc}") from None
    settings = context.settings()
    dev = _input_device(device) if device is not None else None  # checked before analysing
    estimate = analyze_take(data.mean(axis=1), int(rate), bpm=bpm, clicks=clicks,
                            pitch_model=settings.pitch_model,
                            sensitivity=float(settings.sensitivity))
    saved = None if dev is None else _save(settings, dev, estimate, output=None, rate=int(rate))
    _report(estimate, saved, source=str(path), as_json=as_json)


def _live(device: str | None, output: str | None, *, loopback: bool, bpm: float, clicks: int,
          count_in: int, repeats: int, as_json: bool) -> None:
    from fretcoach_cli.audio import latency
    from fretcoach_cli.audio.sources import import_sounddevice

    settings = context.settings(input_device=device) if device is not None else \
        context.settings()
    sd = import_sounddevice()
    dev = _input_device(settings.input_device)
    out = latency.output_device(sd, output)
    rate = latency.duplex_rate(sd, dev["index"], out["index"], dev["default_rate"])
    if loopback:
        estimate = latency.measure_loopback(dev["index"], out["index"], rate=rate,
                                            repeats=repeats, sd=sd)
    else:
        if not as_json:
            typer.echo(f"listen: {count_in} count-in clicks, then pluck one note on each of "
                       f"the next {clicks} clicks ({bpm:g} bpm)", err=True)
        take, first = latency.record_play_along(dev["index"], out["index"], rate=rate,
                                                bpm=bpm, count_in=count_in, clicks=clicks,
                                                sd=sd)
        estimate = latency.analyze_take(take, rate, bpm=bpm, clicks=clicks, grid_start_s=first,
                                        pitch_model=settings.pitch_model,
                                        sensitivity=float(settings.sensitivity))
    saved = _save(settings, dev, estimate, output=str(out["name"]), rate=rate)
    _report(estimate, saved, source=f"{dev['name']} → {out['name']}", as_json=as_json)


def _input_device(spec: str | None) -> dict[str, Any]:
    from fretcoach_cli.audio.sources import input_devices, resolve_device

    return resolve_device(spec or None, input_devices())


# -- storing ----------------------------------------------------------------------------------
def _save(settings: Any, dev: dict[str, Any], estimate: Any, *, output: str | None,
          rate: int) -> Any:
    from fretcoach_cli.audio.latency import device_key
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.latency import Latencies

    with open_database(settings) as db, db.connect(settings.user) as conn:
        return Latencies(conn).save(
            device_key=device_key(dev), device_name=str(dev["name"]),
            latency_ms=estimate.latency_ms, spread_ms=estimate.spread_ms, hits=estimate.hits,
            attempts=estimate.attempts, method=estimate.method, output_device=output,
            sample_rate=rate)


def _rows() -> list[Any]:
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.latency import Latencies

    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn:
        return Latencies(conn).list()


def _show(as_json: bool) -> None:
    rows = _rows()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo("no device calibrated: run fretcoach calibrate")
        return
    for r in rows:
        typer.echo(_describe(r))


def _clear(device: str | None, as_json: bool) -> None:
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.latency import Latencies

    settings = context.settings()
    with open_database(settings) as db, db.connect(settings.user) as conn:
        store = Latencies(conn)
        if device is None:
            gone = store.clear()
        else:
            row = _match(store.list(), device)
            gone = store.clear(row.device_key)
    if as_json:
        typer.echo(json.dumps({"cleared": gone}))
    else:
        typer.echo(f"cleared {gone} calibration{'s' if gone != 1 else ''}")


def _match(rows: list[Any], spec: str) -> Any:
    """A stored calibration by key or part of its device name (the device may be gone)."""
    text = " ".join(spec.lower().split())
    hits = [r for r in rows if text in (r.device_key, r.device_name.lower())] or \
        [r for r in rows if text in r.device_key]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NotFoundError(f"no stored calibration for {spec!r}",
                            hint="see 'fretcoach calibrate --show'")
    raise UsageError(f"{spec!r} matches {len(hits)} calibrated devices",
                     hint="give the device key from 'fretcoach calibrate --show'")


# -- output -----------------------------------------------------------------------------------
def _describe(row: Any) -> str:
    return (f"{row.device_name}: {row.latency_ms:.1f} ms ± {row.spread_ms:.1f} "
            f"({row.method}, {row.hits} of {row.attempts}, "
            f"{row.measured_at:%Y-%m-%d %H:%M})  [{row.device_key}]")


def _report(estimate: Any, saved: Any, *, source: str, as_json: bool) -> None:
    if as_json:
        payload = {**estimate.to_dict(), "source": source,
                   "saved": saved.to_dict() if saved is not None else None}
        typer.echo(json.dumps(payload, indent=2))
        return
    where = f"saved for {saved.device_name}" if saved is not None else \
        "not saved (give --device to store it)"
    typer.echo(f"latency {estimate.latency_ms:.1f} ms ± {estimate.spread_ms:.1f} ms "
               f"({estimate.hits} of {estimate.attempts} {estimate.method} measurements, "
               f"median; spread = standard deviation) — {where}")


# -- applying it (practice) -----------------------------------------------------------------
def check_latency_ms(value: float | None) -> float | None:
    """``--latency-ms``: a plausible delay, or a one-line usage error."""
    if value is not None and not -MAX_LATENCY_MS < value < MAX_LATENCY_MS:
        raise UsageError(f"--latency-ms {value:g} is out of range",
                         hint=f"use a value between -{MAX_LATENCY_MS:g} and {MAX_LATENCY_MS:g}")
    return value


def input_latency_s(settings: Any, source: Any, kind: str, latency_ms: float | None) -> float:
    """The latency practice subtracts from onsets: ``--latency-ms`` when given; none for a
    file; else the stored calibration of the microphone's device (none if not calibrated or
    the database cannot say — the session must not fail over it)."""
    if latency_ms is not None:
        return float(latency_ms) / 1000.0
    dev = getattr(source, "device", None)
    if kind != "mic" or not dev:
        return 0.0
    from fretcoach_cli.audio.latency import device_key
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.latency import Latencies

    try:
        with open_database(settings) as db, db.connect(settings.user) as conn:
            row = Latencies(conn).get(device_key(dev))
    except FretcoachError:
        return 0.0
    return 0.0 if row is None else row.latency_ms / 1000.0


def stored_for(settings: Any, spec: str | None) -> tuple[dict[str, Any], Any]:
    """(input device, its stored calibration or None) for doctor."""
    from fretcoach_cli.audio.latency import device_key
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.latency import Latencies

    dev = _input_device(spec)
    with open_database(settings) as db, db.connect(settings.user) as conn:
        return dev, Latencies(conn).get(device_key(dev))
