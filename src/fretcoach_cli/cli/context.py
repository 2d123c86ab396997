"""Per-process CLI state: the effective settings after global flags.

Commands call :func:`settings` (optionally with their own flag overrides) instead of reading
the environment themselves, so precedence is applied in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fretcoach_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:  # imported by settings(): a help page needs no settings
    from fretcoach_cli import config

_state: dict[str, Any] = {"settings": None, "overrides": {}, "debug": False}


def utf8_text(value: str | None, option: str) -> str | None:
    """``value`` if it is valid UTF-8 text, else a usage error naming ``option``.

    Bytes that are not UTF-8 reach Python's argv as lone surrogates (surrogateescape); text
    bound for the database, a model or the config file would fail deep inside with an
    encoding error. (File paths are left alone: such bytes are legal in a Linux path.)"""
    if value is not None and not _is_utf8(value):
        raise UsageError(f"{option} {value!a} is not valid UTF-8 text",
                         hint="check the terminal's encoding (locale)")
    return value


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def set_global(*, user: str | None, debug: bool) -> None:
    _state["debug"] = debug
    utf8_text(user, "--user")
    _state["overrides"] = {"user": user}
    _state["settings"] = None
    _watch_journals()


def _watch_journals() -> None:
    """When crashed sessions left journals, any command that opens the database first
    writes them to it (``store.db`` open hook), so no report shows such a session as
    interrupted and empty. Without journals this is one directory read (and the store is
    not even imported)."""
    from fretcoach_cli.practice.journal import any_journals

    try:
        data_dir = settings().data_path
    except Exception:  # a broken config is reported by the command itself
        return
    if any_journals(data_dir):
        from fretcoach_cli.store.db import add_open_hook

        add_open_hook(_replay_journals)


def _replay_journals(effective: config.Settings) -> None:
    from fretcoach_cli.practice.recovery import replay_pending

    replay_pending(effective)


def debug() -> bool:
    return bool(_state["debug"])


# Settings whose command-line option is not named after the setting.
_OPTION_NAMES = {"input_device": "--device", "input_channel": "--channel", "llm_model": "--model"}


def settings(**flags: Any) -> config.Settings:
    """Effective settings: defaults < file < env < global flags < this command's flags.

    A bad value in this command's flags is a usage error (exit 2) named after the option the
    user typed, not a configuration error (exit 7) about a setting they never wrote."""
    if _state["settings"] is None:
        from fretcoach_cli import config

        loaded = config.load().with_overrides(**_state["overrides"])
        user = getattr(loaded, "user", None)
        if isinstance(user, str) and not _is_utf8(user):  # FRETCOACH_USER, file or OS name
            raise ConfigError(f"user name {user!a} ({loaded.origins.get('user')}) is not "
                              "valid UTF-8 text", hint="pass --user NAME or set FRETCOACH_USER")
        _state["settings"] = loaded
    base: config.Settings = _state["settings"]
    if not flags:
        return base
    try:
        return base.with_overrides(**flags)
    except ConfigError as err:
        message = err.message
        for key, option in _OPTION_NAMES.items():
            message = message.replace(f"--{key.replace('_', '-')}:", f"{option}:", 1)
        raise UsageError(message, hint=err.hint) from None
