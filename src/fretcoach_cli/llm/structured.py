"""Structured output that even a small local model gets right.

Why not LangChain's ``with_structured_output``: forced function calling sends ``tool_choice``
as an object, which llama.cpp rejects, and a model that then writes the object as fenced
JSON in its text was reported as "returned nothing". Here the request carries a JSON-schema
``response_format`` (OpenAI, llama.cpp and Ollama decode under the schema, so even a 135M
model writes schema-valid JSON), and the reply's text is parsed leniently: a bare object,
a fenced block, or the first balanced object in prose. Validation is the schema's own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fretcoach_cli.llm.failures import BadOutput

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def response_format(schema: type, wire: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAI-style ``response_format`` for a pydantic model class.

    ``wire`` is an optional stricter JSON schema to decode under (enums for what the model
    validates by hand, small bounds for free text): constrained decoding can then only
    produce what the model class accepts, and cannot ramble. The class still validates."""
    return {"type": "json_schema",
            "json_schema": {"name": getattr(schema, "__name__", "answer"),
                            "schema": wire or schema.model_json_schema(),  # type: ignore[attr-defined]
                            "strict": False}}


def json_candidates(text: str) -> list[str]:
    """Substrings of ``text`` that may be one JSON object, most likely first."""
    stripped = text.strip()
    out = [stripped] if stripped.startswith(("{", "[")) else []
    out += [m.group(1).strip() for m in _FENCE.finditer(text)]
    out += balanced_objects(text)
    return list(dict.fromkeys(c for c in out if c))  # first occurrence of each, in order


def balanced_objects(text: str) -> list[str]:
    """Top-level ``{...}`` spans of ``text``, brace-balanced outside JSON strings."""
    spans: list[str] = []
    depth, start, in_str, escape = 0, -1, False, False
    for i, ch in enumerate(text):
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"' and depth > 0:
            in_str = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start:i + 1])
    return spans


def extract_json(text: str) -> Any:
    """The first JSON value found in a model's reply, or :class:`BadOutput`."""
    if not text.strip():
        raise BadOutput("the model returned an empty reply")
    for candidate in json_candidates(text):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise BadOutput(f"no JSON object in the reply ({text.strip()[:80]!r})")


def parse_as(schema: type, text: str) -> Any:
    """Validate the reply's JSON against ``schema`` (a pydantic model class)."""
    from pydantic import ValidationError

    data = extract_json(text)
    try:
        return schema.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        raise BadOutput(f"the JSON does not match the schema ({where}: {first['msg']})") \
            from None
