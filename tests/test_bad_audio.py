"""A bad-audio corpus made by the tests, through analyze, practice --input and tune --input
(issue 16, part 4).

``corpus`` writes the files into a temporary directory with numpy/soundfile: empty and text
files named .wav, truncated WAV/FLAC, 0 frames, one sample, NaN/inf samples, 6 channels,
8 kHz and 192 kHz/24-bit, full-scale noise, clipped squares, unicode and spaces in the path,
a FIFO, a symlink to /dev/zero, a broken symlink, a directory, and (slow) an hour of silence.

Every file goes through the three commands in a subprocess with a timeout (a hang is a
failure, not a stuck run). Each run must give a correct result or one clear line
``fretcoach: error: ...`` with the documented exit code; never a traceback. Recordings that
hold a real note must be heard as that note (A3).

"No read permission": the tests run as root, and chmod 000 does not stop root. When
``os.geteuid() == 0`` that case is covered by routes that stop root too — a FIFO with no
writer (opening it for reading would block forever), a symlink to /dev/zero (endless reads)
and a broken symlink; as another user a chmod 000 file is added as well.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fretcoach_cli.errors import ExitCode

FRETCOACH = str(Path(sys.executable).with_name("fretcoach"))
A3 = 57
TIMEOUT_S = 90.0
COMMANDS = ("analyze", "practice", "tune")

OK, NOT_FOUND, AUDIO, NO_NOTES = 0, int(ExitCode.NOT_FOUND), int(ExitCode.AUDIO), int(
    ExitCode.NO_NOTES)
# practice and tune report "nothing heard" as a result (exit 0); analyze as exit 8.
SILENT = {"analyze": {NO_NOTES}, "practice": {OK}, "tune": {OK}}
UNREADABLE = {c: {AUDIO} for c in COMMANDS}
MISSING = {c: {NOT_FOUND} for c in COMMANDS}
ANYTHING_CLEAR = {c: {OK, AUDIO, NO_NOTES} for c in COMMANDS}


@dataclass
class Case:
    path: Path
    expect: dict[str, set[int]]  # command -> allowed exit codes
    a3: bool = False  # holds plucked A3s: analyze must hear them as A3
    note: str = ""
    says: str = ""  # the error line must contain this


@dataclass
class Run:
    code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    max_rss_mb: float
    argv: list[str] = field(default_factory=list)


# ---- the corpus ------------------------------------------------------------------------------

def plucks(sr: int, *, midi: int = A3, n: int = 3, seconds: float = 0.6) -> np.ndarray:
    """n plucked notes (harmonics, fast decay), then 0.3 s of rest: float64 in [-0.5, 0.5]."""
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(int(seconds * sr)) / sr
    note = sum(0.5 ** k * np.sin(2 * np.pi * f0 * (k + 1) * t) for k in range(4))
    note = 0.3 * note * np.exp(-4 * t)
    return np.concatenate([*([note] * n), np.zeros(int(0.3 * sr))])


def build_corpus(root: Path, *, hour: bool) -> dict[str, Case]:
    import soundfile as sf

    rng = np.random.default_rng(16)
    cases: dict[str, Case] = {}

    def add(name: str, expect: dict[str, set[int]], *, a3: bool = False, note: str = "",
            says: str = "") -> Path:
        path = root / name
        cases[name] = Case(path, expect, a3, note, says)
        return path

    sr = 44100
    tone = plucks(sr)

    add("empty.wav", UNREADABLE, says="empty (0 bytes)").write_bytes(b"")
    add("text.wav", UNREADABLE).write_text("RIFF? no: this is a text file named .wav\n")
    add("random.mp3", UNREADABLE, says="format not recognised").write_bytes(rng.bytes(4096))
    good_wav = root / "source.wav.bin"
    sf.write(good_wav, tone, sr, subtype="PCM_16", format="WAV")
    raw = good_wav.read_bytes()
    add("header_only.wav", ANYTHING_CLEAR).write_bytes(raw[:44])
    add("cut_in_header.wav", UNREADABLE).write_bytes(raw[:20])
    # the header promises 2.1 s; a third of the data is there
    add("truncated.wav", {**ANYTHING_CLEAR, "analyze": {OK, NO_NOTES, AUDIO}}
        ).write_bytes(raw[: 44 + (len(raw) - 44) // 3])
    flac = root / "source.flac.bin"
    sf.write(flac, tone, sr, subtype="PCM_16", format="FLAC")
    add("truncated.flac", ANYTHING_CLEAR).write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    add("flac_named.wav", {c: {OK} for c in COMMANDS}, a3=True).write_bytes(flac.read_bytes())
    sf.write(add("zero_frames.wav", {c: {OK, AUDIO, NO_NOTES} for c in COMMANDS}),
             np.zeros(0), sr, subtype="PCM_16")
    sf.write(add("one_sample.wav", {c: {OK, AUDIO, NO_NOTES} for c in COMMANDS}),
             np.array([0.5]), sr, subtype="PCM_16")
    with_nan = tone.astype(np.float32)
    with_nan[len(with_nan) // 2: len(with_nan) // 2 + 500] = np.nan
    sf.write(add("nan.wav", ANYTHING_CLEAR), with_nan, sr, subtype="FLOAT")
    with_inf = tone.astype(np.float32)
    with_inf[::997] = np.inf
    with_inf[1::997] = -np.inf
    sf.write(add("inf.wav", ANYTHING_CLEAR), with_inf, sr, subtype="FLOAT")
    sf.write(add("all_nan.wav", ANYTHING_CLEAR), np.full(sr, np.nan, np.float32), sr,
             subtype="FLOAT")
    six = np.zeros((len(tone), 6))
    six[:, 2] = tone
    sf.write(add("six_channels.wav", {c: {OK} for c in COMMANDS}, a3=True), six, sr,
             subtype="PCM_16")
    sf.write(add("8k.wav", {c: {OK} for c in COMMANDS}, a3=True), plucks(8000), 8000,
             subtype="PCM_16")
    sf.write(add("192k_24bit.wav", {c: {OK} for c in COMMANDS}, a3=True), plucks(192000),
             192000, subtype="PCM_24")
    sf.write(add("192k_24bit.flac", {c: {OK} for c in COMMANDS}, a3=True), plucks(192000),
             192000, subtype="PCM_24")
    sf.write(add("u8.wav", {c: {OK} for c in COMMANDS}, a3=True), tone, sr, subtype="PCM_U8")
    sf.write(add("noise_full_scale.wav", ANYTHING_CLEAR),
             rng.uniform(-1.0, 1.0, 3 * sr), sr, subtype="PCM_16")
    t = np.arange(3 * sr) / sr
    square = np.clip(4.0 * np.sign(np.sin(2 * np.pi * 110.0 * t)), -1.0, 1.0)
    sf.write(add("square_clipped.wav", ANYTHING_CLEAR), square, sr, subtype="PCM_16")
    sf.write(add("float_over_full_scale.wav", ANYTHING_CLEAR), 8.0 * tone, sr,
             subtype="DOUBLE")
    sf.write(add("quiet_-90dB.wav", {**ANYTHING_CLEAR, "analyze": {OK, NO_NOTES}}),
             tone * 10 ** (-90 / 20), sr, subtype="FLOAT")
    sf.write(add("stereo_cancels.wav", {**ANYTHING_CLEAR, "analyze": {OK, NO_NOTES}},
                 note="left = -right: the mix is silence"),
             np.stack([tone, -tone], axis=1), sr, subtype="PCM_16")
    odd_dir = root / "dïr with spaces ♪"
    odd_dir.mkdir()
    sf.write(add("dïr with spaces ♪/tone — ünïcödé 🎸.wav", {c: {OK} for c in COMMANDS}, a3=True),
             tone, sr, subtype="PCM_16")
    add("a directory.wav", MISSING).mkdir()
    add("broken link.wav", MISSING).symlink_to(root / "nothing here.wav")
    os.mkfifo(add("fifo.wav", UNREADABLE, note="open() would block: no writer",
                  says="not a regular file"))
    add("dev_zero.wav", UNREADABLE, note="endless zeros", says="not a regular file"
        ).symlink_to("/dev/zero")
    if os.geteuid() != 0:  # root reads it anyway: covered by the FIFO and links above
        locked = add("no_permission.wav", UNREADABLE)
        sf.write(locked, tone, sr, subtype="PCM_16")
        locked.chmod(0)
    if hour:
        # written block by block: one minute of int16 in memory at a time, ~0.5 MB of FLAC
        path = add("hour_of_silence.flac", SILENT)
        with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
            minute = np.zeros(60 * sr, dtype=np.int16)
            for _ in range(60):
                f.write(minute)
    return cases


# ---- running -----------------------------------------------------------------------------------

def argv_for(command: str, path: Path) -> list[str]:
    """The command line; a user of its own, so the sessions practice saves touch no other
    test's history."""
    user = [FRETCOACH, "--user", f"bad-audio-{uuid.uuid4().hex[:10]}"]
    if command == "analyze":
        return [*user, "analyze", str(path), "--scale", "A minor pentatonic", "--json",
                "--notes"]
    if command == "practice":
        return [*user, "practice", "--input", str(path), "--fast", "--no-tui", "--no-coach",
                "--scale", "A minor pentatonic", "--json"]
    return [*user, "tune", "--input", str(path), "--json"]


# Linux: the child writes its own peak RSS (VmHWM of its own memory) when it exits. wait4's
# ru_maxrss also counts the memory of the parent it was forked from before exec, so in a long
# test run (a pytest process of several hundred MB) it read 611 MB for a 166 MB child.
_HWM = """import atexit, os, runpy, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["FRETCOACH_TEST_HWM"], "w").write(line.split()[1])
atexit.register(_hwm)
sys.argv = ["fretcoach", *sys.argv[1:]]
runpy.run_module("fretcoach_cli.cli.main", run_name="__main__")
"""


def run(argv: list[str], workdir: Path, timeout: float = TIMEOUT_S) -> Run:
    """Run with stdout/stderr to files and a hard timeout, and the child's own peak RSS (see
    _HWM; elsewhere wait4's, an upper bound)."""
    hwm = workdir / f"hwm-{uuid.uuid4().hex[:8]}"
    if argv[0] == FRETCOACH and Path("/proc/self/status").exists():
        argv = [sys.executable, "-c", _HWM, *argv[1:]]
    with tempfile.TemporaryFile(dir=workdir) as out, tempfile.TemporaryFile(dir=workdir) as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env={**os.environ, "COLUMNS": "100",
                                     "FRETCOACH_TEST_HWM": str(hwm)})
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak_kb = float(hwm.read_text()) if hwm.exists() else float(usage.ru_maxrss)
        return Run(None if killed.is_set() else proc.returncode,
                   out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   peak_kb / 1024, argv)


def _finite(value: str) -> float:
    raise ValueError(f"non-finite number {value} in JSON output")


def check_run(case: Case, command: str, result: Run) -> None:
    shown = (f"{command} {case.path.name}: exit {result.code}\nstderr: {result.stderr[-1500:]!r}"
             f"\nstdout: {result.stdout[-300:]!r}")
    assert result.code is not None, f"hung (killed after {TIMEOUT_S:g} s)\n{shown}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert "internal error" not in result.stderr, shown
    assert result.code in case.expect[command], shown
    if result.code != 0:
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("fretcoach: error: ")]
        assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), shown
        assert case.says in errors[0], shown
        return
    if result.stdout.strip():
        json.loads(result.stdout, parse_constant=_finite)  # valid JSON, no NaN/Infinity
    if case.a3 and command == "analyze":
        notes = [n for n in json.loads(result.stdout)["notes"] if n["kind"] == "note"]
        assert notes, shown
        heard = [round(n["midi"]) for n in notes]
        assert max(set(heard), key=heard.count) == A3, (heard, shown)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    cases = build_corpus(tmp_path_factory.mktemp("bad audio"), hour=False)
    assert len(cases) >= 20, len(cases)
    return cases


@pytest.fixture(scope="module")
def results(corpus: dict[str, Case], database, tmp_path_factory) -> dict[tuple[str, str], Run]:
    """Every file through every command, two at a time (the machine has two cores)."""
    workdir = tmp_path_factory.mktemp("runs")
    jobs = [(name, command) for name in corpus for command in COMMANDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda job: run(argv_for(job[1], corpus[job[0]].path), workdir), jobs)
        return dict(zip(jobs, done, strict=True))


def _names() -> list[str]:
    """The corpus's file names, for the test ids (built once in a scratch directory)."""
    scratch = Path(tempfile.mkdtemp(prefix="fretcoach-corpus-names-"))
    try:
        return sorted(build_corpus(scratch, hour=False))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


NAMES = _names()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_audio(corpus, results, name: str, command: str) -> None:
    check_run(corpus[name], command, results[name, command])


def test_corpus_size(corpus) -> None:
    assert len(corpus) >= 20
    kinds = {stat.S_IFMT(os.lstat(c.path).st_mode) for c in corpus.values()}
    assert {stat.S_IFREG, stat.S_IFDIR, stat.S_IFIFO, stat.S_IFLNK} <= kinds


@pytest.mark.parametrize(("command", "channel", "codes"), [
    ("analyze", "3", {OK}), ("analyze", "1", {NO_NOTES}), ("analyze", "7", {2}),
    ("practice", "3", {OK}), ("practice", "7", {2}), ("tune", "3", {OK}), ("tune", "7", {2}),
])
def test_six_channels_by_channel(corpus, database, tmp_path, command, channel, codes) -> None:
    """The A3s are on channel 3 of 6: that channel hears them, a silent one does not, and a
    seventh channel is a usage error."""
    case = corpus["six_channels.wav"]
    argv = [*argv_for(command, case.path), "--channel", channel]
    check_run(Case(case.path, {command: codes}, a3=channel == "3"), command,
              run(argv, tmp_path))


@pytest.mark.slow
def test_an_hour_of_silence_streams_in_bounded_memory(database, tmp_path: Path) -> None:
    """An hour of 44.1 kHz silence: analyze says "no notes" (8), practice and tune find
    nothing; no command holds the hour in memory (as float32 it alone is 635 MB)."""
    case = build_corpus(tmp_path, hour=True)["hour_of_silence.flac"]
    assert case.path.stat().st_size < 5_000_000
    limits = {"analyze": 350, "practice": 350, "tune": 450}  # MB of peak RSS
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = dict(zip(COMMANDS, pool.map(lambda c: run(argv_for(c, case.path), tmp_path,
                                                         timeout=240), COMMANDS), strict=True))
    for command, result in runs.items():
        print(f"hour of silence: {command} exit {result.code}, peak RSS {result.max_rss_mb:.0f} MB")
        check_run(case, command, result)
        assert result.max_rss_mb < limits[command], (command, result.max_rss_mb)
