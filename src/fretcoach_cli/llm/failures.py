"""What went wrong with a model call, in words a user can act on.

Why failures are classified by exception type and status code: the libraries already map
HTTP statuses to types (``openai.RateLimitError``, ``APIStatusError.status_code``,
``google.genai.errors.APIError.code``/``status``, langchain-core's ``ModelError`` family,
``httpx.TimeoutException``), and message texts change between versions and providers.
Transient kinds (rate limit, 5xx, timeout, connection) cool a link down; permanent ones
(auth, not found, bad request) disable it for the life of the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fretcoach_cli.errors import LLMError

#: Failure kinds. Transient ones cool a link down for a while; permanent ones disable it.
TRANSIENT = frozenset({"rate_limit", "server", "timeout", "connection"})
PERMANENT = frozenset({"auth", "not_found", "bad_request"})

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
