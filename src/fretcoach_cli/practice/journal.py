"""A crash-safe, append-only journal of one practice session (JSON lines, fsync'd).

Every storage operation of a session is written here *before* it is sent to the database,
so a crash, ``kill -9``, power loss or an unreachable database loses nothing that reached
the journal. The live session holds an exclusive ``flock`` on its file; a journal nobody
holds belongs to a dead process and is replayed into the database on the next run (see
:func:`fretcoach_cli.practice.recorder.replay_journals`), then deleted once the database has
everything.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".jsonl"


def journal_dir(data_dir: Path) -> Path:
    path = Path(data_dir).expanduser() / "journal"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Journal:
    """The open, locked journal of a live session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise
        self.closed = False

    @classmethod
    def create(cls, data_dir: Path, session_uuid: str) -> Journal:
        return cls(journal_dir(data_dir) / f"{session_uuid}{SUFFIX}")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as a line and make it durable before returning."""
        line = json.dumps(record, separators=(",", ":"), default=_default) + "\n"
        os.write(self._fd, line.encode("utf-8"))
        os.fsync(self._fd)

    def close(self, *, delete: bool = False) -> None:
        """Release the lock; ``delete`` once the database holds everything."""
        if self.closed:
            return
        self.closed = True
        if delete:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float | int):
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_records(path: Path) -> list[dict[str, Any]]:
    """All complete records; a torn last line (power loss mid-write) is ignored."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


def any_journals(data_dir: Path) -> bool:
    """Whether any journal file exists (one directory read; nothing is created)."""
    try:
        with os.scandir(Path(data_dir).expanduser() / "journal") as entries:
            return any(e.name.endswith(SUFFIX) for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


def orphaned(data_dir: Path) -> Iterator[Path]:
    """Journals no live process holds (their session ended without reaching the database)."""
    for path in sorted(journal_dir(data_dir).glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live session owns it
        try:
            yield path
        finally:
            os.close(fd)
