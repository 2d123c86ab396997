"""Chat models from settings, and the fallback chain that tries them in order.

A *link* is one (provider, model, base URL, key). The chain is the primary link plus the
configured fallbacks; the offline coach is not a link — it is what callers fall back to when
:class:`AllLinksFailed` is raised, because only they know which offline answer fits.

Why failures are classified by exception type and status code: the libraries already map
HTTP statuses to types (``openai.RateLimitError``, ``APIStatusError.status_code``,
``google.genai.errors.APIError.code``/``status``, langchain-core's ``ModelError`` family,
``httpx.TimeoutException``), and message texts change between versions and providers.

Any failure of a link moves on to the next one; the classification decides what happens to
the link afterwards: transient kinds (rate limit, 5xx, timeout, connection) cool it down for
:data:`COOLDOWN_S`, permanent ones (auth, not found, bad request) disable it for the life of
the chain, and unusable output (no structured result, invalid plan) is retried once first.

LangChain is imported inside the functions that build models, never at module import.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fretcoach_cli.errors import ConfigError, FretcoachError, LLMError

log = logging.getLogger(__name__)

PROVIDERS = ("openai", "gemini")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "gemini": "gemini-2.5-flash"}
KEY_ENV = {"openai": ("OPENAI_API_KEY",), "gemini": ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
#: Placeholder key for OpenAI-compatible local servers (Ollama, llama.cpp) that ignore it.
LOCAL_KEY = "not-needed"
OFFLINE = "offline"

#: Failure kinds. Transient ones cool a link down for a while; permanent ones disable it.
TRANSIENT = frozenset({"rate_limit", "server", "timeout", "connection"})
PERMANENT = frozenset({"auth", "not_found", "bad_request"})
COOLDOWN_S = 60.0


# --------------------------------------------------------------------------------------------
# Link specifications


@dataclass(frozen=True)
class LinkSpec:
    """One model to try. ``key_origin`` says where the key came from (never the key itself)."""

    provider: str
    model: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    key_origin: str = ""
    problem: str = ""  # non-empty: the link cannot be used (e.g. no API key)

    @property
    def label(self) -> str:
        """"openai:gpt-4o-mini@http://host/v1" — what `coach status` shows."""
        text = f"{self.provider}:{self.model}"
        return f"{text}@{self.base_url}" if self.base_url else text

    @property
    def source(self) -> str:
        """How replies from this link are labelled: the model name."""
        return self.model


def parse_link(text: str) -> tuple[str, str, str, str]:
    """"provider:model[@base_url][#KEY_ENV]" → (provider, model, base_url, key_env).

    ``#KEY_ENV`` names the environment variable holding this link's key (DeepSeek, MiniMax…
    each have their own); without it the provider's usual variable is used.
    """
    raw = text.strip()
    key_env = ""
    if "#" in raw:
        raw, key_env = (part.strip() for part in raw.rsplit("#", 1))
    base_url = ""
    if "@" in raw:
        raw, base_url = (part.strip() for part in raw.split("@", 1))
    provider, _, model = raw.partition(":")
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise ConfigError(f"llm link {text!r}: unknown provider {provider!r}",
                          hint="use openai:MODEL[@BASE_URL][#KEY_ENV] or gemini:MODEL")
    return provider, model.strip() or DEFAULT_MODELS[provider], base_url, key_env


def _env_key(provider: str, env: Mapping[str, str], names: Sequence[str] = ()) -> tuple[str, str]:
    for name in (*names, *KEY_ENV[provider]):
        if env.get(name):
            return env[name], f"env:{name}"
    return "", ""


def _finish(provider: str, model: str, base_url: str, key: str, origin: str) -> LinkSpec:
    problem = ""
    if not key:
        if provider == "openai" and base_url:
            key, origin = LOCAL_KEY, "none (local server)"
        else:
            names = "/".join(KEY_ENV[provider])
            problem = f"no API key (set llm_api_key or {names})"
    return LinkSpec(provider, model, base_url, key, origin, problem)


def chain_specs(settings: Any, env: Mapping[str, str] | None = None) -> list[LinkSpec]:
    """The configured links, primary first. Empty when no provider is configured."""
    env = os.environ if env is None else env
    provider = (settings.llm_provider or "").strip().lower()
    specs: list[LinkSpec] = []
    primary: LinkSpec | None = None
    if provider in PROVIDERS:
        model = settings.llm_model or DEFAULT_MODELS[provider]
        base_url = settings.llm_base_url or ""
        origins = getattr(settings, "origins", None) or {}
        key, origin = (settings.llm_api_key, origins.get("llm_api_key", "config")) \
            if settings.llm_api_key else _env_key(provider, env)
        primary = _finish(provider, model, base_url, key, origin)
        specs.append(primary)
    for item in settings.llm_fallbacks or []:
        if item.strip().lower() in ("", OFFLINE, "none"):
            continue
        fp, fmodel, furl, key_env = parse_link(item)
        if key_env:
            key, origin = env.get(key_env, ""), f"env:{key_env}"
        elif (primary is not None and fp == primary.provider and furl == primary.base_url
              and primary.api_key and primary.api_key != LOCAL_KEY):
            key, origin = primary.api_key, primary.key_origin
        else:
            key, origin = _env_key(fp, env)
        specs.append(_finish(fp, fmodel, furl, key, origin))
    return specs


# --------------------------------------------------------------------------------------------
# Building models


#: Libraries that log warnings (e.g. "Gemini produced an empty response") during calls.
_CHATTY_LOGGERS = ("langchain_google_genai", "langchain_openai", "google_genai", "openai",
                   "httpx")


def _no_last_resort_logging() -> None:
    """Give chatty library loggers a NullHandler so that, when the app has configured no
    logging, their warnings do not fall through to stderr (and onto the TUI). Records still
    propagate to any handler the app installs."""
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def build_model(spec: LinkSpec, *, temperature: float = 0.4, timeout: float = 20.0,
                retries: int = 1) -> Any:
    """A LangChain chat model for one link (imports the provider package lazily)."""
    if spec.problem:
        raise ConfigError(f"{spec.label}: {spec.problem}")
    _no_last_resort_logging()
    if spec.provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=spec.model, base_url=spec.base_url or None,
                          api_key=spec.api_key, temperature=temperature, timeout=timeout,
                          max_retries=retries)
    if spec.provider == "gemini":
        from langchain_google_genai import ChatGoogleGenerativeAI

        # google-genai counts attempts including the first, and treats 0 as "default (5)".
        return ChatGoogleGenerativeAI(model=spec.model, base_url=spec.base_url or None,
                                      api_key=spec.api_key, temperature=temperature,
                                      timeout=timeout, max_retries=retries + 1)
    raise ConfigError(f"unknown provider {spec.provider!r}")


def structured_method(spec: LinkSpec) -> str:
    """Tool calling for OpenAI-compatible servers (DeepSeek, Ollama and llama.cpp support it
    where json_schema response formats are patchy); Gemini's native JSON schema mode."""
    return "function_calling" if spec.provider == "openai" else "json_schema"


# --------------------------------------------------------------------------------------------
# Failure classification


def _status_of(exc: BaseException) -> tuple[int | None, str]:
    """(HTTP status, provider status word) of a provider exception, when it carries them."""
    code = getattr(exc, "status_code", None)
    if not isinstance(code, int):
        code = getattr(exc, "code", None)
    if not isinstance(code, int):
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    status = getattr(exc, "status", None)
    return (code if isinstance(code, int) else None), (status if isinstance(status, str) else "")


def _classify_one(exc: BaseException) -> str | None:
    import httpx

    try:
        import openai
    except ImportError:  # pragma: no cover - openai comes with langchain-openai
        openai = None  # type: ignore[assignment]
    try:
        from langchain_core import exceptions as lce
    except ImportError:  # pragma: no cover
        lce = None  # type: ignore[assignment]

    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "timeout"
        if isinstance(exc, openai.APIConnectionError):
            return "connection"
    if lce is not None:
        for cls, kind in ((lce.ModelRateLimitError, "rate_limit"), (lce.ModelAPIError, "server"),
                          (lce.ModelTimeoutError, "timeout"),
                          (lce.ModelConnectionError, "connection"),
                          (lce.ModelAuthenticationError, "auth"),
                          (lce.ModelPermissionDeniedError, "auth"),
                          (lce.ModelNotFoundError, "not_found"),
                          (lce.ModelInvalidRequestError, "bad_request")):
            if isinstance(exc, cls):
                return kind
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return "connection"
    code, status = _status_of(exc)
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return "rate_limit"
    if code is not None and 500 <= code < 600:
        return "server"
    if code in (401, 403):
        return "auth"
    if code == 404:
        return "not_found"
    if code is not None and 400 <= code < 500:
        return "bad_request"
    return None


def classify_error(exc: BaseException) -> str | None:
    """"rate_limit", "server", "timeout", "connection", "auth", "not_found", "bad_request" or
    None (not a provider failure), looking through wrapped causes."""
    for e in _chain_of(exc):
        kind = _classify_one(e)
        if kind is not None:
            return kind
    return None


def _chain_of(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def describe_error(exc: BaseException, kind: str | None) -> str:
    """"rate_limit HTTP 429 RESOURCE_EXHAUSTED": the kind plus what the provider said."""
    code, status = None, ""
    for e in _chain_of(exc):
        c, s = _status_of(e)
        code, status = code or c, status or s
    parts = [kind or type(exc).__name__]
    if code:
        parts.append(f"HTTP {code}")
    if status and status not in parts:
        parts.append(status)
    return " ".join(parts)


class BadOutput(Exception):
    """The model answered, but not with something we can use (no JSON, unknown scale...)."""


# --------------------------------------------------------------------------------------------
# The chain


@dataclass(frozen=True)
class Attempt:
    """One try of one link: how it went and how long it took."""

    link: str
    ok: bool
    kind: str = ""  # failure kind ("" when ok)
    detail: str = ""
    seconds: float = 0.0


class AllLinksFailed(LLMError):
    """Every link failed (or none is usable); ``attempts`` says why, link by link."""

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts = list(attempts)
        why = "; ".join(f"{a.link}: {a.detail or a.kind}" for a in attempts) or "no model links"
        super().__init__(f"no language model answered ({why})",
                         hint="check `fretcoach coach status --ping`")


ConfigFactory = Callable[["LinkSpec"], dict[str, Any]]


class Link:
    """A spec plus its lazily built model and its health (cool-down / disabled)."""

    def __init__(self, spec: LinkSpec, *, temperature: float, timeout: float,
                 retries: int) -> None:
        self.spec = spec
        self.temperature = temperature
        self.timeout = timeout
        self.retries = retries
        self._model: Any = None
        self.cool_until = 0.0
        self.disabled = spec.problem or ""

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = build_model(self.spec, temperature=self.temperature,
                                      timeout=self.timeout, retries=self.retries)
        return self._model

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


class TextStream:
    """Tokens of one streamed reply across the chain; ``source`` is set by the first token.

    Iterating raises :class:`AllLinksFailed` if no link produced a token. A failure after the
    first token ends the stream early with ``truncated`` set (tokens already shown cannot be
    taken back, and restarting on another model would garble the reply).
    """

    def __init__(self, chain: ProviderChain, messages: list[Any],
                 config: ConfigFactory | None) -> None:
        self._chain = chain
        self._messages = messages
        self._config = config
        self.source: str | None = None
        self.truncated = False
        self.attempts: list[Attempt] = []
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        chain = self._chain
        for link in chain.links:
            why = link.usable(time.monotonic())
            if why:
                self.attempts.append(Attempt(link.spec.label, False, "skipped", why))
                continue
            started = time.monotonic()
            try:
                cfg = self._config(link.spec) if self._config else {}
                iterator = iter(link.model.stream(self._messages, config=cfg))
                first = ""
                for chunk in iterator:
                    first = _chunk_text(chunk)
                    if first:
                        break
                else:
                    raise BadOutput("empty reply")
            except Exception as exc:
                self.attempts.append(chain._failure(link, exc, started))
                continue
            self.source = link.spec.source
            self.text = first
            finished = _finished(chunk)
            yield first
            try:
                for chunk in iterator:
                    finished = finished or _finished(chunk)
                    token = _chunk_text(chunk)
                    if token:
                        self.text += token
                        yield token
            except Exception as exc:
                self.truncated = True
                self.attempts.append(chain._failure(link, exc, started))
                return
            if not finished:  # the connection ended before the model said it was done
                self.truncated = True
                self.attempts.append(Attempt(link.spec.label, False, "truncated",
                                             "stream ended without a finish reason",
                                             time.monotonic() - started))
                return
            self.attempts.append(Attempt(link.spec.label, True,
                                         seconds=time.monotonic() - started))
            return
        raise AllLinksFailed(self.attempts)


def _finished(chunk: Any) -> bool:
    meta = getattr(chunk, "response_metadata", None) or {}
    return bool(meta.get("finish_reason"))


def _chunk_text(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks (Gemini, reasoning models)
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content
                       if not isinstance(b, dict) or b.get("type", "text") == "text")
    return ""


class ProviderChain:
    """Links in order; moves on when one fails with a provider error or unusable output."""

    def __init__(self, specs: Sequence[LinkSpec], *, temperature: float = 0.4,
                 timeout: float = 20.0, retries: int = 1, cooldown_s: float = COOLDOWN_S) -> None:
        self.links = [Link(s, temperature=temperature, timeout=timeout, retries=retries)
                      for s in specs]
        self.cooldown_s = cooldown_s
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, env: Mapping[str, str] | None = None,
                      **overrides: Any) -> ProviderChain:
        from fretcoach_cli.llm.limits import limits_for

        opts = {"temperature": settings.llm_temperature,
                "timeout": limits_for(settings, settings.llm_base_url or "").answer_s,
                "retries": getattr(settings, "llm_retries", 1)}
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
        with self._lock:
            link.failed(kind, time.monotonic(), self.cooldown_s)
        log.info("llm link %s failed: %s (%s)", link.spec.label, detail, type(exc).__name__)
        return Attempt(link.spec.label, False, kind, detail[:300], time.monotonic() - started)

    def stream_text(self, messages: list[Any], *,
                    config: ConfigFactory | None = None) -> TextStream:
        """Stream a free-text reply; see :class:`TextStream`."""
        return TextStream(self, messages, config)

    def invoke_structured(self, messages: list[Any], schema: type, *,
                          validate: Callable[[Any], Any] | None = None,
                          config: ConfigFactory | None = None,
                          retry_on_bad_output: int = 1) -> tuple[Any, str, list[Attempt]]:
        """(validated object, source, attempts). Unusable output — nothing parsed (Gemini's
        silent None), invalid JSON, or ``validate`` raising — is retried once on the same
        link with the reason, then the next link is tried."""
        from langchain_core.messages import HumanMessage

        attempts: list[Attempt] = []
        for link in self.links:
            why = link.usable(time.monotonic())
            if why:
                attempts.append(Attempt(link.spec.label, False, "skipped", why))
                continue
            convo = list(messages)
            for _try in range(retry_on_bad_output + 1):
                started = time.monotonic()
                try:
                    runnable = link.model.with_structured_output(
                        schema, method=structured_method(link.spec), include_raw=True)
                    cfg = config(link.spec) if config else {}
                    result = runnable.invoke(convo, config=cfg)
                    obj = _parsed(result)
                    if validate is not None:
                        try:
                            obj = validate(obj)
                        except (ValueError, FretcoachError) as exc:  # incl. ValidationError
                            raise BadOutput(f"rejected: {exc}") from exc
                except BadOutput as exc:
                    attempts.append(Attempt(link.spec.label, False, "bad_output", str(exc)[:300],
                                            time.monotonic() - started))
                    convo = [*messages, HumanMessage(
                        f"Your previous answer could not be used ({exc}). Answer again, "
                        "following the schema exactly.")]
                    continue
                except Exception as exc:
                    attempts.append(self._failure(link, exc, started))
                    break
                attempts.append(Attempt(link.spec.label, True,
                                        seconds=time.monotonic() - started))
                return obj, link.spec.source, attempts
        raise AllLinksFailed(attempts)

    def ping(self) -> list[Attempt]:
        """Try every link once with a tiny prompt (ignores cool-downs): OK/FAIL + latency."""
        out = []
        for link in self.links:
            if link.spec.problem:
                out.append(Attempt(link.spec.label, False, "config", link.spec.problem))
                continue
            started = time.monotonic()
            try:
                reply = link.model.invoke("Reply with the single word OK.")
                if not _chunk_text(reply).strip():
                    raise BadOutput("empty reply")
            except Exception as exc:
                out.append(self._failure(link, exc, started))
                continue
            out.append(Attempt(link.spec.label, True, seconds=time.monotonic() - started))
        return out


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
