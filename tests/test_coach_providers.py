"""The provider chain against real clients (ChatOpenAI, ChatGoogleGenerativeAI) and fake
servers: streaming, fallbacks on 429 / 5xx / timeouts, configuration and pings."""

from __future__ import annotations

import re

import pytest

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli import config
from fretcoach_cli.errors import ConfigError
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.failures import AllLinksFailed, classify_error
from fretcoach_cli.llm.links import LinkSpec, chain_specs, parse_link


def _chain(*specs: LinkSpec, timeout: float = 5.0) -> ProviderChain:
    return ProviderChain(specs, retries=0, timeout=timeout)


def _openai(server, model: str = "gpt-test") -> LinkSpec:
    return LinkSpec("openai", model, server.base_url, "sk-test")


def _gemini(server, model: str = "gemini-test") -> LinkSpec:
    return LinkSpec("gemini", model, server.base_url, "g-test")


def _settings(**values):
    return config.load(env={}).with_overrides(**values)


def test_stream_text_arrives_token_by_token(fake_openai):
    fake_openai.push("text", content="Press right behind the fret wire.")
    stream = _chain(_openai(fake_openai)).stream_text([("human", "tip?")])
    tokens = list(stream)
    assert tokens == ["Press ", "right ", "behind ", "the ", "fret ", "wire."]
    assert stream.source == "gpt-test"
    assert stream.text == "Press right behind the fret wire."
    request = fake_openai.chat_requests()[-1].body
    assert request["stream"] is True and request["model"] == "gpt-test"


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (500, "server"),
                                              (503, "server")])
def test_http_errors_fall_back_to_the_next_link(fake_openai, fake_openai2, status, kind):
    fake_openai.push("error", status=status)
    fake_openai2.push("text", content="Slow down.")
    stream = _chain(_openai(fake_openai, "primary"), _openai(fake_openai2, "secondary")
                    ).stream_text([("human", "x")])
    assert "".join(stream) == "Slow down."
    assert stream.source == "secondary"
    assert [(a.link.split(":")[1].split("@")[0], a.ok, a.kind) for a in stream.attempts] == [
        ("primary", False, kind), ("secondary", True, "")]
    assert f"HTTP {status}" in stream.attempts[0].detail


def test_timeout_on_a_hanging_server_falls_back(fake_openai, fake_openai2):
    fake_openai.push("hang")
    fake_openai2.push("text", content="Count out loud.")
    chain = _chain(_openai(fake_openai, "slow"), _openai(fake_openai2, "fast"), timeout=0.5)
    stream = chain.stream_text([("human", "x")])
    assert "".join(stream) == "Count out loud."
    assert stream.attempts[0].kind == "timeout"


def test_gemini_resource_exhausted_falls_back_to_openai(fake_gemini, fake_openai):
    fake_gemini.push("error", status=429)
    fake_openai.push("text", content="Mute the idle strings.")
    stream = _chain(_gemini(fake_gemini), _openai(fake_openai)).stream_text([("human", "x")])
    assert "".join(stream) == "Mute the idle strings."
    assert stream.attempts[0].kind == "rate_limit"
    assert "RESOURCE_EXHAUSTED" in stream.attempts[0].detail


def test_gemini_streams_through_its_rest_api(fake_gemini):
    fake_gemini.push("text", content="Keep the thumb relaxed.")
    stream = _chain(_gemini(fake_gemini)).stream_text([("human", "x")])
    assert "".join(stream) == "Keep the thumb relaxed."
    assert stream.source == "gemini-test"
    # google-genai moved from /v1beta to /v1 (3.x); the fake serves both, as Google does
    assert re.match(r"/v1(beta)?/models/gemini-test:streamGenerateContent",
                    fake_gemini.generate_requests()[-1].path)


def test_all_links_failing_raises_with_every_reason(fake_openai, fake_gemini):
    fake_openai.push("error", status=500)
    fake_gemini.push("error", status=503)
    stream = _chain(_openai(fake_openai), _gemini(fake_gemini)).stream_text([("human", "x")])
    with pytest.raises(AllLinksFailed) as info:
        list(stream)
    assert [a.kind for a in info.value.attempts] == ["server", "server"]
    assert "no language model answered" in str(info.value)


def test_a_failed_link_cools_down_and_is_skipped_next_time(fake_openai, fake_openai2):
    fake_openai.push("error", status=429)
    chain = _chain(_openai(fake_openai, "primary"), _openai(fake_openai2, "secondary"))
    list(chain.stream_text([("human", "x")]))
    before = len(fake_openai.chat_requests())
    stream = chain.stream_text([("human", "again")])
    list(stream)
    assert len(fake_openai.chat_requests()) == before  # primary not called during cool-down
    assert stream.attempts[0].kind == "skipped" and stream.source == "secondary"


def test_mid_stream_failure_keeps_the_partial_reply_marked_truncated(fake_openai, fake_openai2):
    fake_openai.push("cut", content="one two three four five", after=2)
    chain = _chain(_openai(fake_openai), _openai(fake_openai2))
    stream = chain.stream_text([("human", "x")])
    assert "".join(stream) == "one two "
    assert stream.truncated and stream.source == "gpt-test"
    assert fake_openai2.chat_requests() == []  # never restarted on another model


def test_no_provider_configured_means_an_empty_chain():
    chain = ProviderChain.from_settings(_settings(), env={})
    assert not chain.configured and chain.primary_source == "offline"


def test_chain_specs_from_settings_and_fallback_syntax():
    s = _settings(llm_provider="openai", llm_model="deepseek-chat",
                  llm_base_url="https://api.deepseek.com/v1", llm_api_key="sk-1",
                  llm_fallbacks="gemini:gemini-2.5-flash,openai:llama3@http://127.0.0.1:11434/v1,"
                                "openai:MiniMax-M1@https://api.minimax.io/v1#MINIMAX_KEY,offline")
    specs = chain_specs(s, env={"GEMINI_API_KEY": "g-1", "MINIMAX_KEY": "mm-1"})
    assert [sp.label for sp in specs] == [
        "openai:deepseek-chat@https://api.deepseek.com/v1", "gemini:gemini-2.5-flash",
        "openai:llama3@http://127.0.0.1:11434/v1", "openai:MiniMax-M1@https://api.minimax.io/v1"]
    assert [sp.key_origin for sp in specs] == ["flag", "env:GEMINI_API_KEY",
                                               "none (local server)", "env:MINIMAX_KEY"]
    assert all(not sp.problem for sp in specs)
    assert "sk-1" not in repr(specs[0])


def test_missing_key_marks_the_link_unusable_not_an_error():
    specs = chain_specs(_settings(llm_provider="gemini"), env={})
    assert specs[0].model == "gemini-2.5-flash"
    assert "GOOGLE_API_KEY" in specs[0].problem
    stream = ProviderChain(specs).stream_text([("human", "x")])
    with pytest.raises(AllLinksFailed):
        list(stream)


def test_unknown_provider_in_a_fallback_is_a_config_error():
    with pytest.raises(ConfigError):
        parse_link("anthropic:claude")


def test_classify_error_uses_types_and_status_codes():
    import httpx
    import openai

    req = httpx.Request("POST", "http://x")
    resp = httpx.Response(429, request=req)
    assert classify_error(openai.RateLimitError("slow down", response=resp, body=None)) == \
        "rate_limit"
    assert classify_error(openai.APITimeoutError(request=req)) == "timeout"
    assert classify_error(httpx.ReadTimeout("t", request=req)) == "timeout"
    from google.genai import errors as gerr

    assert classify_error(gerr.ClientError(429, {"error": {
        "code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}})) == "rate_limit"
    assert classify_error(gerr.ServerError(500, {"error": {"code": 500}})) == "server"
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = httpx.ConnectError("refused", request=req)
    assert classify_error(wrapped) == "connection"
    assert classify_error(ValueError("a bug")) is None


def test_ping_reports_each_link(fake_openai, fake_gemini):
    fake_gemini.push("error", status=429)
    results = _chain(_openai(fake_openai), _gemini(fake_gemini),
                     LinkSpec("gemini", "g2", "", "", problem="no API key")).ping()
    assert [(r.ok, r.kind) for r in results] == [(True, ""), (False, "rate_limit"),
                                                 (False, "config")]
    assert results[0].seconds > 0
