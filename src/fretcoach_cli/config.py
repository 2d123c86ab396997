"""Settings in one place: defaults < TOML config file < FRETCOACH_* environment < flags.

Each setting is a typed field of ``Settings`` (declared once, with its default, doc, environment
names and check), so ``settings.llm_timeout`` is a float to the type checker too. Each effective
value remembers where it came from so ``fretcoach config show`` can explain it.
The config file lives in the user config dir (platformdirs) unless ``FRETCOACH_CONFIG`` names
another file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from fretcoach_cli.errors import ConfigError

APP_NAME = "fretcoach"


def _platformdirs() -> Any:
    """platformdirs, imported when a default path is needed (not when the path is set)."""
    import platformdirs

    return platformdirs


def _parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _default_user() -> str:
    import getpass

    try:
        return getpass.getuser() or "guitarist"
    except Exception:  # no passwd entry in some containers
        return "guitarist"


def _bounded(lo: float, hi: float) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not lo <= float(value) <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")

    return check


def _choice(*options: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")

    return check


def _prompt_version(name: str) -> Callable[[Any], None]:
    """A version label's shape (v1, v2…); whether that file exists is checked where the
    prompt is loaded (config sits below the coach layer and cannot list the files)."""
    def check(value: Any) -> None:
        if value and not re.fullmatch(r"v\d+", str(value)):
            raise ValueError(f"must be a {name} prompt version such as v1 or v2 (empty = newest)")

    return check


def _speech(value: Any) -> None:
    engine = str(value).split(":", 1)[0]
    if engine not in ("espeak", "openai") or (engine == "espeak" and value != "espeak"):
        raise ValueError("must be espeak, openai or openai:MODEL")


@dataclass(frozen=True)
class Setting:
    """One configurable key: its type, default, doc and the environment names it reads."""

    key: str
    kind: type
    default: Callable[[], Any]
    doc: str
    secret: bool = False
    env: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None

    @property
    def env_names(self) -> tuple[str, ...]:
        return (f"FRETCOACH_{self.key.upper()}", *self.env)

    def parse(self, raw: Any) -> Any:
        """Convert a raw string/TOML value to this setting's type, or raise ValueError."""
        if raw is None:
            return None
        if self.kind is bool:
            value: Any = raw if isinstance(raw, bool) else _parse_bool(str(raw))
        elif self.kind is list:
            value = list(raw) if isinstance(raw, list) else _parse_list(str(raw))
        elif self.kind is int:
            value = int(raw)
        elif self.kind is float:
            value = float(raw)
        else:
            value = str(raw)
        if self.check is not None and value not in (None, ""):
            self.check(value)
        return value


@dataclass(frozen=True)
class _About:
    """What `_setting_field` attaches to a `Settings` field (the rest of a `Setting`)."""

    doc: str
    secret: bool
    env: tuple[str, ...]
    check: Callable[[Any], None] | None


def _setting_field(default: Callable[[], Any], doc: str, *, secret: bool = False,
                   env: tuple[str, ...] = (), check: Callable[[Any], None] | None = None) -> Any:
    """Declare one setting as a `Settings` field: the annotation is its type, the rest is
    kept in the field's metadata and becomes its `Setting` in ``SETTINGS``."""
    return field(default_factory=default, repr=not secret,
                 metadata={"setting": _About(doc, secret, env, check)})


@dataclass
class Settings:
    """Effective settings, one typed attribute per setting, plus the origin of each value
    ("default", "file", "env:NAME", "flag") for `config show`.

    Build it with `load()` and `with_overrides()`: they parse, validate and record origins.
    """

    user: str = _setting_field(_default_user,
                               "who is practising; rows are scoped to this user")
    database_url: str = _setting_field(
        lambda: "", "external PostgreSQL URL; empty = embedded server",
        secret=True, env=("DATABASE_URL",))
    data_dir: str = _setting_field(lambda: _platformdirs().user_data_dir(APP_NAME),
                                   "where the embedded database, journals and models live")
    a4_hz: float = _setting_field(lambda: 440.0, "concert pitch reference (415–466 Hz)",
                                  check=_bounded(415, 466))
    pitch_model: str = _setting_field(lambda: "swift", "pitch backend: swift or crepe",
                                      check=_choice("swift", "crepe"))
    strictness: float = _setting_field(lambda: 0.5,
                                       "0 = lenient, 1 = strict (tuning tolerance)",
                                       check=_bounded(0, 1))
    sensitivity: float = _setting_field(lambda: 0.5,
                                        "0 = only loud notes count, 1 = quiet ones too",
                                        check=_bounded(0, 1))
    input_device: str = _setting_field(lambda: "",
                                       "input device index or name; empty = default")
    input_channel: int = _setting_field(lambda: 1, "input channel (1-based)",
                                        check=_bounded(1, 64))
    coach_every: float = _setting_field(lambda: 30.0, "seconds between live coach replies",
                                        check=_bounded(5, 3600))
    speech: str = _setting_field(
        lambda: "espeak",
        "voice of 'practice --speak': espeak (espeak-ng, offline) or openai[:MODEL]",
        check=_speech)
    speech_voice: str = _setting_field(
        lambda: "",
        "voice for --speak (espeak-ng e.g. en-us, OpenAI e.g. alloy); empty = default")
    on_quality: str = _setting_field(
        lambda: "",
        "command run by 'practice' when the live quality band (red/amber/green) changes, "
        "with FRETCOACH_BAND and the live metrics in its environment; empty = none")
    llm_provider: str = _setting_field(
        lambda: "", "openai, gemini or empty for the offline coach",
        check=_choice("", "none", "offline", "openai", "gemini"))
    llm_model: str = _setting_field(lambda: "", "model name for the primary provider")
    llm_base_url: str = _setting_field(lambda: "",
                                       "OpenAI-compatible base URL (DeepSeek, Ollama…)")
    llm_api_key: str = _setting_field(lambda: "", "API key for the primary provider",
                                      secret=True)
    embedding_model: str = _setting_field(
        lambda: "",
        "embedding model on the primary OpenAI-compatible server: coach memory is recalled "
        "by meaning (pgvector) when set and the database has pgvector; empty = full-text")
    llm_temperature: float = _setting_field(lambda: 0.4, "sampling temperature",
                                            check=_bounded(0, 2))
    llm_timeout: float = _setting_field(
        lambda: 0.0,
        "seconds a whole model answer may take; 0 = auto (120 for a local server, 60 for "
        "a hosted one)", check=_bounded(0, 1800))
    llm_first_token_timeout: float = _setting_field(
        lambda: 0.0,
        "seconds to wait for a model's first token; 0 = auto (90 for a local server on "
        "loopback, which reads the prompt on the CPU, 20 for a hosted one)",
        check=_bounded(0, 1800))
    llm_max_tokens: int = _setting_field(lambda: 512,
                                         "most tokens a model may write per request",
                                         check=_bounded(16, 32768))
    llm_tool_mode: str = _setting_field(
        lambda: "auto",
        "how chat asks a model for tools: auto (detect), native (tool_calls), text "
        "(calls written as text) or json (a JSON-schema step picks the tool)",
        check=_choice("auto", "native", "text", "json"))
    llm_retries: int = _setting_field(lambda: 1,
                                      "client retries per model before falling back",
                                      check=_bounded(0, 10))
    # RUF009: _setting_field returns a dataclasses.field with a default_factory (no shared list)
    llm_fallbacks: list[str] = _setting_field(  # noqa: RUF009
        list, "fallback chain, e.g. openai:gpt-4o-mini@https://host/v1 (comma separated)")
    tracing: str = _setting_field(lambda: "",
                                  "opik to send LangChain traces to Comet Opik",
                                  check=_choice("", "none", "opik"))
    # which version of each prompt file (coach/prompts/<name>/vN.md) is used; empty = newest
    prompt_live: str = _setting_field(lambda: "", "live-coach prompt version (v1, v2…; "
                                      "empty = newest)", check=_prompt_version("live"))
    prompt_summary: str = _setting_field(lambda: "", "session-summary prompt version "
                                         "(empty = newest)", check=_prompt_version("summary"))
    prompt_plan: str = _setting_field(lambda: "", "practice-plan prompt version "
                                      "(empty = newest)", check=_prompt_version("plan"))
    prompt_chat: str = _setting_field(lambda: "", "chat prompt version (empty = newest)",
                                      check=_prompt_version("chat"))
    timezone: str = _setting_field(lambda: "",
                                   "IANA time zone for days/streaks; empty = system")
    db_idle_minutes: float = _setting_field(
        lambda: 10.0,
        "minutes the embedded PostgreSQL server stays up after the last fretcoach process "
        "exits (0 = stop at once)", check=_bounded(0, 1440))

    # -- bookkeeping, not settings --------------------------------------------------------
    origins: dict[str, str] = field(default_factory=dict, kw_only=True)
    path: Path = field(kw_only=True)
    debug: bool = field(default=False, kw_only=True)
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)

    @property
    def values(self) -> dict[str, Any]:
        """Every setting's effective value by key (a copy)."""
        return {s.key: getattr(self, s.key) for s in SETTINGS}

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    def with_overrides(self, **flags: Any) -> Settings:
        """A copy with command-line flags applied (None means 'not given')."""
        values: dict[str, Any] = {}
        origins = dict(self.origins)
        for key, raw in flags.items():
            if raw is None:
                continue
            setting = _setting(key)
            try:
                values[key] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"--{key.replace('_', '-')}: {exc}") from None
            origins[key] = "flag"
        return replace(self, **values, origins=origins, extra=dict(self.extra))

    def shown(self) -> list[tuple[str, str, str, str]]:
        """(key, value, origin, doc) rows with secrets masked, for `config show`."""
        rows = []
        for s in SETTINGS:
            value = getattr(self, s.key)
            text = _format(value)
            if s.secret and text:
                text = _mask(text)
            rows.append((s.key, text, self.origins.get(s.key, "default"), s.doc))
        return rows


def _settings_registry() -> tuple[Setting, ...]:
    """One `Setting` per `Settings` field declared with `_setting_field`, in field order; the
    field's annotation gives the kind a raw string is parsed to."""
    hints = get_type_hints(Settings)
    out = []
    for f in fields(Settings):
        about = f.metadata.get("setting")
        if about is None:
            continue
        hint = hints[f.name]
        kind = get_origin(hint) or hint
        assert f.default_factory is not MISSING
        out.append(Setting(f.name, kind, f.default_factory, about.doc, secret=about.secret,
                           env=about.env, check=about.check))
    return tuple(out)


SETTINGS: tuple[Setting, ...] = _settings_registry()

_BY_KEY = {s.key: s for s in SETTINGS}


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The TOML config file in use (it may not exist yet)."""
    env = os.environ if env is None else env
    override = env.get("FRETCOACH_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(_platformdirs().user_config_dir(APP_NAME)) / "config.toml"


def _setting(key: str) -> Setting:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ConfigError(
            f"unknown setting {key!r}", hint=f"known: {', '.join(sorted(_BY_KEY))}"
        ) from None


def _format(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _mask(text: str) -> str:
    if "://" in text and "@" in text:  # URL with credentials: keep host visible
        scheme, rest = text.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return text[:3] + "***" if len(text) > 6 else "***"


def _toml(path: Path) -> dict[str, Any]:
    """The config file as TOML; a missing file is empty, an unreadable one a ConfigError."""
    if not path.exists():
        return {}
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}",
                          hint="fix or delete it") from None


def read_file(path: Path) -> dict[str, Any]:
    """Read the TOML config file; a missing file is an empty config."""
    data = _toml(path)
    flat = dict(data.get("fretcoach", {})) if isinstance(data.get("fretcoach"), dict) else {}
    flat.update({k: v for k, v in data.items() if not isinstance(v, dict)})
    return flat


def load(env: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """Build the effective settings from defaults, the config file and the environment."""
    env = os.environ if env is None else env
    path = path or config_path(env)
    file_values = read_file(path)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for s in SETTINGS:
        origins[s.key] = "default"
        if s.key in file_values:
            try:
                values[s.key] = s.parse(file_values[s.key])
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"config file {path}: {s.key}: {exc}") from None
            origins[s.key] = "file"
        for name in reversed(s.env_names):  # FRETCOACH_* wins over the generic alias
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[s.key] = s.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"environment {name}: {exc}") from None
            origins[s.key] = f"env:{name}"
        if origins[s.key] == "default":  # (the OS user and directories only when needed)
            values[s.key] = s.default()
    unknown = sorted(set(file_values) - set(_BY_KEY))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}",
                          hint=f"known: {', '.join(sorted(_BY_KEY))}")
    return Settings(**values, origins=origins, path=path,
                    debug=_parse_bool(env.get("FRETCOACH_DEBUG", "0")))


def set_value(key: str, raw: str, path: Path | None = None) -> Any:
    """Validate and write one key to the TOML config file; returns the parsed value."""
    import tomli_w

    setting = _setting(key)
    try:
        value = setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    path = path or config_path()
    data = read_file(path)
    data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps({k: v for k, v in data.items() if v is not None}),
                   encoding="utf-8")
    tmp.replace(path)
    return value


def unset_value(key: str, path: Path | None = None) -> None:
    """Remove a key from the config file so the default (or env) applies again."""
    import tomli_w

    _setting(key)
    path = path or config_path()
    data = read_file(path)
    if key in data:
        del data[key]
        path.write_text(tomli_w.dumps(data), encoding="utf-8")


def user_scales(env: Mapping[str, str] | None = None,
                path: Path | None = None) -> dict[str, str]:
    """The config file's ``[scales]`` table: user scale name → interval spelling, e.g.
    ``"my blues" = "1 b3 4 #4 5 b7"`` (music.scales parses the spelling). Empty without one."""
    path = path or config_path(env)
    table = _toml(path).get("scales", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [scales] must be a table of name = \"1 b3 5\"")
    for name, spelling in table.items():
        if not isinstance(spelling, str):
            raise ConfigError(f"config file {path}: [scales] {name!r} must be a string such as "
                              "\"1 b3 4 #4 5 b7\"")
    return dict(table)
