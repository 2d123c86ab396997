"""Durability under faults: kill practice, or its database server, at random moments.

    python bench/durability.py [--client-trials 100] [--server-trials 30] [--seed 1]

One command, prints counts (no pass/fail). Every trial runs a real ``fretcoach practice
--input examples/a_minor_pentatonic_clean.flac --no-tui --no-coach`` at real-time speed, as its
own user, on an embedded PostgreSQL under a throw-away data directory:

* **client kill** — SIGKILL of the practice process 1–9 s (wall) after it starts; then one
  ordinary command (``history --json``), which must replay the journal and sweep the dead
  writer. Counted: notes that had reached the journal but not the database after that
  command, sessions with notes that were lost, stored notes that are not an exact prefix of
  the recording's notes (a gap or a duplicate), and how much audio before the kill is
  missing at the tail (an upper bound: audio at kill = kill time − the session row's start
  time, which is before the pitch model has loaded).
* **server kill** — SIGKILL of the embedded postmaster 1–6 s into an 8 s session; practice
  goes on (journaling) and exits; then ``history --json`` must restart the server and show
  the session with every note the recording has in those 8 s.

The recording's notes come from the same engine (``analyze_file``), so a stored session is
compared note by note with what the player played.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "examples" / "a_minor_pentatonic_clean.flac"
SCALE = "A minor pentatonic"


def fretcoach(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def start_practice(env: dict[str, str], user: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fretcoach_cli.cli.main", "--user", user,
                             "practice", "--scale", SCALE, "--input", str(CLIP), "--no-tui",
                             "--no-coach", *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def stored(env: dict[str, str], user: str) -> tuple[dict | None, list[dict], str]:
    """The user's session (after an ordinary command ran first) and its notes."""
    listing = fretcoach(env, "--user", user, "history", "--json", "--status", "all")
    if listing.returncode != 0:
        return None, [], listing.stderr.strip()
    rows = json.loads(listing.stdout)
    rows = rows.get("sessions", rows) if isinstance(rows, dict) else rows
    if not rows:
        return None, [], ""
    sid = rows[0]["session_id"]
    shown = fretcoach(env, "--user", user, "sessions", "show", sid, "--notes", "--json")
    if shown.returncode != 0:
        return rows[0], [], shown.stderr.strip()
    doc = json.loads(shown.stdout)
    return doc.get("session", rows[0]), doc.get("notes") or [], ""


def journaled_notes(data: Path) -> int:
    """Note rows in the (one) journal a killed session left: what had reached the disk."""
    from fretcoach_cli.practice.journal import journal_dir, read_records

    seqs = set()
    for path in journal_dir(data).glob("*.jsonl"):
        for rec in read_records(path):
            if rec.get("op") == "notes":
                seqs.update(int(n["seq"]) for n in rec["notes"])
    return len(seqs)


def is_prefix(got: list[dict], want: list) -> bool:
    return len(got) <= len(want) and all(
        abs(g["onset_s"] - w.onset_s) < 1e-4 for g, w in zip(got, want, strict=False))


def postmaster(data: Path) -> int | None:
    try:
        return int((data / "pg" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client-trials", type=int, default=100)
    ap.add_argument("--server-trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    from fretcoach_cli.audio.engine import analyze_file

    notes = analyze_file(CLIP).notes
    work = Path(tempfile.mkdtemp(prefix="fretcoach-durability-", dir="/tmp"))
    env = {**os.environ, "FRETCOACH_DATA_DIR": str(work / "data"),
           "FRETCOACH_CONFIG": str(work / "config.toml")}
    for name in ("DATABASE_URL", "FRETCOACH_DATABASE_URL", "OPENAI_API_KEY", "GOOGLE_API_KEY",
                 "FRETCOACH_LLM_PROVIDER"):
        env.pop(name, None)
    fretcoach(env, "db", "status")  # create and migrate the data directory once

    lost_sessions = gaps = errors = with_notes = unsaved = journaled_total = 0
    tails: list[float] = []
    late = 0  # trials missing a note that began more than 2 s of audio before the kill
    for i in range(args.client_trials):
        user = f"client-{i}"
        proc = start_practice(env, user)
        launched = time.time()
        time.sleep(rng.uniform(1.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        killed = time.time()
        proc.wait()
        journaled = journaled_notes(work / "data")
        session, got, err = stored(env, user)
        if err:
            errors += 1
            print(f"  client trial {i}: {err}", file=sys.stderr)
            continue
        if session is None:
            continue  # killed before the session row or any note existed
        start = datetime.fromisoformat(session["start_time"]).timestamp()
        audio_at_kill = killed - max(start, launched)
        heard = [n for n in notes if n.onset_s < audio_at_kill - 2.0]
        with_notes += bool(heard)
        if heard and not got:
            lost_sessions += 1
        if not is_prefix(got, notes):
            gaps += 1
        if len(got) < len(heard):
            late += 1
        unsaved += max(0, journaled - len(got))
        journaled_total += journaled
        if got:
            tails.append(max(0.0, audio_at_kill - got[-1]["onset_s"]))
        print(f"  client {i:3d}: killed at ≤ {audio_at_kill:4.1f} s of audio, {journaled} "
              f"notes journaled, {len(got)} stored ({len(heard)} began > 2 s before it)",
              file=sys.stderr)

    print(f"client kills: {args.client_trials} trials, {with_notes} with notes heard > 2 s "
          f"before the kill")
    print(f"  notes journaled before the kill: {journaled_total}; of those not in the database "
          f"after the next command: {unsaved}; sessions with notes lost: {lost_sessions}; "
          f"stored notes not an exact prefix of the recording's (gap/duplicate): {gaps}; "
          f"next-command errors: {errors}")
    print(f"  trials missing a note that began > 2 s before the kill: {late} (the kill time "
          f"in audio is an upper bound: it counts from the session row, before the pitch "
          f"model has loaded)")
    if tails:
        print(f"  audio before the kill not stored (last stored onset → kill): median "
              f"{statistics.median(tails):.2f} s, max {max(tails):.2f} s")

    srv_ok = srv_missing = srv_errors = 0
    exit_codes: dict[int, int] = {}
    for i in range(args.server_trials):
        user = f"server-{i}"
        proc = start_practice(env, user, "--duration", "8s")
        time.sleep(rng.uniform(1.0, 6.0))
        pid = postmaster(work / "data")
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # a stale pid file: the server was already gone
                pid = None
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -9
        exit_codes[code] = exit_codes.get(code, 0) + 1
        session, got, err = stored(env, user)
        if err:
            srv_errors += 1
            print(f"  server trial {i}: {err}", file=sys.stderr)
            continue
        want = [n for n in notes if n.onset_s < 8.0]
        if session is not None and is_prefix(got, notes) and len(got) >= len(want) - 1:
            srv_ok += 1
        else:
            srv_missing += 1
        print(f"  server {i:3d}: practice exit {code}, {len(got)}/{len(want)} notes stored",
              file=sys.stderr)

    print(f"server kills: {args.server_trials} trials; sessions whole after the next command: "
          f"{srv_ok}; missing notes: {srv_missing}; next-command errors (the server must come "
          f"back): {srv_errors}; practice exit codes: "
          f"{dict(sorted(exit_codes.items()))}")
    fretcoach(env, "db", "status")


if __name__ == "__main__":
    main()
