"""The chain of links and the one loop that tries them in order.

Any failure of a link moves on to the next one; the failure's kind decides what happens to
the link afterwards (see :mod:`fretcoach_cli.llm.failures`), and unusable output (no
structured result, an invalid plan) is retried once on the same link first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fretcoach_cli.errors import ConfigError, FretcoachError
from fretcoach_cli.llm.failures import (
    PERMANENT,
    TRANSIENT,
    AllLinksFailed,
    Attempt,
    BadOutput,
    classify_error,
    describe_error,
)
from fretcoach_cli.llm.limits import Limits, call_within, limits_for
from fretcoach_cli.llm.links import OFFLINE, LinkSpec, build_model, chain_specs, structured_method
from fretcoach_cli.llm.stream import TextStream, _chunk_text

log = logging.getLogger(__name__)

COOLDOWN_S = 60.0

ConfigFactory = Callable[[LinkSpec], dict[str, Any]]

T = TypeVar("T")


class Link:
    """A spec plus its lazily built models and its health (cool-down / disabled)."""

    def __init__(self, spec: LinkSpec, *, temperature: float, limits: Limits,
                 retries: int) -> None:
        self.spec = spec
        self.temperature = temperature
        self.limits = limits
        self.retries = retries
        self._models: dict[bool, Any] = {}
        self.cool_until = 0.0
        self.disabled = spec.problem or ""

    @property
    def timeout(self) -> float:
        return self.limits.answer_s

    def _build(self, streaming: bool) -> Any:
        if streaming not in self._models:
            self._models[streaming] = build_model(
                self.spec, temperature=self.temperature, limits=self.limits,
                retries=self.retries, streaming=streaming)
        return self._models[streaming]

    @property
    def model(self) -> Any:
        """The model for streamed calls (chat, live tips): a first-token deadline."""
        return self._build(True)

    @property
    def whole_model(self) -> Any:
        """The model for calls answered in one piece (plans, tool picks): the answer deadline."""
        return self._build(False)

    def usable(self, now: float) -> str:
        """Empty when the link may be tried now, else why not."""
        if self.disabled:
            return self.disabled
        if now < self.cool_until:
            return f"cooling down for {self.cool_until - now:.0f} s after a failure"
        return ""

    def failed(self, kind: str | None, now: float, cooldown_s: float) -> None:
        if kind in PERMANENT:
            self.disabled = f"disabled after {kind}"
        elif kind in TRANSIENT:
            self.cool_until = now + cooldown_s


class ProviderChain:
    """Links in order; moves on when one fails with a provider error or unusable output.

    :meth:`first_answer` is the one fallback loop: streaming, structured output, the chat
    agent's model calls and its tool-picking step all go through it.
    """

    def __init__(self, specs: Sequence[LinkSpec], *, temperature: float = 0.4,
                 timeout: float | None = None, retries: int = 1,
                 cooldown_s: float = COOLDOWN_S, settings: Any = None) -> None:
        self.links = [Link(s, temperature=temperature, retries=retries,
                           limits=_limits(settings, s, timeout)) for s in specs]
        self.cooldown_s = cooldown_s
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, env: Mapping[str, str] | None = None,
                      **overrides: Any) -> ProviderChain:
        opts = {"temperature": settings.llm_temperature,
                "retries": getattr(settings, "llm_retries", 1), "settings": settings}
        opts.update(overrides)
        return cls(chain_specs(settings, env), **opts)

    @property
    def configured(self) -> bool:
        return bool(self.links)

    @property
    def primary_source(self) -> str:
        return self.links[0].spec.source if self.links else OFFLINE

    def _failure(self, link: Link, exc: BaseException, started: float) -> Attempt:
        if isinstance(exc, BadOutput):
            kind = "bad_output"
        elif isinstance(exc, ConfigError):
            kind = "config"
        else:
            kind = classify_error(exc) or "error"
        detail = str(exc) if kind in ("bad_output", "config") else describe_error(exc, kind)
        if kind == "error":  # not a provider failure we know: say what it was
            first = (str(exc).splitlines() or [""])[0][:160]
            detail = f"{detail} ({type(exc).__name__}: {first})" if first else detail
        if kind == "timeout":
            detail = f"{detail}: no answer from {link.spec.base_url or link.spec.provider} " \
                     f"within {link.timeout:g} s"
        with self._lock:
            link.failed(kind, time.monotonic(), self.cooldown_s)
        log.info("llm link %s failed: %s (%s)", link.spec.label, detail, type(exc).__name__)
        return Attempt(link.spec.label, False, kind, detail[:300], time.monotonic() - started)

    def first_answer(self, call: Callable[[Link], T], *,
                     passthrough: tuple[type[BaseException], ...] = (),
                     on_failure: Callable[[Attempt], None] | None = None,
                     notes: list[Attempt] | None = None,
                     ) -> tuple[T, Link, list[Attempt]]:
        """``call(link)`` on each usable link in order until one returns.

        Returns (its result, the link, every attempt). Exceptions in ``passthrough`` are
        not failures (e.g. LangGraph's control-flow signals) and propagate; anything else
        is classified, recorded, the link cooled down or disabled, and the next one tried.
        ``notes`` is where ``call`` records attempts of its own (a retried bad output);
        they are listed before the attempt that ends the call.
        Raises :class:`AllLinksFailed` with every attempt when none answers.
        """
        notes = notes if notes is not None else []
        attempts: list[Attempt] = []
        for link in self.links:
            why = link.usable(time.monotonic())
            if why:
                attempts.append(Attempt(link.spec.label, False, "skipped", why))
                continue
            started = time.monotonic()
            try:
                result = call(link)
            except passthrough:
                raise
            except Exception as exc:
                attempts.extend(notes)
                notes.clear()
                attempts.append(self._failure(link, exc, started))
                if on_failure is not None:
                    on_failure(attempts[-1])
                continue
            attempts.extend(notes)
            notes.clear()
            attempts.append(Attempt(link.spec.label, True, seconds=time.monotonic() - started))
            return result, link, attempts
        raise AllLinksFailed(attempts)

    def stream_text(self, messages: list[Any], *, config: ConfigFactory | None = None,
                    max_tokens: int | None = None, deadline: float | None = None
                    ) -> TextStream:
        """Stream a free-text reply (at most ``max_tokens``, if given, below the link's own
        bound; done by the monotonic ``deadline``, if given); see :class:`TextStream`."""
        return TextStream(self, messages, config, max_tokens, deadline)

    def invoke_structured(self, messages: list[Any], schema: type, *,
                          validate: Callable[[Any], Any] | None = None,
                          config: ConfigFactory | None = None,
                          retry_on_bad_output: int = 1, deadline: float | None = None,
                          max_tokens: int | None = None, wire_schema: dict[str, Any] | None = None,
                          ) -> tuple[Any, str, list[Attempt]]:
        """(validated object, source, attempts) for a pydantic ``schema``.

        Unusable output — no JSON, JSON that does not match, or ``validate`` raising — is
        retried once on the same link with the reason, then the next link is tried.
        """

        notes: list[Attempt] = []

        def on_link(link: Link) -> Any:
            return call_within(lambda: structured_on(
                link, messages, schema, validate=validate,
                config=config(link.spec) if config else {}, retries=retry_on_bad_output,
                notes=notes, max_tokens=max_tokens, wire_schema=wire_schema), deadline,
                link.spec.label)

        obj, link, attempts = self.first_answer(on_link, notes=notes)
        return obj, link.spec.source, attempts

    def ping(self) -> list[Attempt]:
        """Try every link once with a tiny prompt (ignores cool-downs): OK/FAIL + latency."""
        out = []
        for link in self.links:
            if link.spec.problem:
                out.append(Attempt(link.spec.label, False, "config", link.spec.problem))
                continue
            started = time.monotonic()
            try:
                model = link.whole_model
                if link.spec.provider == "openai":  # one word: a chatty model stops early
                    model = model.bind(max_tokens=8)
                reply = model.invoke("Reply with the single word OK.")
                if not _chunk_text(reply).strip():
                    raise BadOutput("empty reply")
            except Exception as exc:
                out.append(self._failure(link, exc, started))
                continue
            out.append(Attempt(link.spec.label, True, seconds=time.monotonic() - started))
        return out


def structured_on(link: Link, messages: list[Any], schema: type, *,
                  validate: Callable[[Any], Any] | None = None,
                  config: dict[str, Any] | None = None, retries: int = 1,
                  notes: list[Attempt] | None = None, max_tokens: int | None = None,
                  wire_schema: dict[str, Any] | None = None) -> Any:
    """One link's structured answer, retried ``retries`` times with the reason; the bad
    answers before the last are recorded in ``notes``, the last one is raised."""
    from langchain_core.messages import HumanMessage

    convo = list(messages)
    for attempt in range(retries + 1):
        started = time.monotonic()
        try:
            obj = _structured_once(link, convo, schema, config or {}, max_tokens, wire_schema)
            if validate is not None:
                try:
                    obj = validate(obj)
                except (ValueError, FretcoachError) as exc:  # incl. ValidationError
                    raise BadOutput(f"rejected: {exc}") from exc
            return obj
        except BadOutput as exc:
            if attempt == retries:
                raise
            if notes is not None:
                notes.append(Attempt(link.spec.label, False, "bad_output", str(exc)[:300],
                                     time.monotonic() - started))
            convo = [*messages, HumanMessage(
                f"Your previous answer could not be used ({exc}). Answer again with one JSON "
                "object that follows the schema exactly.")]
    raise AssertionError("unreachable")


def _structured_once(link: Link, messages: list[Any], schema: type,
                     config: dict[str, Any], max_tokens: int | None = None,
                     wire_schema: dict[str, Any] | None = None) -> Any:
    from fretcoach_cli.llm.structured import parse_as, response_format

    if link.spec.provider == "gemini":
        runnable = link.whole_model.with_structured_output(
            schema, method=structured_method(link.spec), include_raw=True)
        return _parsed(runnable.invoke(messages, config=config))
    bound: dict[str, Any] = {"response_format": response_format(schema, wire_schema)}
    if max_tokens:
        bound["max_tokens"] = min(max_tokens, link.limits.max_tokens)
    try:
        reply = link.whole_model.bind(**bound).invoke(messages, config=config)
    except Exception as exc:
        if type(exc).__name__ == "LengthFinishReasonError":  # openai's parse of a cut reply
            raise BadOutput("the JSON ran past the token bound") from exc
        raise
    return parse_as(schema, _chunk_text(reply))


def _limits(settings: Any, spec: LinkSpec, timeout: float | None) -> Limits:
    limits = limits_for(settings, spec.base_url)
    if timeout is not None:  # an explicit override (tests, `coach status --ping`)
        limits = Limits(min(limits.first_token_s, timeout), timeout, limits.max_tokens,
                        limits.local)
    return limits


def _parsed(result: Any) -> Any:
    """The parsed object of an ``include_raw=True`` structured call, or BadOutput."""
    if not isinstance(result, dict):
        if result is None:
            raise BadOutput("the model returned nothing")
        return result
    error = result.get("parsing_error")
    parsed = result.get("parsed")
    if error is not None:
        raise BadOutput(f"unparseable output: {str(error).splitlines()[0][:200]}")
    if parsed is None:
        raise BadOutput("the model returned nothing (no structured output)")
    return parsed
