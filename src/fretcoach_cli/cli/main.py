"""The `fretcoach` entry point: builds the Typer app and turns every failure into one line.

Command modules are imported here, but each keeps heavy imports (audio models, LangChain,
psycopg, Textual) inside its command functions so `fretcoach --help` stays fast. The app
itself is built on first use (``app`` is a lazy module attribute), so `fretcoach --version`
answers without importing Typer at all: a status bar or a shell loop calls it often.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

from fretcoach_cli import __version__
from fretcoach_cli.errors import ExitCode, FretcoachError

_APP: Any = None
_VERSION_FLAGS = (["--version"], ["-V"])


def _version(value: bool) -> None:
    if value:
        import typer

        typer.echo(f"fretcoach {__version__}")
        raise typer.Exit()


def _build_app() -> Any:
    import typer

    from fretcoach_cli.cli import context
    from fretcoach_cli.cli.coerce import FretcoachGroup

    app = typer.Typer(
        name="fretcoach",
        cls=FretcoachGroup,
        help="A terminal-native guitar practice coach: play, get scored live, track progress.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def main(
        user: str | None = typer.Option(
            None, "--user", "-u", help="Practise as this user (default: FRETCOACH_USER or OS user)."
        ),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
        version: bool = typer.Option(
            False, "--version", "-V", callback=_version, is_eager=True, help="Show the version."
        ),
    ) -> None:
        """fretcoach — practise scales with live pitch, scale and timing feedback."""
        context.set_global(user=user, debug=debug)

    return app


def _get_app() -> Any:
    global _APP
    if _APP is None:
        _APP = _build_app()
    return _APP


def __getattr__(name: str) -> Any:
    """``app`` is built on first access (tests import it; the console script does not)."""
    if name == "app":
        return _get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_commands(argv: list[str] | None = None) -> None:
    """All commands, or given the command line only those of the command it names."""
    from fretcoach_cli.cli import commands

    commands.register(_get_app(), argv)


_DEVICE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"fretcoach: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


def _quiet_libraries() -> None:
    """Before numpy or pydantic is first imported (an explicit setting wins): OpenBLAS starts
    one spinning thread per core when it loads (≈ 45 ms of CPU, a tenth of analysing a 30 s
    file) and nothing here makes large matrix products; pydantic scans every installed
    package for plugins (7–10 ms) and we use none."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def run(argv: list[str] | None = None) -> None:
    """Console-script entry: run the app and map errors to one stderr line + exit code."""
    _quiet_libraries()
    if (sys.argv[1:] if argv is None else list(argv)) in _VERSION_FLAGS:
        try:
            sys.stdout.write(f"fretcoach {__version__}\n")  # what the eager option prints
            sys.stdout.flush()
        except OSError as exc:  # e.g. > /dev/full
            _fail(f"{exc.strerror} (writing the output)", int(ExitCode.ERROR))
        return
    import typer
    from typer import _click as click  # typer ≥0.20 vendors click; its exceptions live here

    from fretcoach_cli.cli import context, rich_help

    args = sys.argv[1:] if argv is None else list(argv)
    if not args or rich_help.wants_help(args):
        rich_help.preload()
    _register_commands(args)
    try:
        rv = _get_app()(args=argv, standalone_mode=False, prog_name="fretcoach")
    except FretcoachError as err:
        if context.debug():
            _print_traceback()
        _fail(err.one_line(), int(err.exit_code))
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", int(ExitCode.INTERRUPTED))
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.NoArgsIsHelpError:
        raise SystemExit(0) from None  # typer has already printed the help
    except click.exceptions.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        _fail(f"{exc.format_message()}{hint}", int(ExitCode.USAGE))
    except click.exceptions.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code or 1)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None
    except SystemExit as exc:
        # click answers EPIPE (`fretcoach export | head`) with a silent exit 1 and wraps the
        # streams in PacifyFlushWrapper; a closed pipe is the reader's choice: exit 0, as above
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            raise SystemExit(0) from None
        raise
    except Exception as exc:  # last resort: still one line, never a traceback
        if context.debug():
            _print_traceback()
        if isinstance(exc, OSError) and exc.errno in _DEVICE_ERRNOS:
            # the environment's fault (full disk, quota, I/O error), not fretcoach's
            where = f" ({exc.filename})" if exc.filename else " (writing the output)"
            _fail(f"{exc.strerror}{where}", int(ExitCode.ERROR))
        _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)",
              int(ExitCode.ERROR))
    if isinstance(rv, int) and rv:
        raise SystemExit(rv)


if __name__ == "__main__":  # pragma: no cover
    run()
