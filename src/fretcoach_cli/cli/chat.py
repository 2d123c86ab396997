"""`fretcoach chat`: a streaming REPL (or one answer with ``-m``) over the chat agent.

The agent runs in a worker thread and hands events to the main thread through a queue, so
Ctrl+C always reaches the main thread at once: it cancels the current answer (the worker
stops at its next event) and returns to the prompt; Ctrl+D leaves. Tokens are coalesced:
the live panel is redrawn at most every :data:`REFRESH_S`, however fast they arrive.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import typer

from fretcoach_cli.cli import context
from fretcoach_cli.errors import FretcoachError, LLMError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from fretcoach_cli.chat.agent import ChatService, TurnResult

REFRESH_S = 0.06
PANEL = "Coach"
HELP = """\
[bold]Ask anything about your practice[/] — e.g. "how am I doing this month?",
"which scale do I play most out of tune?", "what should I practise next?".

  /help          this help
  /new           start a new conversation
  /threads       your conversations, newest first
  /resume ID     continue a conversation (id or its first characters)
  /save          save the practice plan just suggested
  /sql           show/hide the SQL the coach runs
  /model [N]     list the models, or try model N first
  /+ [comment]   rate the last answer as helpful (/- : not helpful)
  /exit          leave (or Ctrl+D)

Enter sends; Alt+Enter (or Esc then Enter) or a trailing \\ starts a new line.
Ctrl+C stops the current answer."""


class _End:
    pass


# ---------------------------------------------------------------------------------------------
# Rendering one turn


class TurnView:
    """Draws one streamed answer: a live Markdown panel plus a status line for tools."""

    def __init__(self, console: Console, *, show_sql: bool, live: bool,
                 notes: Console | None = None, plain: bool = False) -> None:
        self.console = console
        self.notes = notes or console  # where tool lines and notices go without a live view
        self.plain = plain  # no live view: print the answer as its raw Markdown text
        self.show_sql = show_sql
        self.live_enabled = live
        self.text = ""
        self.status = ""
        self._live: Any = None
        self._last = 0.0

    def _renderable(self) -> Any:
        from rich.console import Group
        from rich.markdown import Markdown
        from rich.panel import Panel
        from rich.spinner import Spinner

        parts: list[Any] = []
        if self.text:
            parts.append(Panel(Markdown(self.text), title=PANEL, title_align="left",
                               border_style="cyan"))
        if self.status:
            parts.append(Spinner("dots", text=f"[dim]{self.status}[/]"))
        return Group(*parts)

    def start(self) -> None:
        self.status = "thinking…"
        if self.live_enabled:
            from rich.live import Live

            self._live = Live(self._renderable(), console=self.console, auto_refresh=False,
                              transient=False, vertical_overflow="visible")
            self._live.start()
            self._live.refresh()

    def _refresh(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._last >= REFRESH_S:
            self._last = now
            self._live.update(self._renderable(), refresh=True)

    def note(self, text: str) -> None:
        """A line above the live area (tool results, notices)."""
        if self._live is not None:
            self._live.console.print(text)
        else:
            self.notes.print(text)

    def handle(self, event: Any) -> TurnResult | None:
        from fretcoach_cli.chat import agent as ev

        if isinstance(event, ev.Token):
            self.text += event.text
            self.status = ""
            self._refresh()
        elif isinstance(event, ev.ToolStarted):
            self.status = _tool_status(event.name, event.args)
            if self.show_sql and event.name == "run_sql":
                self._print_sql(str(event.args.get("sql", "")))
            self._refresh(force=True)
        elif isinstance(event, ev.ToolFinished):
            self.note(_tool_line(event.call))
            self.status = "thinking…"
            self._refresh(force=True)
        elif isinstance(event, ev.Notice):
            self.note(f"[yellow]{_esc(event.text)}[/]")
        elif isinstance(event, ev.Reset):
            self.text = ""
            self._refresh(force=True)
        elif isinstance(event, ev.Done):
            if event.result.answer and event.result.answer != self.text:
                self.text = event.result.answer
            return event.result
        return None

    def _print_sql(self, sql: str) -> None:
        from rich.syntax import Syntax

        if self._live is not None:
            self._live.console.print(Syntax(sql, "sql", word_wrap=True))
        else:
            self.notes.print(Syntax(sql, "sql", word_wrap=True))

    def finish(self, *, cancelled: bool = False) -> None:
        self.status = ""
        if self._live is not None:
            self._live.update(self._renderable(), refresh=True)
            self._live.stop()
            self._live = None
        elif self.text and self.plain:
            self.console.file.write(self.text.rstrip() + "\n")
            self.console.file.flush()
        elif self.text:
            from rich.markdown import Markdown
            from rich.panel import Panel

            self.console.print(Panel(Markdown(self.text), title=PANEL, title_align="left",
                                     border_style="cyan"))
        if cancelled:
            self.notes.print("[yellow]stopped[/]")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _tool_status(name: str, args: dict[str, Any]) -> str:
    if name == "run_sql":
        return "running a query…"
    if name == "practice_stats":
        return "reading your statistics…"
    if name == "make_practice_plan":
        return "drafting a plan…"
    if name == "save_practice_plan":
        return "saving the plan…"
    if name == "describe_schema":
        return "looking at the tables…"
    if name == "last_sessions":
        return "looking up your sessions…"
    if name == "thinking":
        return "choosing what to look up…"
    return f"{name}…"


def _tool_line(call: Any) -> str:
    what = call.name
    if call.error:
        return f"[dim]✗ {what}: {_esc(call.error)}[/]"
    if call.rows is not None and call.name in ("run_sql", "practice_stats", "last_sessions"):
        unit = "sessions" if call.name == "practice_stats" else "rows"
        more = " (truncated)" if call.truncated else ""
        return f"[dim]✓ {what}: {call.rows} {unit}{more}[/]"
    return f"[dim]✓ {what}[/]"


# ---------------------------------------------------------------------------------------------
# Running a turn in a worker thread


class Runner:
    """Runs turns in a worker thread; the main thread renders and can cancel."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat
        self._worker: threading.Thread | None = None

    def wait(self) -> None:
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def turn(self, question: str, view: TurnView) -> TurnResult | None:
        self.wait()
        events: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()

        def work() -> None:
            try:
                for event in self.chat.ask(question, cancel):
                    events.put(event)
                    if cancel.is_set():
                        break
            except BaseException as exc:  # handed to the main thread
                events.put(exc)
            finally:
                events.put(_End())

        self._worker = threading.Thread(target=work, name="fretcoach-chat", daemon=True)
        self._worker.start()
        view.start()
        result = None
        try:
            while True:
                try:
                    item = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, _End):
                    break
                if isinstance(item, BaseException):
                    view.finish()
                    raise item
                done = view.handle(item)
                if done is not None:
                    result = done
        except KeyboardInterrupt:
            cancel.set()
            view.finish(cancelled=True)
            return None
        view.finish(cancelled=bool(result and result.cancelled))
        self.wait()
        return result


# ---------------------------------------------------------------------------------------------
# Input


class Input:
    """prompt_toolkit on a terminal (history, editing, multi-line); plain lines otherwise."""

    def __init__(self, history_path: Any) -> None:
        self._session: Any = None
        if sys.stdin.isatty() and sys.stdout.isatty():
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory
            from prompt_toolkit.key_binding import KeyBindings

            bindings = KeyBindings()

            @bindings.add("escape", "enter")
            def _newline(event: Any) -> None:
                event.current_buffer.insert_text("\n")

            try:
                history_path.parent.mkdir(parents=True, exist_ok=True)
                history: Any = FileHistory(str(history_path))
            except OSError:
                history = None
            self._session = PromptSession(history=history, key_bindings=bindings,
                                          multiline=False, prompt_continuation="… ")

    def read(self) -> str:
        """One message (continued over lines ending in a backslash). EOFError at the end,
        KeyboardInterrupt on Ctrl+C at the prompt."""
        lines: list[str] = []
        while True:
            prompt = "you› " if not lines else "  … "
            if self._session is not None:
                line = self._session.prompt(prompt)
            else:
                line = sys.stdin.readline()
                if not line:
                    if lines:
                        break
                    raise EOFError
                line = line.rstrip("\n")
            if line.endswith("\\"):
                lines.append(line[:-1])
                continue
            lines.append(line)
            break
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The REPL


class Repl:
    def __init__(self, chat: ChatService, console: Console, *, show_sql: bool) -> None:
        self.chat = chat
        self.console = console
        self.show_sql = show_sql
        self.runner = Runner(chat)
        self.live = console.is_terminal
        self.last: TurnResult | None = None

    def banner(self) -> None:
        if self.chat.offline:
            from fretcoach_cli.chat.offline import CAPABILITIES

            self.console.print(f"[bold]fretcoach chat[/] — [yellow]offline mode[/]: no model "
                               f"is configured. I can answer about {CAPABILITIES}.")
        else:
            labels = ", ".join(label for label, _ in self.chat.models())
            self.console.print(f"[bold]fretcoach chat[/] — model: {_esc(labels)}")
        if self.chat.thread_id:
            self.console.print(f"[dim]thread {self.chat.thread_id}[/]")
            self._show_transcript(last=4)
        self.console.print("[dim]/help for commands, Ctrl+D to leave[/]")

    def run(self, reader: Input) -> None:
        self.banner()
        while True:
            try:
                text = reader.read()
            except KeyboardInterrupt:
                continue
            except EOFError:
                self.console.print()
                break
            text = text.strip()
            if not text:
                continue
            try:
                if text.startswith("/"):
                    if not self.command(text):
                        break
                    continue
                view = TurnView(self.console, show_sql=self.show_sql, live=self.live)
                result = self.runner.turn(text, view)
                if result is not None:
                    self.last = result
                    if not result.cancelled:
                        self.console.print(f"[dim]{_esc(_byline(result))}[/]")
            except FretcoachError as err:
                self.console.print(f"[red]{_esc(err.one_line())}[/]")
            except Exception as exc:  # keep the REPL alive; --debug shows the traceback
                if context.debug():
                    self.console.print_exception()
                self.console.print(f"[red]chat failed: {_esc(type(exc).__name__)}: "
                                   f"{_esc(str(exc).splitlines()[0] if str(exc) else '')}[/]")
        self.runner.wait()

    def command(self, text: str) -> bool:
        """Run a slash command; False means leave."""
        self.runner.wait()
        name, _, arg = text.partition(" ")
        name, arg = name.lower(), arg.strip()
        out = self.console
        if name in ("/exit", "/quit", "/q"):
            return False
        if name in ("/help", "/?"):
            out.print(HELP)
        elif name == "/new":
            self.chat.new_thread()
            out.print("[dim]new conversation[/]")
        elif name == "/threads":
            self._threads()
        elif name == "/resume":
            if not arg:
                raise UsageError("/resume needs a thread id", hint="see /threads")
            row = self.chat.resume(arg)
            out.print(f"[dim]resumed {row.thread_id}: {_esc(row.title or '')}[/]")
            self._show_transcript(last=4)
        elif name == "/save":
            saved = self.chat.save_pending_plan()
            out.print(f"[green]saved[/] plan “{_esc(str(saved.plan.get('title')))}” "
                      f"[dim]({saved.practice_id})[/]")
        elif name == "/sql":
            self.show_sql = not self.show_sql
            out.print(f"[dim]SQL display {'on' if self.show_sql else 'off'}[/]")
            if self.show_sql and self.last is not None:
                for call in self.last.tool_calls:
                    if call.sql:
                        from rich.syntax import Syntax

                        out.print(Syntax(call.sql, "sql", word_wrap=True))
        elif name == "/model":
            self._model(arg)
        elif name in ("/+", "/-"):
            self._rate(1 if name == "/+" else -1, arg)
        else:
            out.print(f"[red]unknown command {_esc(name)}[/] — /help lists them")
        return True

    def _rate(self, rating: int, comment: str) -> None:
        """Rate the last answer of this conversation (the stored reply, by its id)."""
        from fretcoach_cli.cli.rate import rate_reply

        if self.last is None or self.last.reply_id is None:
            self.console.print("[dim]no answer to rate yet[/]")
            return
        done = rate_reply(self.chat.app_conn(), str(self.last.reply_id), rating,
                          comment or None, tracer=self.chat.tracer)
        opik = " · sent to Opik" if done["sent_to_opik"] else ""
        self.console.print(f"[dim]rated answer #{done['reply_id']} "
                           f"{'+' if rating > 0 else '-'}{opik}[/]")

    def _threads(self) -> None:
        from rich.table import Table

        rows = self.chat.threads.list()
        if not rows:
            self.console.print("[dim]no conversations yet[/]")
            return
        table = Table(box=None, header_style="bold")
        for col in ("id", "title", "turns", "model", "updated"):
            table.add_column(col)
        for r in rows:
            mark = " *" if r.thread_id == self.chat.thread_id else ""
            table.add_row(r.thread_id[:8] + mark, _esc(r.title or ""), str(r.turns),
                          r.model or "", f"{r.updated_at:%Y-%m-%d %H:%M}")
        self.console.print(table)

    def _model(self, arg: str) -> None:
        if self.chat.offline and not self.chat.chain.configured:
            self.console.print("[yellow]offline mode[/]: no model configured "
                               "(set llm_provider / llm_base_url)")
            return
        if arg:
            label = self.chat.use_model(arg)
            self.console.print(f"[dim]trying {_esc(label)} first[/]")
            return
        for i, (label, state) in enumerate(self.chat.models(), 1):
            self.console.print(f"  {i}. {_esc(label)} [dim]{_esc(state)}[/]")

    def _show_transcript(self, last: int) -> None:
        for role, text in self.chat.transcript()[-last:]:
            if role == "you":
                self.console.print(f"[bold]you›[/] {_esc(text)}")
            else:
                from rich.markdown import Markdown
                from rich.panel import Panel

                self.console.print(Panel(Markdown(text), title=PANEL, title_align="left",
                                         border_style="cyan"))


# ---------------------------------------------------------------------------------------------
# The command


def chat(
    message: str | None = typer.Option(
        None, "--message", "-m", help="Ask one question, print the answer and exit."),
    thread: str | None = typer.Option(
        None, "--thread", "-t", help="Continue this conversation (id or its first characters)."),
    as_json: bool = typer.Option(
        False, "--json", help="With -m: one JSON document (answer, thread id, tool calls "
                              "with SQL and row counts, model, plan)."),
    show_sql: bool = typer.Option(False, "--show-sql", help="Show the SQL the coach runs."),
    offline: bool = typer.Option(
        False, "--offline", help="Do not use a model, even if one is configured."),
    model: str | None = typer.Option(None, "--model", help="Model for the primary provider."),
) -> None:
    """Chat with your coach about your own practice data (a model, or offline rules)."""
    context.utf8_text(message, "--message")
    context.utf8_text(thread, "--thread")
    context.utf8_text(model, "--model")
    if as_json and message is None:
        raise UsageError("--json needs -m/--message")
    if message is not None and not message.strip():
        raise UsageError("empty --message")
    from contextlib import closing

    from fretcoach_cli.chat.agent import ChatService
    from fretcoach_cli.cli.history import console
    from fretcoach_cli.store import open_database

    settings = context.settings(llm_model=model)
    with open_database(settings) as db, \
            closing(ChatService.open(db, settings, force_offline=offline)) as service:
        if thread:
            service.resume(thread)
        if message is not None:
            _once(service, message, as_json=as_json, show_sql=show_sql)
            return
        out = console()
        Repl(service, out, show_sql=show_sql).run(Input(settings.data_path / "chat_history"))


def _once(service: ChatService, message: str, *, as_json: bool, show_sql: bool) -> None:
    from fretcoach_cli.chat.agent import Done
    from fretcoach_cli.cli.history import console, dump_json

    if as_json:
        result = None
        try:
            for event in service.ask(message):
                if isinstance(event, Done):
                    result = event.result
        except FretcoachError:
            raise
        except Exception as exc:
            raise LLMError(f"chat failed: {type(exc).__name__}: {exc}") from exc
        assert result is not None
        dump_json(result.to_dict())
        return
    out = console()
    err = console(stderr=True)
    view = TurnView(out, show_sql=show_sql, live=out.is_terminal, notes=err,
                    plain=not out.is_terminal)
    try:
        result = Runner(service).turn(message, view)
    except FretcoachError:
        raise
    except Exception as exc:
        raise LLMError(f"chat failed: {type(exc).__name__}: {exc}") from exc
    if result is None:
        from fretcoach_cli.errors import Interrupted

        raise Interrupted()
    err.print(f"[dim]thread {result.thread_id} · {_esc(_byline(result, repl=False))}[/]")


def _byline(result: Any, *, repl: bool = True) -> str:
    """Who wrote the answer and what it rests on, in one line under it."""
    author = getattr(result, "author", "") or result.model
    who = ("the offline coach (from your data)" if author == "offline"
           else f"{author.removeprefix('model:')}")
    looked = sorted({c.name for c in result.tool_calls})
    rests = f" · looked up: {', '.join(looked)}" if looked else " · no data looked up"
    rid = getattr(result, "reply_id", None)
    how = "/+ /- to rate" if repl else f"rate: fretcoach rate {rid} +"
    ref = f" · #{rid} ({how})" if rid else ""
    return f"answered by {who}{rests}{ref}"


def register(app: typer.Typer) -> None:
    app.command("chat", rich_help_panel="Coach")(chat)
