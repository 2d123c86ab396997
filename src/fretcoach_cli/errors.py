"""The FretcoachError hierarchy.

Every failure a user can cause or meet is one of these: it carries a one-line message that says
what went wrong and what to do, and the process exit code the CLI maps it to. The CLI prints
``str(err)`` on stderr and exits with ``err.exit_code``; it never shows a traceback unless
``--debug`` is given.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; part of the CLI's scripting API (documented in the README)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    DATABASE = 4
    AUDIO = 5
    LLM = 6
    CONFIG = 7
    NO_NOTES = 8
    INTERRUPTED = 130


class FretcoachError(Exception):
    """Base class: a user-facing failure with a one-line message."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message.strip().splitlines()[0] if message.strip() else "error"
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message and the hint joined into a single line."""
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class UsageError(FretcoachError):
    """Bad arguments or input values (unknown scale, bad date, out-of-range option)."""

    exit_code = ExitCode.USAGE


class NotFoundError(FretcoachError):
    """A session, plan, file or thread that does not exist."""

    exit_code = ExitCode.NOT_FOUND


class DatabaseError(FretcoachError):
    """The database is unreachable, misconfigured or refused an operation."""

    exit_code = ExitCode.DATABASE


class AudioError(FretcoachError):
    """Audio input failed: no device, unreadable file, unsupported format."""

    exit_code = ExitCode.AUDIO


class NoNotesError(FretcoachError):
    """The audio was readable but contained no detectable single notes."""

    exit_code = ExitCode.NO_NOTES


class LLMError(FretcoachError):
    """Every configured language model failed and no fallback could answer."""

    exit_code = ExitCode.LLM


class ConfigError(FretcoachError):
    """A configuration file or value is invalid."""

    exit_code = ExitCode.CONFIG


class NotImplementedYet(FretcoachError):
    """A command whose capability has not been built yet: fail loudly, never pretend."""

    exit_code = ExitCode.ERROR

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not implemented yet", hint="see the README's roadmap")


class Interrupted(FretcoachError):
    """The user pressed Ctrl+C."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)
