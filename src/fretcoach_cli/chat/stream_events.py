"""The text events of a streamed answer, shared by the chat service and the grounded writer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Token:
    text: str


@dataclass
class Reset:
    """Discard the partial answer shown so far (a model failed mid-answer, or its answer
    was refused)."""
