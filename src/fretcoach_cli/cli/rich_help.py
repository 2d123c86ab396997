"""Typer's rich help without the two imports it never uses here.

``typer.rich_utils`` (imported to draw any help page) imports ``rich.markdown`` (with
markdown-it and pygments) for ``rich_markup_mode="markdown"`` and ``rich.traceback`` (with
rich.pretty and attrs) for pretty exceptions: about a third of ``fretcoach --help``. We use
rich markup and plain exceptions, so :func:`preload` imports ``typer.rich_utils`` while
those two modules are stand-ins whose one name it takes (``Markdown``, ``Traceback``)
imports the real thing on first use. The stand-ins leave ``sys.modules`` right after, so
anything else importing them gets the real modules.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_DEFERRED = (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback"))


def _deferred_class(module: str, name: str) -> type:
    """A class standing for ``module.name``: calling it or reading an attribute of it
    imports the real module (type annotations such as ``Markdown | Text`` need a class)."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    class _Meta(type):
        def __getattr__(cls, attr: str) -> Any:
            return getattr(real(), attr)

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

    return _Meta(name, (), {"__module__": module, "__qualname__": name})


def preload() -> None:
    """Import ``typer.rich_utils`` without ``rich.markdown`` and ``rich.traceback`` (no-op
    when it is already imported, or when they are)."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module, name in _DEFERRED:
        if module not in sys.modules:
            stand_in = types.ModuleType(module)
            setattr(stand_in, name, _deferred_class(module, name))
            stand_ins[module] = stand_in
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


def wants_help(argv: list[str]) -> bool:
    """Whether this command line asks for a help page (``-h``/``--help`` before ``--``)."""
    for word in argv:
        if word == "--":
            return False
        if word in ("-h", "--help"):
            return True
    return False
