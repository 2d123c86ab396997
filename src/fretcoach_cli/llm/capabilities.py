"""What an OpenAI-compatible server can do with tools, asked of the server itself.

llama.cpp's ``/props`` reports the loaded chat template's ``chat_template_caps``
(``supports_tool_calls``: a template without tools makes the server drop them from the
prompt), and Ollama's ``/api/show`` lists a model's ``capabilities`` (``"tools"``). Hosted
APIs have neither; for them (and when a server does not say) the answer is ``None`` and the
caller decides by other means.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


def _root(base_url: str) -> str:
    """``http://host:port/v1`` → ``http://host:port``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def tool_support(base_url: str, model: str, timeout: float = PROBE_TIMEOUT_S) -> bool | None:
    """True/False when the server says whether ``model`` takes tool calls; None when it
    does not say (or cannot be reached in ``timeout``)."""
    import httpx

    root = _root(base_url)
    try:
        with httpx.Client(timeout=timeout) as client:
            props = _json(client.get(f"{root}/props"))
            caps = props.get("chat_template_caps") if isinstance(props, dict) else None
            if isinstance(caps, dict) and "supports_tool_calls" in caps:
                return bool(caps["supports_tool_calls"])
            show = _json(client.post(f"{root}/api/show", json={"model": model}))
            capabilities = show.get("capabilities") if isinstance(show, dict) else None
            if isinstance(capabilities, list):
                return "tools" in capabilities
    except httpx.HTTPError as exc:
        log.info("no capability answer from %s: %s", root, exc)
    return None


def _json(response: Any) -> Any:
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None
