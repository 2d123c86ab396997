"""fretcoach's model wire against a REAL llama.cpp server (xllamacpp + SmolLM2-135M-Instruct).

What an OpenAI-compatible local server really does with the requests fretcoach sends:
streaming, the ``max_tokens`` bound, JSON-schema response formats, tools with a model whose
chat template has no tool support, and a server killed in the middle of an answer. One server
serves the whole file; the kill and orphan tests start their own, short-lived.

Answers are greedy (temperature 0) and short, so the file takes about 20 s on a busy 2-core
machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from audio_fixtures import bench_module
from fretcoach_cli.llm.limits import Limits
from fretcoach_cli.llm.links import LOCAL_KEY, LinkSpec, build_model

llm_server = bench_module("llm_server")

pytestmark = pytest.mark.slow

#: Bound on how long a client may take to notice a dead server (the kill tests).
NOTICE_S = 10.0


@pytest.fixture
def client(llama_server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=llama_server.base_url, api_key=LOCAL_KEY, max_retries=0,
                         timeout=httpx.Timeout(120.0, connect=5.0))


def _chat_model(server: Any, *, max_tokens: int, streaming: bool = True):
    """The LangChain model exactly as fretcoach builds it for an OpenAI-compatible link."""
    spec = LinkSpec("openai", server.model, server.base_url, LOCAL_KEY)
    return build_model(spec, temperature=0.0, retries=0, streaming=streaming,
                       limits=Limits(90.0, 120.0, max_tokens=max_tokens, local=True))


STORY = [{"role": "user", "content": "Tell me a long story about a guitar player."}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "scale": {"type": "string", "enum": ["A minor pentatonic", "E blues", "G major"]},
        "bpm": {"type": "integer", "minimum": 40, "maximum": 200},
    },
    "required": ["scale", "bpm"],
    "additionalProperties": False,
}
PLAN_ASK = [{"role": "user", "content": "Pick a scale and a tempo for my practice, as JSON."}]


# (f) ------------------------------------------------------------------------------------------


def test_models_endpoint_reports_the_alias(llama_server: Any,
                                           client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids == [llm_server.MODEL_ALIAS]
    assert llama_server.model == llm_server.MODEL_ALIAS
    assert llama_server.base_url.startswith("http://127.0.0.1:")
    assert llama_server.base_url.endswith("/v1")


# (a) ------------------------------------------------------------------------------------------


def test_stream_arrives_in_several_chunks_and_ends(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="any", messages=STORY, max_tokens=12,
                                            temperature=0, stream=True)
    pieces, finish = [], []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert len(pieces) >= 3, pieces
    assert finish == ["length"]
    assert "".join(pieces).strip()


def test_langchain_stream_as_fretcoach_builds_it(llama_server: Any) -> None:
    model = _chat_model(llama_server, max_tokens=10)
    chunks = list(model.stream(STORY))
    text = [c.content for c in chunks if c.content]
    assert len(text) >= 3, chunks
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.response_metadata.get("finish_reason") == "length"
    assert merged.response_metadata.get("model_name") == llm_server.MODEL_ALIAS


# (b) ------------------------------------------------------------------------------------------


def test_max_tokens_bounds_the_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="any", messages=STORY, max_tokens=5,
                                           temperature=0)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5


def test_langchain_max_tokens_from_limits(llama_server: Any) -> None:
    reply = _chat_model(llama_server, max_tokens=4, streaming=False).invoke(STORY)
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == 4


# (c) ------------------------------------------------------------------------------------------


def test_json_schema_response_format_is_decoded_under_the_schema(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="any", messages=PLAN_ASK, max_tokens=60, temperature=0,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "plan", "schema": PLAN_SCHEMA, "strict": True}})
    assert reply.choices[0].finish_reason == "stop"
    plan = json.loads(reply.choices[0].message.content or "")
    assert set(plan) == {"scale", "bpm"}  # required, and nothing else
    assert plan["scale"] in PLAN_SCHEMA["properties"]["scale"]["enum"]
    assert type(plan["bpm"]) is int and 40 <= plan["bpm"] <= 200


def test_langchain_structured_output_json_schema(llama_server: Any) -> None:
    """with_structured_output(method="json_schema"): what fretcoach's plans ask for."""
    from pydantic import BaseModel, Field

    class Plan(BaseModel):
        scale: str = Field(pattern=r"^[A-G][#b]? (major|minor|blues)$")
        bpm: int = Field(ge=40, le=200)

    model = _chat_model(llama_server, max_tokens=60, streaming=False)
    plan = model.with_structured_output(Plan, method="json_schema").invoke(PLAN_ASK)
    assert isinstance(plan, Plan)
    assert 40 <= plan.bpm <= 200


def test_json_object_response_format_is_accepted_and_constrained(client: openai.OpenAI) -> None:
    """``json_object`` (no schema) is accepted and steers the model to JSON, but the grammar lets
    it open a Markdown fence first: the server strips the fence from the content once the JSON
    starts. Cut short inside the fence, the content is the bare fence. A tiny model also rambles
    inside the object until max_tokens; use a json_schema response format for plans."""
    def ask(max_tokens: int) -> str:
        reply = client.chat.completions.create(
            model="any", messages=[{"role": "user", "content": "Hello! Who are you?"}],
            max_tokens=max_tokens, temperature=0, response_format={"type": "json_object"})
        assert reply.choices[0].finish_reason == "length"
        return reply.choices[0].message.content or ""

    assert ask(12).startswith("{")
    assert ask(3).startswith("```")


# (d) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("choice", ["auto", "required",
                                    {"type": "function", "function": {"name": "get_weather"}}],
                         ids=["auto", "required", "object"])
def test_tools_are_dropped_for_a_template_without_tool_support(
        client: openai.OpenAI, choice: object) -> None:
    """SmolLM2's Jinja template has no tools: llama.cpp answers 200, drops the tool schemas from
    the prompt (same prompt size as without tools), never fills ``tool_calls``, and does not
    reject ``tool_choice`` (not even ``required`` or the object form). fretcoach must detect
    this and describe tools itself (text or json tool mode)."""
    bare = client.chat.completions.create(model="any", messages=WEATHER, max_tokens=1,
                                          temperature=0)
    reply = client.chat.completions.create(model="any", messages=WEATHER, tools=TOOLS,
                                           tool_choice=choice, max_tokens=6, temperature=0)
    message = reply.choices[0].message
    assert not message.tool_calls
    assert message.content
    assert reply.choices[0].finish_reason in ("length", "stop")
    assert reply.usage is not None and bare.usage is not None
    assert reply.usage.prompt_tokens == bare.usage.prompt_tokens


# (e) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["openai", "langchain"])
def test_killing_the_server_mid_stream_raises_promptly(via: str) -> None:
    """SIGKILL after two chunks: the client's stream raises at once (httpx.RemoteProtocolError
    through both the SDK and LangChain), and the next request fails at connect."""
    server = llm_server.start_server(threads=1, ctx_size=1024)
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key=LOCAL_KEY, max_retries=0,
                               timeout=httpx.Timeout(60.0, connect=5.0))
        if via == "openai":
            stream = client.chat.completions.create(model="any", messages=STORY, max_tokens=400,
                                                    temperature=0, stream=True)
            texts = (c.choices[0].delta.content for c in stream if c.choices)
        else:
            texts = (c.content for c in _chat_model(server, max_tokens=400).stream(STORY))
        got: list[str] = []
        started = 0.0
        with pytest.raises(httpx.RemoteProtocolError):
            for text in texts:
                if text:
                    got.append(text)
                    if len(got) == 2:
                        started = time.monotonic()
                        server.kill()
        assert len(got) >= 2  # chunks already buffered arrive before the error
        assert time.monotonic() - started < NOTICE_S
        assert server.process.returncode is not None

        t0 = time.monotonic()
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="any", messages=STORY, max_tokens=4)
        assert time.monotonic() - t0 < NOTICE_S
    finally:
        server.stop()


def test_start_failure_names_the_cause_from_the_child_log() -> None:
    with pytest.raises(llm_server.LlmServerError, match="ctx-size"):
        llm_server.start_server(ctx_size=16)


ORPHAN = """
import sys, threading
sys.path.insert(0, {bench!r})
import llm_server
started = []
start = lambda: started.append(llm_server.start_server(threads=1, ctx_size=512))
if {in_thread!r}:
    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
else:
    start()
print(started[0].pid, started[0].workdir, flush=True)
sys.stdin.read()
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone for our purposes (its parent, init, reaps it).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z")


@pytest.mark.parametrize("in_thread", [False, True], ids=["main-thread", "worker-thread"])
def test_server_dies_with_its_parent(in_thread: bool) -> None:
    """SIGKILL the process that started a server: the server follows (no orphans). Started
    from a worker thread that has ended, it relies on its parent-pid watch alone."""
    bench = str(Path(llm_server.__file__).parent)
    code = ORPHAN.format(bench=bench, in_thread=in_thread)
    parent = subprocess.Popen([sys.executable, "-c", code],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid, workdir = parent.stdout.readline().split(maxsplit=1)
        child = int(pid)
        assert not _gone(child)
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + NOTICE_S
        while not _gone(child):
            assert time.monotonic() < deadline, f"server {child} outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if "workdir" in locals():  # SIGKILLed with its parent, the server left its log behind
            shutil.rmtree(workdir.strip(), ignore_errors=True)
