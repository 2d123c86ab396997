"""Typed settings: each setting is a typed attribute of `config.Settings`, resolved with the
same precedence (defaults < file < env < flags) and origins as before."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from fretcoach_cli import config
from fretcoach_cli.errors import ConfigError


def _load(tmp_path: Path, text: str = "", **env: str) -> config.Settings:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    return config.load(env={"FRETCOACH_CONFIG": str(cfg), **env})


def test_every_setting_is_a_typed_field_and_nothing_else_is() -> None:
    hints = typing.get_type_hints(config.Settings)
    keys = [s.key for s in config.SETTINGS]
    assert keys == [f.name for f in dataclasses.fields(config.Settings)
                    if f.name not in ("origins", "path", "debug", "extra")]
    for s in config.SETTINGS:
        assert (typing.get_origin(hints[s.key]) or hints[s.key]) is s.kind, s.key
    assert hints["llm_fallbacks"] == list[str]


def test_values_have_their_declared_types_from_every_source(tmp_path: Path) -> None:
    s = _load(tmp_path, "a4_hz = 442\ninput_channel = 2\nllm_fallbacks = 'a:b, c:d'\n",
              FRETCOACH_LLM_TIMEOUT="30", FRETCOACH_INPUT_DEVICE="3")
    assert s.a4_hz == 442.0 and type(s.a4_hz) is float and s.origins["a4_hz"] == "file"
    assert s.input_channel == 2 and type(s.input_channel) is int
    assert s.llm_fallbacks == ["a:b", "c:d"]
    assert s.llm_timeout == 30.0 and type(s.llm_timeout) is float
    assert s.origins["llm_timeout"] == "env:FRETCOACH_LLM_TIMEOUT"
    assert s.input_device == "3" and s.origins["input_device"] == "env:FRETCOACH_INPUT_DEVICE"
    flagged = s.with_overrides(llm_timeout=3, input_channel="4", strictness=None)
    assert type(flagged.llm_timeout) is float and flagged.input_channel == 4
    assert flagged.origins["llm_timeout"] == "flag" and flagged.origins["strictness"] == "default"
    # the original is untouched: with_overrides returns a copy
    assert s.llm_timeout == 30.0 and s.origins["llm_timeout"] == "env:FRETCOACH_LLM_TIMEOUT"
    assert flagged.path == s.path and flagged.values["a4_hz"] == 442.0


def test_defaults_and_shown_rows_follow_the_registry(tmp_path: Path) -> None:
    s = _load(tmp_path)
    assert s.values == {k.key: k.default() for k in config.SETTINGS if k.key != "user"} | {
        "user": s.user}
    assert [row[0] for row in s.shown()] == [k.key for k in config.SETTINGS]
    assert all(row[2] == "default" for row in s.shown())
    assert s.data_path == Path(s.data_dir).expanduser()


def test_unknown_attribute_and_unknown_flag(tmp_path: Path) -> None:
    s = _load(tmp_path)
    with pytest.raises(AttributeError):
        _ = s.no_such_setting  # type: ignore[attr-defined]  # the point of the test
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        s.with_overrides(nope=1)
    with pytest.raises(ConfigError, match=r"^--a4-hz: must be between 415 and 466"):
        s.with_overrides(a4_hz=500)


def test_secrets_stay_out_of_repr_and_are_masked_in_rows(tmp_path: Path) -> None:
    s = _load(tmp_path, FRETCOACH_LLM_API_KEY="sk-verysecretkey",
              DATABASE_URL="postgresql://bob:hunter2@db.example/x")
    assert "verysecret" not in repr(s) and "hunter2" not in repr(s)
    rows = {key: value for key, value, _, _ in s.shown()}
    assert rows["llm_api_key"] == "sk-***"
    assert rows["database_url"] == "postgresql://bob:***@db.example/x"
    assert s.origins["database_url"] == "env:DATABASE_URL"


def test_file_env_and_flag_errors_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.toml: strictness: must be between 0 and 1"):
        _load(tmp_path, "strictness = 2\n")
    with pytest.raises(ConfigError, match=r"^environment FRETCOACH_PITCH_MODEL: must be one"):
        _load(tmp_path, FRETCOACH_PITCH_MODEL="yin")
    with pytest.raises(ConfigError, match="unknown setting 'strictnes'"):
        _load(tmp_path, "strictnes = 0.2\n")
