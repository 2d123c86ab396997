"""A fuzzed CLI: hypothesis draws options and arguments for every subcommand (issue 16, part 3).

Each example runs ``fretcoach_cli.cli.main.run`` in-process inside typer's ``CliRunner``
isolation (so the real error mapping of the console script applies) against the test
PostgreSQL, as a fresh user. The contract checked on every run:

* no traceback and no "internal error" anywhere in the output;
* exit 0, or exactly one stderr line ``fretcoach: error: ...`` and a documented exit code
  (README "Exit codes") other than 1, the "unexpected error" code.

Values are hostile on purpose: unicode, empty and blank strings, huge, negative and zero
numbers, NaN/inf, odd dates, paths that do not exist, directories, broken symlinks, binary
files. Bounded for CI: few examples per command, ``derandomize=True`` (fixed seed),
``deadline=None``. Never a real microphone or a language model (the LLM variables are
cleared); what would need one is excluded below with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fretcoach_cli.cli import main
from fretcoach_cli.errors import ExitCode

main._register_commands()
_runner = CliRunner()
_FIXED = Path(tempfile.mkdtemp(prefix="fretcoach-fuzz-"))

LLM_VARS = ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "FRETCOACH_LLM_PROVIDER",
            "FRETCOACH_LLM_BASE_URL", "FRETCOACH_LLM_API_KEY", "FRETCOACH_LLM_FALLBACKS",
            "FRETCOACH_LLM_MODEL", "FRETCOACH_TRACING")
DOCUMENTED = {int(code) for code in ExitCode} - {int(ExitCode.ERROR), int(ExitCode.INTERRUPTED)}


def _fixture_files() -> dict[str, Path]:
    """Files every path strategy draws from (made once per run, read-only thereafter)."""
    import soundfile as sf

    files = {"dir": _FIXED / "a directory", "missing": _FIXED / "no such file.wav",
             "broken_link": _FIXED / "broken link.wav", "empty": _FIXED / "empty.json",
             "binary": _FIXED / "binary.json", "text_wav": _FIXED / "text.wav",
             "json_list": _FIXED / "list.json", "clip": _FIXED / "clip é.wav",
             "nested_missing": _FIXED / "nowhere" / "deeper" / "out.json"}
    files["dir"].mkdir(exist_ok=True)
    if not files["broken_link"].is_symlink():
        files["broken_link"].symlink_to(_FIXED / "target that does not exist")
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["text_wav"].write_text("this is not audio\n")
    files["json_list"].write_text('[1, "two", {"sessions": null}]')
    sr = 22050
    t = np.arange(int(0.4 * sr)) / sr
    clip = np.concatenate([0.4 * np.sin(2 * np.pi * f * t) * np.exp(-3 * t)
                           for f in (220.0, 261.63, 293.66)])
    sf.write(files["clip"], clip.astype(np.float32), sr)
    return files


FILES = _fixture_files()


@pytest.fixture(autouse=True, scope="module")
def _server(database) -> Iterator[None]:
    """Every command here runs against the test run's PostgreSQL (started once); at the end
    the runs per command and exit code are printed (shown with ``-s``)."""
    yield
    print("\nfuzzed runs (command, exit code): count")
    for (command, code), n in sorted(SEEN.items()):
        print(f"  {command or '?':<22} {code:>3}: {n:>3}  e.g. {FIRST[command, code]!r:.220}")
    print(f"  total: {sum(SEEN.values())}")
    shutil.rmtree(_FIXED, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def _no_llm_env() -> Iterator[None]:
    """No language model: the coach and chat fall back to their offline rules."""
    saved = {name: os.environ.pop(name) for name in LLM_VARS if name in os.environ}
    os.environ["FRETCOACH_LLM_RETRIES"] = "0"
    yield
    os.environ.pop("FRETCOACH_LLM_RETRIES", None)
    os.environ.update(saved)


def invoke(argv: list[str], *, stdin: str | None = None,
           env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the console script's ``run`` in-process; return (exit code, stdout, stderr)."""
    with mock.patch.object(main, "_register_commands", lambda *_a, **_k: None), \
            _runner.isolation(input=stdin, env=env) as (out, err, _):
        try:
            main.run(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        # anything else escaping run() is itself a bug: let it fail the test with its traceback
        sys.stdout.flush()  # the isolation's text wrappers buffer: read only what was flushed
        sys.stderr.flush()
        return code, out.getvalue().decode(errors="replace"), err.getvalue().decode(
            errors="replace")


# With the test server up, reports and setup fail only on bad input (2), a missing id or file
# (3) or a bad config value (7); audio commands may also say "unreadable audio" (5) or
# "no notes" (8); only sync, which talks to another server, may say "database" (4).
REPORT_CODES = {0, 2, 3, 7}
AUDIO_CODES = {0, 2, 3, 5, 7, 8}


SEEN: Counter[tuple[str, int]] = Counter()
FIRST: dict[tuple[str, int], tuple[list[str], str]] = {}  # one sample run of each


def check(argv: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None,
          user: str | None = None, codes: set[int] = REPORT_CODES,
          declined: str | None = None) -> tuple[int, str, str]:
    """Invoke as a fresh user and assert the error contract; return the result.

    ``declined``: the line a command ends with, exit 1, when its confirmation is answered
    "n" (``sessions delete``: "nothing deleted"; pinned by tests/test_history_cli.py)."""
    full = ["--user", user or f"fuzz-{uuid.uuid4().hex[:10]}", *argv]
    code, out, err = invoke(full, stdin=stdin, env=env)
    key = (" ".join(a for a in argv[:2] if a.isidentifier() and a.islower()), code)
    SEEN[key] += 1
    FIRST.setdefault(key, (full[2:], err.strip()[:160]))
    shown = f"argv={full!r}\nexit={code}\nstderr={err[-2000:]!r}\nstdout={out[-500:]!r}"
    assert "Traceback" not in out + err, shown
    assert "internal error" not in err, shown
    if declined is not None and code == 1 and err.endswith(f"{declined}\n"):
        return code, out, err
    if code != 0:
        lines = err.splitlines()
        assert len(lines) == 1, shown
        assert lines[0].startswith("fretcoach: error: ") and len(lines[0]) > 18, shown
        assert code in DOCUMENTED, shown
    assert code in codes, shown
    return code, out, err


# ---- value strategies -------------------------------------------------------------------------

# No NUL: a real argv cannot hold one (exec refuses it), so it is not an input a user can give.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=24)
ODD_TEXT = st.sampled_from(["", " ", "-", "--", "é", "日本語", "🎸", "a" * 300, "%s", "{0}",
                            "'; DROP TABLE x;--", "\\", "\n", "\t", "NULL", "None", "0", "-1",
                            "1e309"])
# Bytes that are not UTF-8, as Python hands them over in argv (lone surrogates).
ARGV_BYTES = st.binary(min_size=1, max_size=12).filter(lambda b: b"\x00" not in b).map(
    lambda b: b.decode("utf-8", "surrogateescape"))
STRING = st.one_of(TEXT, ODD_TEXT, ARGV_BYTES)
NUMBER = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "-0", "1", "-1", "nan", "inf", "-inf", "1e309", "2**63", "0x10", "",
                     " 3 ", "9223372036854775808", "4294967296", "1_000", "½"]),
    TEXT,
)


def num(lo: float, hi: float) -> st.SearchStrategy[str]:
    """Half the time a value in the option's valid range, else any hostile number."""
    return st.one_of(st.floats(lo, hi).map(lambda v: f"{v:g}"), NUMBER)


def valid(lo: float, hi: float) -> st.SearchStrategy[str]:
    """A value in the option's valid range, written as a user would."""
    return st.floats(lo, hi).map(lambda v: f"{v:.6g}")


DATE = st.one_of(
    st.sampled_from(["", " ", "today", "yesterday", "tomorrow", "7d", "0d", "-7d", "4w", "3m",
                     "99999999d", "1000000w", "9999999m", "2024-02-30", "2024-02-29",
                     "2023-02-29", "0000-00-00", "0001-01-01", "9999-12-31", "2024-13-01",
                     "2024/01/01", "01-01-2024", "2024-1-1", "२०२४-०१-०१", "1970-01-01",
                     "2038-01-19", "10000-01-01", "TODAY", "d", "7x", "1e3d"]),
    st.dates().map(str),
    TEXT,
)
GOOD_SCALE = st.sampled_from(["A minor pentatonic", "am pent", "C major", "Bb dorian", "E blues",
                             "D mixolydian", "c# harmonic minor"])
SCALE = st.one_of(
    GOOD_SCALE,
    st.sampled_from(["A minor pentatonic", "am pent", "C major", "Bb dorian", "H major",
                     "C# harmonic minor", "Cb lydian", "E##", "a", "major", "x" * 200]),
    STRING,
)
ID = st.one_of(st.sampled_from(["", "0", "0000", "ffff", "00000000-0000-0000-0000-000000000000",
                                "latest", "zzzz-zzzz", "-", "é" * 8]), STRING,
               st.uuids().map(str))
PATH = st.one_of(st.sampled_from(sorted(str(p) for p in FILES.values())),
                 st.sampled_from(["/", "/dev/null", "/proc/self/mem", "", ".", "-",
                                  "/nonexistent/ü/x", "~/nope"]))
# Export writes files: never over the shared fixtures, into the checkout or into /dev (it
# writes NAME.part first); a FRESH name is a new file in a per-example temporary directory.
FRESH = "<fresh>/"
EXPORT_PATH = st.one_of(
    st.sampled_from([str(FILES["dir"]), str(FILES["nested_missing"]), "/proc/self/mem", "/",
                     "", ".", "/proc/version"]),
    st.one_of(st.sampled_from(["out.json", "ü n i.csv", ".hidden", "x" * 200]), TEXT.filter(
        lambda t: t.strip() not in ("", ".", "..") and "/" not in t)).map(lambda n: FRESH + n),
)
FLAGS = st.lists(st.sampled_from(["--json", "--csv"]), max_size=2, unique=True)


def opt(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Either no option, or ``name value``."""
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [name]])


def argv_of(*parts: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    """The parts in a drawn order (options may come in any order)."""
    return st.tuples(*parts).flatmap(
        lambda ps: st.permutations(list(ps)).map(lambda order: [a for p in order for a in p]))


FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=12)


# ---- report commands --------------------------------------------------------------------------

@FUZZ
@given(argv_of(opt("--since", DATE), opt("--until", DATE), opt("--scale", SCALE),
               opt("--status", st.one_of(st.sampled_from(["all", "completed,active", ",",
                                                          "interrupted,,", "COMPLETED"]), STRING)),
               opt("--limit", NUMBER), FLAGS))
@example(["--limit", "99999999999999999999999"])
@example(["--limit", "9223372036854775808"])
@example(["--limit", "0"])
def test_history(argv):
    code, _, err = check(["history", *argv])
    if "--limit" in argv and argv[argv.index("--limit") + 1].strip() in ("0", "-1"):
        assert code == ExitCode.USAGE, err  # never silently raised to 1


@FUZZ
@given(argv_of(opt("--since", DATE), opt("--until", DATE), opt("--scale", SCALE),
               opt("--by", st.one_of(st.sampled_from(["day", "week", "month", "scale", "Day",
                                                      ""]), STRING)),
               FLAGS, st.sampled_from([[], ["--charts"], ["--no-charts"]])))
def test_stats(argv):
    check(["stats", *argv])


@FUZZ
@given(st.one_of(
    argv_of(st.just(["sessions", "show"]), ID.map(lambda v: [v]), flag("--notes"),
            flag("--json")).filter(lambda a: a[:2] == ["sessions", "show"]),
    st.tuples(ID, flag("--yes")).map(lambda t: ["sessions", "delete", t[0], *t[1]]),
    argv_of(flag("--finish"), flag("--discard"), flag("--yes"), flag("--json"))
    .map(lambda a: ["sessions", "recover", *a]),
))
def test_sessions(argv):
    # `sessions delete` without --yes asks: answer with a fuzzed line on stdin
    check(argv, stdin="n\n")


@FUZZ
@given(argv_of(opt("--format", st.one_of(st.sampled_from(["json", "csv", "JSON", "xml"]),
                                         STRING)),
               opt("--since", DATE), opt("--until", DATE), opt("--scale", SCALE),
               opt("--output", EXPORT_PATH)))
@example(["--output", str(FILES["nested_missing"])])
@example(["--output", str(FILES["dir"])])
@example(["--output", "/proc/self/mem"])
def test_export(argv):
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(Path(tmp) / a[len(FRESH):]) if a.startswith(FRESH) else a for a in argv]
        code, _, _ = check(["export", *argv])
        if code == 0 and "--output" in argv:
            out = Path(argv[argv.index("--output") + 1])
            assert out.is_file() and not out.with_name(out.name + ".part").exists()
    assert FILES["dir"].is_dir()  # export never replaces a directory with a file


JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
                    | TEXT | st.uuids().map(str) | st.just("2024-02-30T25:00:00Z"),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["session_id", "start_time", "notes",
                                                       "plans", "practice_id", "seq", "x"]),
                                      inner, max_size=4), max_leaves=12)
# An export header with fuzzed contents: what a hand-edited or damaged export looks like.
EXPORT_DOC = st.fixed_dictionaries(
    {"format": st.just("fretcoach-export")},
    optional={"version": st.one_of(st.just(1), JSON), "sessions": JSON, "plans": JSON,
              "note_columns": JSON}).map(json.dumps)


@FUZZ
@given(st.one_of(PATH, st.just("-")), flag("--json"), st.one_of(TEXT, EXPORT_DOC))
@example(str(FILES["dir"]), [], "")
@example(str(FILES["binary"]), [], "")
@example(str(FILES["broken_link"]), [], "")
@example("-", [], '{"format": "fretcoach-export", "sessions": "x"}')
@example("-", [], '{"format": "fretcoach-export", "version": "one"}')
@example("-", [], '{"format": "fretcoach-export", "sessions": [{"session_id": "x"}]}')
def test_import(path, json_flag, stdin):
    check(["import", path, *json_flag], stdin=stdin)


# sync only toward URLs that fail fast: a random host name would wait on DNS or a firewall.
SYNC_URL = st.sampled_from(["", "x", "postgresql://", "postgresql://localhost:1/none",
                            "postgresql://[::1]:1/x", "postgres://user:pa ss@127.0.0.1:1/é",
                            "mysql://127.0.0.1:1/db", "host=127.0.0.1 port=1 connect_timeout=1",
                            "postgresql://127.0.0.1:99999/x", "file:///etc/passwd", "🎸"])


@FEW
@given(argv_of(opt("--to", SYNC_URL), opt("--from", SYNC_URL), opt("--batch", NUMBER),
               flag("--json")))
@example(["--to", "x"])
@example(["--from", "mysql://127.0.0.1:1/db"])
@example(["--to", "\udcff"])
def test_sync(argv):
    code, _, err = check(["sync", *argv], codes=REPORT_CODES | {int(ExitCode.DATABASE)})
    if code == ExitCode.DATABASE:  # only a server that cannot be reached is a database error
        assert "cannot connect" in err or "failed" in err, err


# ---- the same, on a user with a history (db seed: 40 sessions with notes, plans, replies) -----

@pytest.fixture(scope="module")
def seeded() -> dict[str, list[str]]:
    """A user with a realistic history; its session and plan ids, for prefixes to fuzz."""
    user = f"fuzz-seeded-{uuid.uuid4().hex[:8]}"
    code, _, err = invoke(["db", "seed", "--sessions", "40", "--user", user, "--seed", "16"])
    assert code == 0, err
    code, out, err = invoke(["--user", user, "history", "--json", "--limit", "100",
                             "--status", "all"])
    assert code == 0, err
    sessions = [row["session_id"] for row in json.loads(out)["sessions"]]
    code, out, err = invoke(["--user", user, "plans", "--json"])
    assert code == 0, err
    data = json.loads(out)
    plans = [p["practice_id"] for p in (data["plans"] if isinstance(data, dict) else data)]
    assert len(sessions) == 40 and plans, (len(sessions), plans)
    return {"user": [user], "sessions": sessions, "plans": plans}


def id_like(ids: list[str]) -> st.SearchStrategy[str]:
    """Real ids and their prefixes, upper-cased, padded, cut, or with a character changed."""
    real = st.sampled_from(ids)
    return st.one_of(
        real,
        st.tuples(real, st.integers(0, 36)).map(lambda t: t[0][: t[1]]),
        real.map(str.upper),
        real.map(lambda i: f" {i} "),
        real.map(lambda i: i.replace("-", "")),
        st.tuples(real, st.integers(0, 35), st.sampled_from("0g-é\udcff")).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1:]),
        ID,
    )


@FUZZ
@given(st.data())
def test_seeded_history(seeded, data):
    sid, pid = id_like(seeded["sessions"]), id_like(seeded["plans"])
    argv = data.draw(st.one_of(
        argv_of(st.tuples(sid).map(lambda t: [t[0]]), flag("--notes"), flag("--json"))
        .map(lambda a: ["sessions", "show", "--", *a] if a[0].startswith("-")
             else ["sessions", "show", *a]),
        sid.map(lambda i: ["sessions", "delete", "--", i]),  # declined below: history stays
        pid.map(lambda i: ["plans", "dismiss", "--", i]),
        argv_of(opt("--since", DATE), opt("--until", DATE), opt("--scale", SCALE),
                opt("--by", st.sampled_from(["day", "week", "month", "scale", "x"])),
                FLAGS, st.sampled_from([[], ["--charts"]])).map(lambda a: ["stats", *a]),
        argv_of(opt("--since", DATE), opt("--scale", SCALE), opt("--limit", num(1, 100)),
                opt("--status", st.sampled_from(["all", "completed", "interrupted"])), FLAGS)
        .map(lambda a: ["history", *a]),
        argv_of(flag("--new"), flag("--json")).map(lambda a: ["recommend", *a]),
        STRING.map(lambda m: ["chat", "-m", m, "--offline"]),
    ))
    check(argv, user=seeded["user"][0], stdin="n\n", declined="nothing deleted")


@pytest.fixture(scope="module")
def seeded_export(seeded) -> dict:
    code, out, err = invoke(["--user", seeded["user"][0], "export", "--format", "json"])
    assert code == 0, err
    return json.loads(out)


EXPORT_FIELD = st.sampled_from(["session_id", "start_time", "end_time", "duration_seconds",
                                "scale_chosen", "status", "pitch_accuracy", "total_notes_played",
                                "practice_id", "metrics", "notes", "coach_replies", "tuning",
                                "updated_at", "user_id", "nope"])


@FUZZ
@given(st.data())
def test_import_a_damaged_export(seeded_export, data):
    """A real export (40 sessions with notes, plans, replies) with one thing broken: a field of
    a session, plan or note set to a hostile value or removed, or the text cut short."""
    doc = json.loads(json.dumps(seeded_export))
    how = data.draw(st.sampled_from(["session", "plan", "note", "cut", "top"]))
    if how == "cut":
        text = json.dumps(doc)
        text = text[: data.draw(st.integers(0, len(text) - 1))]
    else:
        if how == "top":
            target = doc
            key = data.draw(st.sampled_from(["version", "note_columns", "sessions", "plans",
                                             "user", "format"]))
        elif how == "plan" and doc["plans"]:
            target = data.draw(st.sampled_from(doc["plans"]))
            key = data.draw(st.one_of(st.sampled_from(sorted(target)), EXPORT_FIELD))
        elif how == "note":
            session = data.draw(st.sampled_from([s for s in doc["sessions"] if s["notes"]]))
            i = data.draw(st.integers(0, len(session["notes"]) - 1))
            target, key = session["notes"], i
        else:
            target = data.draw(st.sampled_from(doc["sessions"]))
            key = data.draw(st.one_of(st.sampled_from(sorted(target)), EXPORT_FIELD))
        if data.draw(st.booleans()) and isinstance(target, dict):
            target.pop(key, None)
        else:
            target[key] = data.draw(JSON)
        text = json.dumps(doc)
    code, _, _ = check(["import", "-"], stdin=text)
    assert code in (0, int(ExitCode.USAGE)), code


# ---- coach commands (offline: no model is configured) -------------------------------------------

@FEW
@given(argv_of(flag("--new"), flag("--json")))
def test_recommend(argv):
    check(["recommend", *argv])


@FUZZ
@given(st.one_of(
    argv_of(opt("--status", st.one_of(st.sampled_from(["pending", "in_progress", "completed",
                                                        "dismissed", "all"]), STRING)),
            opt("--limit", NUMBER), flag("--json")).map(lambda a: ["plans", *a]),
    ID.map(lambda v: ["plans", "dismiss", v]),
))
def test_plans(argv):
    check(argv)


# chat with a model is excluded: no model may be called from the tests. With no LLM variables
# `chat -m` answers with the offline rules, which still run the agent's tools on the database.
@FEW
@given(argv_of(st.tuples(STRING).map(lambda t: ["-m", t[0]]), opt("--thread", ID),
               flag("--json"), flag("--show-sql"), flag("--offline"), opt("--model", STRING)))
@example(["-m", "\udcff"])
@example(["-m", "hi", "--thread", "\udcff\udcff\udcff\udcff", "--offline"])
def test_chat_message(argv):
    check(["chat", *argv])


@FEW
@given(argv_of(flag("--json"), flag("--ping")))
def test_coach_status(argv):
    check(["coach", "status", *argv])


# ---- setup commands ---------------------------------------------------------------------------

# `devices test` and `doctor`'s audio probe would open a real input device: `devices test` is
# excluded; `devices` (listing) and `doctor` only enumerate.
# `devices` with no input device says so (exit 5).
@FEW
@given(st.sampled_from([["devices"], ["devices", "--json"], ["models"], ["models", "list"],
                        ["db", "status"], ["db", "status", "--json"], ["db", "url"],
                        ["db", "migrate"], ["config", "show"], ["config", "show", "--json"]]))
def test_setup_reads(argv):
    check(argv, codes=REPORT_CODES | {int(ExitCode.AUDIO)})


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_doctor(as_json):
    """doctor is a report: exit 1 when a check FAILs (no input device here), never a crash."""
    code, out, err = invoke(["--user", "fuzz-doctor", "doctor", *as_json])
    assert "Traceback" not in out + err and "internal error" not in out + err, err
    assert code in (0, 1) and "database" in out.lower(), (code, out, err)


# `models install crepe` downloads from PyPI: only other names are fuzzed.
@FEW
@given(STRING.filter(lambda s: s.strip().lower() != "crepe"), flag("--force"))
def test_models_install_unknown(name, force):
    code, _, _ = check(["models", "install", name, *force])
    assert code == ExitCode.USAGE


def _not_a_long_run(value: str) -> bool:
    """Keep out valid counts that would seed for minutes (bounded by the option's max)."""
    try:
        return not 5 < int(value) <= 10_000_000
    except ValueError:
        return True


# db seed (development): hostile counts and seeds; valid runs stay tiny.
@FEW
@given(st.one_of(st.integers(1, 3).map(str), NUMBER.filter(_not_a_long_run)),
       opt("--notes-per-session", st.one_of(st.integers(1, 20).map(str),
                                            NUMBER.filter(_not_a_long_run))),
       opt("--seed", NUMBER))
@example("99999999999999999999999", [], [])
@example("1", ["--notes-per-session", "99999999999999999999"], [])
@example("1", [], ["--seed", "-5"])
def test_db_seed(sessions, notes, seed):
    check(["db", "seed", "--sessions", sessions, *notes, *seed])


# `db reset --yes` is excluded: it deletes every user's data of the shared test server.
@FEW
@given(st.sampled_from([[], ["--external"]]))
def test_db_reset_refused_without_yes(argv):
    """A declined confirmation is exit 1 and "nothing changed" (as `sessions delete`'s
    "nothing deleted"; tests/test_db_cli.py), not an error line."""
    code, out, err = invoke(["db", "reset", *argv], stdin="n\n")
    assert (code, err.splitlines()[-1:]) == (1, ["nothing changed"]), (code, out, err)


CONFIG_KEY = st.one_of(st.sampled_from(["user", "timezone", "a4_hz", "strictness", "sensitivity",
                                        "database_url", "data_dir", "input_device", "speech",
                                        "llm_provider", "tuning", "nope", "", "USER"]), STRING)


@FUZZ
@given(st.one_of(
    st.tuples(CONFIG_KEY, st.one_of(NUMBER, STRING, DATE)).map(lambda t: ["set", *t]),
    CONFIG_KEY.map(lambda k: ["unset", k]),
), st.sampled_from([[], ["show"], ["show", "--json"]]))
@example(["set", "a4_hz", "nan"], ["show"])
@example(["set", "timezone", "Mars/Olympus"], ["show"])
@example(["set", "user", "\udcff"], [])
@example(["set", "timezone", "\udcff"], [])
def test_config(argv, then):
    """config writes go to a throw-away file, so the test run's own config is untouched."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"FRETCOACH_CONFIG": str(Path(tmp) / "config.toml")}
        check(["config", *argv], env=env)
        if then:
            check(["config", *then], env=env)


def _toml_value(value: object) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(value)]
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, ints, floats and booleans read the same in TOML


# database_url and data_dir are left out: they would point the run away from the test server
# (or at a random host); llm_* are safe because no command here calls a model.
CONFIG_FILE_KEY = st.sampled_from(["user", "a4_hz", "pitch_model", "strictness", "sensitivity",
                                   "input_device", "input_channel", "coach_every", "speech",
                                   "speech_voice", "llm_provider", "llm_model", "llm_temperature",
                                   "llm_timeout", "llm_retries", "llm_fallbacks", "tracing",
                                   "timezone", "nope", "USER", ""])
TOML_SCALAR = st.one_of(st.text(max_size=12), st.integers(-(2**63), 2**63 - 1), st.floats(),
                        st.booleans(), st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus",
                                                        "", " ", "0s", "swift", "crepe"]))
CONFIG_BODY = st.one_of(
    st.dictionaries(CONFIG_FILE_KEY, st.one_of(TOML_SCALAR, st.lists(TOML_SCALAR, max_size=2)),
                    max_size=4)
    .map(lambda d: "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in d.items())),
    st.sampled_from(["x = ", "[user]\nname = 1\n", "user = 'a'\nuser = 'b'\n", "\x00",
                     "timezone = \"\\udcff\"\n", "a4_hz = 1e400\n"]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(CONFIG_BODY, st.one_of(st.none(), ARGV_BYTES, st.sampled_from(["UTC", "Mars/Olympus",
                                                                     ""])),
       st.one_of(st.none(), ARGV_BYTES, st.just("")),
       st.sampled_from([["config", "show"], ["config", "show", "--json"], ["stats", "--json"],
                        ["history"]]))  # not recommend: a fuzzed llm_provider would call it
@example("", "\udcff", None, ["history"])
@example("", None, "\udcff", ["stats", "--json"])
@example('timezone = "Mars/Olympus"\n', None, None, ["stats", "--json"])
def test_config_file_and_env(body, timezone, env_user, argv):
    """A hand-edited config file and odd FRETCOACH_TIMEZONE/FRETCOACH_USER values: exit 0, or
    one line with exit 7 (configuration) — or 2 for an empty user name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(body.encode("utf-8", "surrogateescape"))
        env = {"FRETCOACH_CONFIG": str(path), "FRETCOACH_TIMEZONE": timezone,
               "FRETCOACH_USER": env_user}
        user = None if env_user is not None else f"fuzz-{uuid.uuid4().hex[:10]}"
        full = argv if user is None else ["--user", user, *argv]
        code, out, err = invoke(full, env=env)
        shown = f"config={body!r} tz={timezone!r} user={env_user!r} argv={argv}\n{code} {err!r}"
        assert "Traceback" not in out + err and "internal error" not in err, shown
        if code:
            assert len(err.splitlines()) == 1 and err.startswith("fretcoach: error: "), shown
            assert code in (int(ExitCode.CONFIG), int(ExitCode.USAGE)), shown
            assert code == ExitCode.CONFIG or "no user given" in err, shown


@FUZZ
@given(st.one_of(
    flag("--json").map(lambda f: ["scales", *f]),
    argv_of(SCALE.map(lambda s: [s]), opt("--frets", NUMBER), flag("--degrees"), flag("--json"))
    .map(lambda a: ["scales", "show", "--", *a] if a and a[0].startswith("-")
         else ["scales", "show", *a]),
))
def test_scales(argv):
    check(argv)


# ---- audio commands on a short generated clip (never the microphone) ---------------------------

AUDIO_PATH = st.one_of(st.just(str(FILES["clip"])), PATH)
CHANNEL = st.one_of(st.just("1"), NUMBER)
TUNING = st.one_of(st.sampled_from(["standard", "drop-d", "E1 A1 D2 G2", "E2", "X9 Y9",
                                    "bass-5", "E2 " * 20, ""]), STRING)


# Each audio command draws either hostile options or only valid ones (then on the clip): with
# many options, an all-valid line is otherwise too rare to reach the engine and the store.
ANALYZE_HOSTILE = argv_of(st.one_of(GOOD_SCALE, SCALE).map(lambda v: ["--scale", v]),
                          opt("--bpm", num(20, 400)),
                          opt("--pitch-model", st.sampled_from(["swift", "crepe", "", "é"])),
                          opt("--strictness", num(0, 1)), opt("--sensitivity", num(0, 1)),
                          opt("--channel", CHANNEL), flag("--json"), flag("--notes"),
                          flag("--save"))
ANALYZE_VALID = argv_of(GOOD_SCALE.map(lambda v: ["--scale", v]), opt("--bpm", valid(20, 400)),
                        opt("--strictness", valid(0, 1)), opt("--sensitivity", valid(0, 1)),
                        opt("--channel", st.just("1")), flag("--json"), flag("--notes"),
                        flag("--save"))


@FUZZ
@given(st.one_of(st.tuples(AUDIO_PATH, ANALYZE_HOSTILE),
                 st.tuples(st.just(str(FILES["clip"])), ANALYZE_VALID)))
@example((str(FILES["clip"]), ["--scale", "A minor", "--save", "--json"]))
def test_analyze(drawn):
    path, argv = drawn
    check(["analyze", path, *argv], codes=AUDIO_CODES)


# tune without --input listens to the microphone: always given --input here.
@FUZZ
@given(st.one_of(
    st.tuples(AUDIO_PATH, argv_of(opt("--tuning", TUNING), opt("--a4", num(432, 446)),
                                  opt("--channel", CHANNEL), flag("--guided"),
                                  st.sampled_from([["--json"], ["--no-tui"]]))),
    st.tuples(st.just(str(FILES["clip"])),
              argv_of(opt("--tuning", st.sampled_from(["standard", "drop-d", "dadgad",
                                                       "E1 A1 D2 G2", "bass-5"])),
                      opt("--a4", valid(432, 446)), flag("--guided"),
                      st.sampled_from([["--json"], ["--no-tui"]])))))
@example((str(FILES["clip"]), ["--json"]))
def test_tune_input(drawn):
    path, argv = drawn
    check(["tune", "--input", path, *argv], codes=AUDIO_CODES)


# practice without --input listens to the microphone: always --input --fast --no-tui here.
PRACTICE_HOSTILE = argv_of(st.one_of(GOOD_SCALE, SCALE).map(lambda v: ["--scale", v]),
                           opt("--bpm", num(20, 400)),
                           opt("--duration", st.one_of(st.sampled_from(
                               ["5m", "90s", "1h", "0s", "-1s", "1e9h", "s", "", "0.5s"]),
                               STRING)),
                           opt("--strictness", num(0, 1)), opt("--sensitivity", num(0, 1)),
                           opt("--channel", CHANNEL), opt("--tuning", TUNING),
                           opt("--plan", st.one_of(st.just("latest"), ID)),
                           opt("--coach-every", st.one_of(st.just("30s"), STRING)),
                           opt("--pitch-model", st.sampled_from(["swift", "x"])),
                           flag("--json"))
PRACTICE_VALID = argv_of(GOOD_SCALE.map(lambda v: ["--scale", v]), opt("--bpm", valid(20, 400)),
                         opt("--duration", st.sampled_from(["5m", "1s", "0.5s", "1h"])),
                         opt("--strictness", valid(0, 1)), opt("--sensitivity", valid(0, 1)),
                         opt("--tuning", st.sampled_from(["standard", "drop-d", "open-g"])),
                         flag("--json"))


@FUZZ
@given(st.one_of(st.tuples(AUDIO_PATH, PRACTICE_HOSTILE),
                 st.tuples(st.just(str(FILES["clip"])), PRACTICE_VALID)))
@example((str(FILES["clip"]), ["--scale", "C major", "--json"]))
def test_practice_input(drawn):
    path, argv = drawn
    check(["practice", "--input", path, "--fast", "--no-tui", "--no-coach", *argv],
          codes=AUDIO_CODES)


@FEW
@given(STRING, st.sampled_from([["history"], ["stats", "--json"], ["plans"], ["config", "show"]]))
@example("\udcff", ["history"])
def test_global_user(user, argv):
    """The global --user value itself: unicode, blank, long."""
    check(argv, user=user)


@pytest.mark.parametrize("argv", [["--version"], ["scales"], ["stats", "--json"],
                                  ["scales", "show", "A minor", "--json"]])
def test_output_to_a_full_disk(argv):
    """stdout on /dev/full (every write fails with ENOSPC): one line that says so, exit 1 —
    not an "internal error" asking for a bug report, never a traceback."""
    user = [] if argv == ["--version"] else ["--user", f"fuzz-{uuid.uuid4().hex[:10]}"]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([str(Path(sys.executable).with_name("fretcoach")), *user, *argv],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == ExitCode.ERROR, proc.stderr
    assert proc.stderr == "fretcoach: error: No space left on device (writing the output)\n", (
        proc.stderr)


@pytest.mark.parametrize("argv", [["export"], ["history", "--limit", "100"], ["stats", "--csv",
                                                                               "--by", "day"]])
def test_output_to_a_closed_pipe(argv, seeded):
    """`fretcoach export | head -c 10`: the reader closes the pipe after 10 bytes while
    fretcoach still writes (the seeded export is ~360 kB, far over a 64 kB pipe buffer).
    Exit 0 and nothing on stderr (click's EPIPE handling used to exit 1)."""
    proc = subprocess.Popen([str(Path(sys.executable).with_name("fretcoach")), "--user",
                             seeded["user"][0], *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and len(head) == 10, err
    assert err.strip() == "" or err.startswith("showing "), err
