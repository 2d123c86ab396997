"""Model links from settings: one (provider, model, base URL, key) each, and building them.

A *link* is one model to try; the chain (:mod:`fretcoach_cli.llm.chain`) is the primary link
plus the configured fallbacks. The offline coach is not a link: it is what callers fall back to
when every link failed, because only they know which offline answer fits.

LangChain is imported inside the functions that build models, never at module import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import ConfigError
from fretcoach_cli.llm.limits import Limits, is_local

if TYPE_CHECKING:
    from fretcoach_cli.config import Settings

PROVIDERS = ("openai", "gemini")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "gemini": "gemini-2.5-flash"}
KEY_ENV = {"openai": ("OPENAI_API_KEY",), "gemini": ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
#: Placeholder key for OpenAI-compatible local servers (Ollama, llama.cpp) that ignore it.
LOCAL_KEY = "not-needed"
OFFLINE = "offline"

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


def chain_specs(settings: Settings, env: Mapping[str, str] | None = None) -> list[LinkSpec]:
    """The configured links, primary first. Empty when no provider is configured."""
    env = os.environ if env is None else env
    provider = (settings.llm_provider or "").strip().lower()
    specs: list[LinkSpec] = []
    primary: LinkSpec | None = None
    if provider in PROVIDERS:
        model = settings.llm_model or DEFAULT_MODELS[provider]
        base_url = settings.llm_base_url or ""
        key, origin = (settings.llm_api_key, settings.origins.get("llm_api_key", "config")) \
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


def build_model(spec: LinkSpec, *, temperature: float = 0.4, limits: Limits | None = None,
                retries: int = 1, streaming: bool = True) -> Any:
    """A LangChain chat model for one link (imports the provider package lazily).

    Every request carries ``max_tokens``. A streamed call may wait ``first_token_s`` for
    each chunk (in practice: for the first one, while the server reads the prompt); a
    non-streamed call (structured output) may wait for the whole answer.
    """
    if spec.problem:
        raise ConfigError(f"{spec.label}: {spec.problem}")
    limits = limits or Limits(20.0, 60.0, local=is_local(spec.base_url))
    _no_last_resort_logging()
    if spec.provider == "openai":
        import httpx
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        read = limits.first_token_s if streaming else limits.answer_s
        timeout = httpx.Timeout(limits.answer_s, connect=min(10.0, limits.first_token_s),
                                read=read)
        return ChatOpenAI(model=spec.model, base_url=spec.base_url or None,
                          api_key=SecretStr(spec.api_key), temperature=temperature,
                          timeout=timeout, max_retries=retries,
                          max_completion_tokens=limits.max_tokens)  # the field max_tokens
    if spec.provider == "gemini":
        from langchain_google_genai import ChatGoogleGenerativeAI

        # google-genai counts attempts including the first, and treats 0 as "default (5)".
        return ChatGoogleGenerativeAI(model=spec.model, base_url=spec.base_url or None,
                                      api_key=spec.api_key, temperature=temperature,
                                      timeout=limits.answer_s, max_retries=retries + 1,
                                      max_tokens=limits.max_tokens)
    raise ConfigError(f"unknown provider {spec.provider!r}")


def structured_method(spec: LinkSpec) -> str:
    """JSON-schema response formats everywhere: OpenAI, llama.cpp and Ollama decode under the
    schema (even a tiny model gives schema-valid JSON), while forced function calling
    depends on the model's chat template (llama.cpp drops the tools of a template without
    them and ignores ``tool_choice``; some builds reject its object form). Gemini has its
    own JSON mode."""
    return "json_schema"
