"""Pytest fixtures for the fake servers: ``from fakes.fixtures import *`` in a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .gemini import FakeGemini
from .openai_chat import FakeOpenAI
from .opik import FakeOpik

__all__ = ["fake_gemini", "fake_openai", "fake_openai2", "fake_opik"]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai2() -> Iterator[FakeOpenAI]:
    """A second, independent OpenAI-compatible server (a fallback link)."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def fake_opik() -> Iterator[FakeOpik]:
    with FakeOpik() as server:
        yield server
