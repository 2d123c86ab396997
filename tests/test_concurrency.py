"""Several fretcoach processes at once on one embedded server (issue 16, deliverable 6).

Each round starts four ``analyze --save`` processes with ``stats --json`` and
``history --json`` alongside, as real subprocesses on a data dir of their own that no test
process holds: the first to arrive starts the server, the others attach, the last one out
stops it (or it stays warm). A watcher thread scans ``/proc`` meanwhile and records every
postmaster serving that data dir, so "one server" is measured, not assumed. Afterwards the
stored sessions are counted through the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: the four shortest examples and their scales (one analyze process each per round)
CLIPS = {
    "a_minor_pentatonic_noisy.flac": "A minor pentatonic",
    "g_major_overdrive.flac": "G major",
    "e_major_steel_100bpm.flac": "E major",
    "low_e_a_sustained.flac": "E natural minor",
}
ROUNDS = 3
PROCESS_TIMEOUT_S = 120


def _postmasters(pgdata: Path) -> set[int]:
    """PIDs of live postmaster processes whose ``-D`` is ``pgdata``.

    A backend just forked still shows its parent's command line for a moment, and initdb runs
    ``postgres --boot``/``--single``: only a process whose parent is not itself one of them,
    and that runs no such special mode, is a postmaster.
    """
    found: dict[int, int] = {}  # pid -> parent pid
    target = str(pgdata)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if not args or not args[0].endswith("/postgres") or "-D" not in args:
            continue
        i = args.index("-D")
        if i + 1 >= len(args) or os.path.realpath(args[i + 1]) != target \
                or {"--boot", "--single", "--check", "-C"} & set(args):
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = ppid
    return {pid for pid, ppid in found.items() if ppid not in found}


class Watcher(threading.Thread):
    """Samples the postmasters of one data dir until stopped."""

    def __init__(self, pgdata: Path) -> None:
        super().__init__(daemon=True)
        self.pgdata = pgdata
        self.seen: set[int] = set()
        self.most_at_once = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = _postmasters(self.pgdata)
            self.seen |= now
            self.most_at_once = max(self.most_at_once, len(now))
            self.samples += 1
            self._stop_event.wait(0.02)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


@pytest.fixture
def own_data_dir(test_env: dict[str, str]) -> Iterator[Path]:
    """A fresh data dir under the test run's directory (removed with it); its server is
    stopped at the end if it stayed up."""
    data_dir = Path(test_env["FRETCOACH_DATA_DIR"]).parent / f"concurrency-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(parents=True)
    yield data_dir
    from fretcoach_cli.store.server import ensure_server, pgdata_for, postmaster_pid, release_server

    if postmaster_pid(pgdata_for(data_dir).resolve()) is not None:
        ensure_server(data_dir)  # attach, then leave as the last user: the server stops
        release_server(data_dir)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    return proc.returncode, out, err


def test_four_analyses_with_reports_alongside(own_data_dir: Path,
                                              test_env: dict[str, str]) -> None:
    user = f"conc-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **test_env, "FRETCOACH_DATA_DIR": str(own_data_dir)}
    common = ["--user", user]
    pgdata = (own_data_dir / "pg").resolve()
    own_data_dir.joinpath("pg").mkdir()  # so the watcher's path resolves like the server's
    watcher = Watcher(pgdata)
    watcher.start()
    results: list[tuple[str, int, str, str]] = []
    notes_by_scale: dict[str, set[int]] = {}  # what each analysis reported it found
    t0 = time.monotonic()
    try:
        for round_no in range(ROUNDS):
            procs: list[tuple[str, subprocess.Popen[str]]] = []
            for clip, scale in CLIPS.items():
                procs.append((f"analyze {clip}", _start(
                    [*common, "analyze", str(EXAMPLES / clip), "--scale", scale, "--save",
                     "--json"], env)))
            procs.append(("stats", _start([*common, "stats", "--json"], env)))
            procs.append(("history", _start([*common, "history", "--json", "-n", "100"], env)))
            for name, proc in procs:
                code, out, err = _finish(proc)
                results.append((f"round {round_no + 1}: {name}", code, out, err))
                assert code == 0, f"round {round_no + 1}: {name} exited {code}: {err.strip()}"
                assert "Traceback" not in err and "internal error" not in err, err
                doc = json.loads(out)
                if name == "stats":  # sees the sessions of earlier rounds, maybe some of this
                    n = doc["totals"]["sessions"]
                    assert 4 * round_no <= n <= 4 * (round_no + 1), (round_no, n)
                elif name == "history":
                    assert 4 * round_no <= doc["count"] <= 4 * (round_no + 1), doc["count"]
                else:
                    notes_by_scale.setdefault(doc["scale"]["name"], set()).add(
                        doc["metrics"]["total_notes_played"])
    finally:
        watcher.stop()
    elapsed = time.monotonic() - t0

    processes = len(results)
    assert processes == ROUNDS * (len(CLIPS) + 2)
    assert watcher.samples > 10, "the watcher did not sample"
    assert watcher.seen, "no postmaster seen for the data dir"
    assert watcher.most_at_once == 1, (
        f"{watcher.most_at_once} postmasters at once for {pgdata}: {sorted(watcher.seen)}")

    # the right counts afterwards: every analysis stored once, nothing else
    code, out, err = _finish(_start([*common, "history", "--json", "-n", "100"], env))
    assert code == 0, err
    history = json.loads(out)
    assert history["count"] == ROUNDS * len(CLIPS)
    by_scale: dict[str, int] = {}
    for s in history["sessions"]:
        by_scale[s["scale_chosen"]] = by_scale.get(s["scale_chosen"], 0) + 1
        assert s["status"] == "completed", s
        assert s["total_notes_played"] > 0, s
        # stored as analysed (the same clip gives the same notes in every round)
        assert {s["total_notes_played"]} == notes_by_scale[s["scale_chosen"]], s
    assert len({s["session_id"] for s in history["sessions"]}) == ROUNDS * len(CLIPS)
    expected: dict[str, int] = {}
    for scale in CLIPS.values():
        expected[scale] = expected.get(scale, 0) + ROUNDS
    assert by_scale == expected
    code, out, err = _finish(_start([*common, "stats", "--json"], env))
    assert code == 0, err
    assert json.loads(out)["totals"]["sessions"] == ROUNDS * len(CLIPS)
    print(f"\nconcurrency: {processes} of {processes} processes exited 0 over {ROUNDS} rounds "
          f"in {elapsed:.1f} s; postmasters seen {len(watcher.seen)} "
          f"(at most {watcher.most_at_once} at once); sessions stored "
          f"{history['count']} of {ROUNDS * len(CLIPS)}")
