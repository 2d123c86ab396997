"""Custom scales: an interval spelling after a root, and named user scales in the config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fretcoach_cli import config
from fretcoach_cli.errors import ConfigError, UsageError
from fretcoach_cli.music.scales import parse_scale, parse_spelling


def fc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fretcoach_cli.cli.main", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_spelling_of_a_builtin_set_is_that_builtin() -> None:
    # 1 b3 4 #4 5 b7 is the blues scale (spelt b5 in the table): one scale, one name
    scale = parse_scale("D 1 b3 4 #4 5 b7")
    assert scale.type_key == "blues"
    assert scale.display_name == "D blues"
    assert parse_scale("A 1 b3 4 5 b7").display_name == "A minor pentatonic"


def test_a_truly_custom_scale() -> None:
    scale = parse_scale("C 1 b2 3 #4 5 b7")
    assert scale.is_custom and scale.type_key == "custom"
    assert scale.note_names() == ("C", "Db", "E", "F#", "G", "Bb")
    assert scale.pitch_classes == (0, 1, 4, 6, 7, 10)
    assert scale.display_name == "C 1 b2 3 #4 5 b7"
    assert parse_scale(scale.display_name) == scale  # sessions store it and read it back
    assert scale.type_name == "custom 1 b2 3 #4 5 b7"
    assert scale.contains(6) and not scale.contains(5)


def test_stored_type_is_one_form_per_note_set() -> None:
    a = parse_scale("C 1 b2 3 #4 5 b7")
    b = parse_scale("C b7 b5 5 b2 3")  # another order, b5 for #4, root implied
    assert a.type_name == b.type_name == "custom 1 b2 3 #4 5 b7"
    assert b.note_names() == ("C", "Db", "E", "Gb", "G", "Bb")  # the player's spelling stays


def test_unicode_accidentals_and_extensions() -> None:
    assert parse_spelling("1 ♭3 ♯4 5") == ((0, 3, 6, 7), ("1", "b3", "#4", "5"))
    assert parse_spelling("1 b9 5")[0] == (0, 1, 7)


@pytest.mark.parametrize(("spelling", "token"), [
    ("1 b3 q 5", "'q'"), ("1 b3 14", "'14'"), ("1 b3 x4", "'x4'"), ("b1 3 5", "'b1'"),
    ("1 0 5", "'0'"),
])
def test_bad_tokens_are_named(spelling: str, token: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_scale(f"D {spelling}")
    assert token in err.value.one_line()


def test_same_semitone_twice_is_an_error() -> None:
    with pytest.raises(UsageError, match="'#4' and 'b5' are the same note"):
        parse_scale("D 1 #4 b5")


def test_scales_show_accepts_a_spelling() -> None:
    out = fc("scales", "show", "C 1 b2 3 #4 5 b7", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["notes"] == ["C", "Db", "E", "F#", "G", "Bb"]
    assert doc["type"] == "custom" and doc["type_name"] == "custom 1 b2 3 #4 5 b7"


def test_scales_show_bad_spelling_is_one_line_exit_2() -> None:
    out = fc("scales", "show", "D 1 b3 4 #4 5 b7z")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "'b7z'" in lines[0], out.stderr


@pytest.fixture()
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('strictness = 0.4\n[scales]\n"my blues" = "1 b3 4 #4 5 b7"\n'
                    '"hira" = "1 2 b3 5 b6"\n"broken" = "1 b3 q"\n', encoding="utf-8")
    monkeypatch.setenv("FRETCOACH_CONFIG", str(path))
    return path


def test_named_user_scale(user_config: Path) -> None:
    scale = parse_scale("E hira")
    assert scale.alias == "hira" and scale.is_custom
    assert scale.note_names() == ("E", "F#", "G", "B", "C")
    assert parse_scale("D my blues").display_name == "D blues"
    # the settings loader still reads the file (the [scales] table is not a setting)
    assert config.load().strictness == 0.4


def test_broken_user_scale_names_scale_and_token(user_config: Path) -> None:
    with pytest.raises(UsageError, match=r"user scale 'broken'.*'q'"):
        parse_scale("D broken")


def test_scales_table_must_hold_strings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[scales]\nx = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'x' must be a string"):
        config.user_scales(path=path)


def test_cli_named_user_scale(user_config: Path) -> None:
    out = fc("scales", "show", "E hira")
    assert out.returncode == 0, out.stderr
    assert "E hira (1 2 b3 5 b6)" in out.stdout


def test_a_misspelt_name_with_a_number_is_not_read_as_a_spelling() -> None:
    with pytest.raises(UsageError) as err:
        parse_scale("A minor 7")
    assert "did you mean: A natural minor" in err.value.one_line()


def test_session_row_fields_of_a_custom_scale() -> None:
    from fretcoach_cli.practice.summary import session_fields

    for text in ("C 1 b2 3 #4 5 b7", "C 1 b2 3 b5 5 b7"):
        row = session_fields(parse_scale(text), user="u", bpm=None, strictness=0.5,
                             sensitivity=0.5, a4=440.0, pitch_model="swift", source_kind="file")
        assert row["scale_type"] == "custom 1 b2 3 #4 5 b7"
        assert row["scale_chosen"] == text and row["scale_root"] == "C"
        assert parse_scale(row["scale_chosen"]).display_name == text  # recovery reads it back
