"""music and scoring are pure: importing them pulls in no UI, no audio, no database."""

from __future__ import annotations

import subprocess
import sys
import textwrap

FORBIDDEN = ("typer", "rich", "textual", "click", "numpy", "scipy", "psycopg", "onnxruntime",
             "sounddevice", "soundfile", "langchain", "fretcoach_cli.cli", "fretcoach_cli.tui",
             "fretcoach_cli.store", "fretcoach_cli.audio")


def test_core_imports_nothing_heavy() -> None:
    code = textwrap.dedent(f"""
        import sys
        import fretcoach_cli.music.notes, fretcoach_cli.music.scales
        import fretcoach_cli.music.fretboard
        import fretcoach_cli.scoring.judge, fretcoach_cli.scoring.metrics
        from fretcoach_cli.music.scales import parse_scale
        from fretcoach_cli.scoring.metrics import compute_metrics
        from fretcoach_cli.events import NoteEvent
        compute_metrics([NoteEvent(0, 1, 57.0, 1.0)], parse_scale("A minor pentatonic"))
        try:
            parse_scale("A minor pentatnic")
        except Exception:
            pass
        bad = [m for m in {FORBIDDEN!r} if any(k == m or k.startswith(m + ".")
                                                for k in sys.modules)]
        print("BAD:" + ",".join(bad))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "BAD:", out.stdout
