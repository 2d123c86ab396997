"""How long and how much a model may take: deadlines and the output bound.

Why two defaults: a llama.cpp or Ollama server on this machine reads a 1,500-token prompt on
the CPU in tens of seconds before its first token, while a hosted API answers in one or two; a
single 20 s deadline cut every first question to a local model. ``0`` in a setting means
"auto": the local figures for a loopback base URL, the hosted ones otherwise.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

#: (first token, whole answer) seconds. The whole answer is also a chat turn's budget.
LOCAL_DEADLINES = (60.0, 90.0)
HOSTED_DEADLINES = (20.0, 60.0)
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class Limits:
    """Per-request bounds for one link."""

    first_token_s: float
    answer_s: float
    max_tokens: int = DEFAULT_MAX_TOKENS
    local: bool = False


def is_local(base_url: str) -> bool:
    """True for a server on this machine (loopback address or ``localhost``)."""
    if not base_url:
        return False
    host = urlparse(base_url if "//" in base_url else f"http://{base_url}").hostname or ""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def limits_for(settings: Any, base_url: str = "") -> Limits:
    """The effective limits for a link at ``base_url`` under ``settings``."""
    local = is_local(base_url)
    first_default, answer_default = LOCAL_DEADLINES if local else HOSTED_DEADLINES
    first = float(getattr(settings, "llm_first_token_timeout", 0) or 0) or first_default
    answer = float(getattr(settings, "llm_timeout", 0) or 0) or answer_default
    max_tokens = int(getattr(settings, "llm_max_tokens", 0) or 0) or DEFAULT_MAX_TOKENS
    return Limits(min(first, answer), answer, max_tokens, local)


T = TypeVar("T")


def call_within(fn: Callable[[], T], deadline: float | None, what: str = "the model") -> T:
    """``fn()``, or :class:`TimeoutError` once the monotonic ``deadline`` passes.

    The call runs in a daemon thread: an HTTP request cannot be interrupted from outside,
    but the user gets the fallback on time, and the abandoned request ends at its own
    timeout without keeping the process alive.
    """
    if deadline is None:
        return fn()
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"{what}: no time left")
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="llm-call", daemon=True).start()
    if not done.wait(remaining):
        raise TimeoutError(f"{what} did not answer in time")
    if "error" in box:
        raise box["error"]
    return box["value"]
