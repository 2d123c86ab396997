"""Run ``fretcoach`` in a fresh interpreter and report its exit code and which of the given
modules it imported: what start-up tests check (a subprocess, since this one has imported
everything already)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

_PROBE = """
import json, sys
from fretcoach_cli.cli.main import run
try:
    run(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted({m.split('.')[0] if not m.startswith('fretcoach_cli') else m
                for m in sys.modules if m.startswith(%r)})
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(args: list[str], heavy: tuple[str, ...], env: Mapping[str, str] | None = None
          ) -> tuple[str, str, dict]:
    """(stdout, stderr without the report line, {"code", "heavy"}) of one run."""
    p = subprocess.run([sys.executable, "-c", _PROBE % (heavy,), *args], env=env,
                       capture_output=True, text=True, timeout=120)
    *err, last = p.stderr.strip().splitlines()
    return p.stdout, "\n".join(err), json.loads(last)
