"""Command-line values converted without pydantic where the result is certain.

Typer ≥0.2x converts every parameter through a pydantic ``TypeAdapter``, built on the first
value the parameter sees (its default included): any command with a text or number option
imports pydantic (≈40 ms quiet, more than a warm report's queries). The common cases are
trivial — a ``str`` stays the same object, a default ``int`` is itself, ASCII digits are
``int(text)`` — so :class:`FretcoachGroup` gives each such parameter a converter that does
exactly that, a path already in its normal form is checked by typer's own path checks and
made a ``Path``, and any other value (``--limit 1_0``, a number out of range, an enum,
``a//b``) goes to typer's own pydantic converter, so results and error messages are typer's.
``tests/test_cli_coerce.py`` compares both converters value by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from typer._click import Command, Context
from typer.core import TyperGroup

try:  # typer ≥0.2x (pydantic conversion); older typers convert with click types
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = None  # type: ignore[assignment,misc]

_FLOAT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")


def _plain_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return None


def _plain_float(value: Any) -> float | None:
    if type(value) is float:
        return value
    if type(value) is str and _FLOAT.match(value):
        return float(value)  # correctly rounded, as pydantic's parser
    return None


def _normal_path(value: Any) -> str | None:
    """``value`` when it is text that ``Path`` keeps as it is (no ``a//b``, ``a/``, ``.``
    or empty): then checking the text is checking the ``Path`` typer would build, and its
    messages quote the same text."""
    if type(value) is str and value and str(Path(value)) == value:
        return value
    return None


_PLAIN = {str: lambda v: v if type(v) is str else None, int: _plain_int,
          float: _plain_float, bool: lambda v: v if type(v) is bool else None,
          Path: _normal_path}


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainParam(RuntimeParam):
        """A ``str``/``int``/``float``/``bool``/``Path`` parameter: plain values here
        (``None`` never reaches this), the rest to typer's converter."""

        def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
            out: Any = _PLAIN[self.annotation](value)
            if self.annotation is Path and out is not None:
                # typer's checks (exists, file_okay, readable, …) on the same text
                checked = coerce_cli_path(out, self.parameter_info, path_type=None,
                                          param=param, ctx=ctx)
                return Path(cast(str, checked))  # text in, text out (path_type None)
            low, high = self.parameter_info.min, self.parameter_info.max
            if out is not None and (low is None or out >= low) and (high is None or out <= high):
                return out
            return build_runtime_param(param.type_descriptor)._coerce_value(
                value, param=param, ctx=ctx)


def plain(param: Any) -> bool:
    """Whether ``param`` (a typer parameter) gets the pydantic-free converter."""
    desc = getattr(param, "type_descriptor", None)
    if RuntimeParam is None or desc is None or desc.annotation not in _PLAIN:
        return False
    info = desc.parameter_info
    if desc.annotation is Path and (info.path_type is not None or info.allow_dash):
        return False  # typer's own: a path_type to build, or "-" (which its Path never is)
    return desc.file_annotation is None and info.parser is None and not info.clamp


def _light(param: Any) -> Any:
    if plain(param) and param._runtime_param is None:  # typer builds its own lazily
        desc = param.type_descriptor
        param._runtime_param = PlainParam(parameter_info=desc.parameter_info,
                                          annotation=desc.annotation)
    return param


def install(command: Command) -> None:
    """Give every plain parameter of ``command`` and its subcommands the light converter,
    before any value is converted. The ``--help`` option (a ``bool`` whose value is
    ``None`` unless given) is made by each command on first use: its maker is wrapped."""
    if RuntimeParam is None or "get_help_option" in vars(command):
        return
    for param in command.params:
        _light(param)
    make_help = command.get_help_option
    command.get_help_option = lambda ctx: _light(make_help(ctx))  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():  # a group's
        install(sub)


class FretcoachGroup(TyperGroup):
    """The root group: installs the light converters before parsing the command line."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        install(self)
        return super().main(*args, **kwargs)
