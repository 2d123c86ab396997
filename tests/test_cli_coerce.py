"""The pydantic-free converters (`cli/coerce.py`) give exactly what typer's own give: the
same value, or the same error, for every plain parameter of every command — and a command
line whose values are plain never imports pydantic."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import Context
from typer._click.exceptions import BadParameter

from cli_probe import probe
from fretcoach_cli.cli import coerce, main

coercion = pytest.importorskip("typer._coercion")  # typer ≥0.2x: pydantic conversion

VALUES: dict[type, list[Any]] = {
    str: ["", "abc", "  spaced ", "-1", "x\udcff", "A minor pentatonic", "ü"],
    int: [0, 1, 20, 24, 25, "0", "1", "20", "007", " 20", "20 ", "1_0", "+5", "-3", "٣", "²",
          "abc", "", "1.0", "99999999999999999999999", True, 2.0],
    float: [0.5, 1.5, 3, "1.5", "-2.25", "+0.5", "1e3", "inf", "nan", ".5", "5.", "1_0",
            "abc", "", "٣", "10", "0", True],
    bool: [True, False, "true", "1", "no", "", "x"],
    Path: ["", ".", "-", "a", "a/", "a//b", "./a", "a/.", "/", "x\udcff", "ü.wav",
           "/no/such/take.wav", __file__, __file__ + "/", str(Path(__file__).parent),
           Path("already.wav")],
}


def _params() -> list[tuple[str, Any, Any]]:
    main._register_commands(None)
    root = typer.main.get_command(main.app)
    found = []

    def walk(cmd: Any, path: str) -> None:
        params = [*cmd.params, cmd.get_help_option(Context(cmd, info_name=path))]
        found.extend((path, cmd, p) for p in params if coerce.plain(p))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "fretcoach")
    return found


PARAMS = _params()


def _outcome(runtime: Any, value: Any, cmd: Any, param: Any) -> tuple[str, str]:
    try:
        out = runtime.coerce(value, param=param, ctx=Context(cmd, info_name="fretcoach"))
    except BadParameter as exc:
        return "error", exc.format_message()
    if isinstance(out, float) and math.isnan(out):
        return "float", "nan"
    return type(out).__name__, repr(out)


def test_every_kind_of_plain_parameter_is_covered() -> None:
    kinds = {p.type_descriptor.annotation for _path, _cmd, p in PARAMS}
    assert {str, int, bool} <= kinds <= set(VALUES)
    assert any(p.type_descriptor.parameter_info.min is not None for *_, p in PARAMS)


@pytest.mark.parametrize(("path", "cmd", "param"), PARAMS,
                         ids=[f"{path} {p.name}" for path, _c, p in PARAMS])
def test_plain_converter_equals_typers(path: str, cmd: Any, param: Any) -> None:
    desc = param.type_descriptor
    ours = coerce.PlainParam(parameter_info=desc.parameter_info, annotation=desc.annotation)
    theirs = coercion.build_runtime_param(desc)
    for value in [None, *VALUES[desc.annotation]]:
        assert _outcome(ours, value, cmd, param) == _outcome(theirs, value, cmd, param), value


def _probe(*args: str) -> tuple[str, str, dict]:
    out, err, info = probe(list(args), ("pydantic",))
    return out, err, {"code": info["code"], "pydantic": bool(info["heavy"])}


def test_plain_values_do_not_import_pydantic() -> None:
    out, _err, info = _probe("scales", "show", "A minor pentatonic", "--frets", "12", "--json")
    assert info == {"code": 0, "pydantic": False}
    assert json.loads(out)["scale"] == "A minor pentatonic"


def test_a_path_argument_does_not_import_pydantic(tmp_path: Path) -> None:
    missing = tmp_path / "take.wav"
    _out, err, info = _probe("analyze", str(missing), "--scale", "A minor pentatonic")
    assert info["pydantic"] is False and info["code"] != 0
    assert "take.wav" in err and "Traceback" not in err


def test_other_values_get_typers_own_conversion_and_message() -> None:
    out, _err, info = _probe("scales", "show", "A minor", "--frets", "1_2", "--json")
    assert info == {"code": 0, "pydantic": True}  # pydantic reads "1_2" as 12, and so do we
    assert out == _probe("scales", "show", "A minor", "--frets", "12", "--json")[0]
    _out, err, info = _probe("scales", "show", "A minor", "--frets", "25")
    assert info["code"] == 2
    assert err == ("fretcoach: error: Invalid value for '--frets': Input should be less than "
                   "or equal to 24 (see 'fretcoach scales show --help')")
