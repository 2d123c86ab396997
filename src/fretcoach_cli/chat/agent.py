"""The chat service: a LangChain agent over the tools, persisted threads, fallbacks, offline.

:class:`ChatService` is what the CLI (REPL and ``-m``) drives::

    with ChatService.open(db, settings, user=...) as chat:
        for event in chat.ask("what is my weakest area?"):
            ...  # Token / ToolStarted / ToolFinished / Notice / Reset / Done

* The agent is ``langchain.agents.create_agent`` with the tools of :mod:`chat.tools`, the
  versioned system prompt, and :class:`ChainFallback`, a middleware that tries the coach's
  :class:`~fretcoach_cli.llm.chain.ProviderChain` links in order (a 429/5xx/timeout
  moves on to the next link; permanent failures disable a link).
* Conversation state is checkpointed with ``langgraph-checkpoint-postgres`` on its own
  owner connection (``autocommit=True``, ``row_factory=dict_row``, schema
  ``fretcoach_chat``), separate from the agent's read-only query connection; the user's
  ``chat_threads`` rows are the index of their threads, so threads survive restarts.
* With no usable model the same threads are answered by :class:`~chat.offline.
  OfflineResponder` (a one-node graph on the same checkpointer); if every link fails during
  a turn the offline answer is given with a notice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fretcoach_cli.chat.grounded import check
from fretcoach_cli.chat.prompts import CHAT_PROMPT_VERSION, system_prompt
from fretcoach_cli.chat.remember import capture, memory_middleware, note, recalled_block
from fretcoach_cli.chat.sql_run import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, SqlRunner
from fretcoach_cli.chat.stream_events import Reset, Token
from fretcoach_cli.chat.threads import ThreadRow, Threads, title_from
from fretcoach_cli.chat.tools import (
    PLAN_KWARG,
    PlanDraft,
    SavedPlan,
    ToolCall,
    ToolContext,
    build_tools,
    latest_draft,
    save_plan,
)
from fretcoach_cli.coach.prompts.versions import active as active_prompt
from fretcoach_cli.errors import NotFoundError, UsageError
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.embeddings import embedder_from_settings
from fretcoach_cli.llm.failures import AllLinksFailed, Attempt
from fretcoach_cli.llm.links import OFFLINE
from fretcoach_cli.llm.toolcalls import StreamGuard
from fretcoach_cli.llm.tracing import Tracer, tracer_from_settings
from fretcoach_cli.store.replies import new_uuid
from fretcoach_cli.store.replies import record as record_reply

if TYPE_CHECKING:
    import psycopg

    from fretcoach_cli.config import Settings
    from fretcoach_cli.store import Database

FEATURE = "chat"
CHECKPOINT_SCHEMA = "fretcoach_chat"
#: pg_advisory_lock key for "setting up the checkpoint tables" (arbitrary, fixed).
SETUP_LOCK_KEY = 0x6663686174  # b"fchat"
RECURSION_LIMIT = 30
SAVED_KWARG = "fretcoach_saved"


# ---------------------------------------------------------------------------------------------
# Events a turn yields


@dataclass
class ToolStarted:
    name: str
    args: dict[str, Any]


@dataclass
class ToolFinished:
    call: ToolCall


@dataclass
class Notice:
    """Something the user should know (a model failed over, offline answer…)."""

    text: str


@dataclass
class TurnResult:
    answer: str
    thread_id: str
    model: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    offline: bool = False
    cancelled: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    #: every figure of the answer is in data fetched this turn (deterministic answers are)
    grounded: bool = True
    ungrounded: list[str] = field(default_factory=list)
    #: who wrote the answer: "model:<name>" or "offline" (the deterministic coach)
    author: str = OFFLINE
    #: "agent" (native tool calls), "planned" (a JSON-schema pick) or "offline"
    mode: str = OFFLINE
    #: why the deterministic coach answered although a model is configured
    fallback: str | None = None
    #: planned mode: who chose the lookup ("model", "question": the question's plain
    #: reading overrode a "none", "model+question": the question's period was applied)
    lookup_by: str | None = None
    #: facts this turn stated that coach memory now holds (chat.remember)
    remembered: list[str] = field(default_factory=list)
    #: the stored answer's number (`fretcoach rate ID +`), None when it was not stored
    reply_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "thread_id": self.thread_id, "model": self.model,
                "reply_id": self.reply_id,
                "author": self.author, "mode": self.mode, "grounded": self.grounded,
                "ungrounded": self.ungrounded, "fallback": self.fallback,
                "lookup_by": self.lookup_by, "remembered": self.remembered,
                "tools_ran": [c.name for c in self.tool_calls],
                "offline": self.offline, "cancelled": self.cancelled,
                "tool_calls": [c.to_dict() for c in self.tool_calls], "plan": self.plan,
                "attempts": [{"link": a.link, "ok": a.ok, "kind": a.kind, "detail": a.detail}
                             for a in self.attempts]}


@dataclass
class Done:
    result: TurnResult


Event = Token | ToolStarted | ToolFinished | Notice | Reset | Done


# ---------------------------------------------------------------------------------------------
# Fallback across the provider chain


def _chain_middleware(chain: ProviderChain, known: frozenset[str]) -> Any:
    """An ``AgentMiddleware`` that runs each model call on the first link that answers, and
    turns tool calls the model wrote as text into real ones (see :mod:`llm.toolcalls`)."""
    from langchain.agents.middleware import AgentMiddleware
    from langgraph.errors import GraphBubbleUp

    class ChainFallback(AgentMiddleware):
        def __init__(self) -> None:
            super().__init__()
            self.source: str | None = None
            self.attempts: list[Attempt] = []

        def wrap_model_call(self, request: Any, handler: Any) -> Any:
            def on_failure(failure: Attempt) -> None:
                _custom({"fallback": failure.link, "why": failure.detail or failure.kind})

            try:
                response, link, tried = chain.first_answer(
                    lambda link: handler(request.override(model=link.model)),
                    passthrough=(GraphBubbleUp,), on_failure=on_failure)
            except AllLinksFailed as exc:
                self.attempts.extend(exc.attempts)
                raise
            self.source = link.spec.source
            self.attempts.extend(tried)
            return _calls_from_text(response, known)

    return ChainFallback()


def _calls_from_text(response: Any, known: frozenset[str]) -> Any:
    """A model reply whose text is a tool call (Hermes ``<tool_call>``, fenced JSON…) and
    that has no ``tool_calls`` becomes a reply with those calls and no text. A call to an
    unknown tool is dropped with its text: never shown, never run."""
    import uuid

    from fretcoach_cli.llm.toolcalls import looks_like_tool_text, parse_text_calls, prose_of

    messages = getattr(response, "result", None)
    if not isinstance(messages, list):
        return response
    for i, msg in enumerate(messages):
        if getattr(msg, "type", "") != "ai" or getattr(msg, "tool_calls", None):
            continue
        text = _text(msg.content)
        if not looks_like_tool_text(text):
            continue
        calls = parse_text_calls(text, known)
        tool_calls = [{"name": c.name, "args": c.args, "id": f"text-{uuid.uuid4().hex[:12]}",
                       "type": "tool_call"} for c in calls if "__invalid__" not in c.args]
        messages[i] = msg.model_copy(update={
            "content": "" if tool_calls else prose_of(text), "tool_calls": tool_calls})
    return response


def _custom(event: dict[str, Any]) -> None:
    try:
        from langgraph.config import get_stream_writer

        get_stream_writer()(event)
    except Exception:
        pass


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content
                       if not isinstance(b, dict) or b.get("type", "text") == "text")
    return ""


# ---------------------------------------------------------------------------------------------
# The service


class ChatService:
    """One user's chat: connections, checkpointer, agent graph, the current thread."""

    def __init__(self, db: Database, settings: Settings, *, user: str | None = None,
                 chain: ProviderChain | None = None, tracer: Tracer | None = None,
                 max_rows: int = DEFAULT_MAX_ROWS, timeout_s: float = DEFAULT_TIMEOUT_S,
                 force_offline: bool = False) -> None:
        from fretcoach_cli.reports.dates import resolve_timezone

        self.db = db
        self.user = user or settings.user
        self.timezone = resolve_timezone(settings.timezone or None)
        self.chain = chain if chain is not None else ProviderChain.from_settings(settings)
        self.tracer = tracer or tracer_from_settings(settings)
        self.chat_prompt = active_prompt("chat", settings)  # its version is stored per answer
        self.embedder = embedder_from_settings(settings)  # memory recall by meaning, if set
        self.reply_uuid: str | None = None  # the answer being written (tracing metadata)
        self.force_offline = force_offline
        self.tool_mode = str(getattr(settings, "llm_tool_mode", "auto") or "auto")
        self._detected: tuple[str, str] | None = None  # (link label, mode) asked of it
        self.memory_block = ""  # this turn's recalled coach memories (chat.remember)
        self.runner = SqlRunner(
            lambda: db.connect(self.user, role="reader", autocommit=True),
            max_rows=max_rows, timeout_s=timeout_s)
        self._app: psycopg.Connection[Any] | None = None
        self._saver_conn: psycopg.Connection[Any] | None = None
        self._checkpointer: Any = None
        self._graph: Any = None
        self._graph_offline: bool | None = None
        self._graph_kind: str | None = None
        self._middleware: Any = None
        self.thread_id: str | None = None
        self.last_model: str | None = None
        self.ctx = ToolContext(runner=self.runner, app_conn=self.app_conn,
                               timezone=self.timezone, model_name=self._model_name,
                               prompt_version=CHAT_PROMPT_VERSION)
        self.lock = threading.Lock()  # one turn at a time

    # resources ---------------------------------------------------------------------------
    @classmethod
    def open(cls, db: Database, settings: Settings, **kwargs: Any) -> ChatService:
        service = cls(db, settings, **kwargs)
        service.checkpointer  # noqa: B018 - fail early (and set up tables) before any prompt
        return service

    def app_conn(self) -> psycopg.Connection[Any]:
        if self._app is None or self._app.closed:
            self._app = self.db.connect(self.user, autocommit=True)
        return self._app

    @property
    def threads(self) -> Threads:
        return Threads(self.app_conn())

    @property
    def checkpointer(self) -> Any:
        if self._checkpointer is None:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row

            from fretcoach_cli.store import db_errors

            conn = self.db.admin(autocommit=True)
            with db_errors("cannot set up chat history"):
                conn.prepare_threshold = 0
                conn.row_factory = dict_row
                conn.execute(f"SET search_path = {CHECKPOINT_SCHEMA}")
                saver = PostgresSaver(conn)
                conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
                try:
                    saver.setup()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
            self._saver_conn = conn
            self._checkpointer = saver
        return self._checkpointer

    def close(self) -> None:
        self.runner.close()
        for conn in (self._app, self._saver_conn):
            if conn is not None and not conn.closed:
                conn.close()
        self._app = self._saver_conn = None
        self._checkpointer = self._graph = None
        self.tracer.flush()

    def __enter__(self) -> ChatService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # models ------------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """No model can be tried: none configured, or every link unusable (no key…)."""
        if self.force_offline or not self.chain.configured:
            return True
        return all(link.disabled for link in self.chain.links)

    def _model_name(self) -> str:
        if self.offline:
            return OFFLINE
        return self.last_model or self.chain.primary_source

    def models(self) -> list[tuple[str, str]]:
        """(label, state) per link, in the order they are tried."""
        now = time.monotonic()
        return [(link.spec.label, link.usable(now) or "ready") for link in self.chain.links]

    def use_model(self, which: str) -> str:
        """Try the link named (label, model name or 1-based index) first from now on."""
        links = self.chain.links
        pick = None
        if which.isdigit() and 1 <= int(which) <= len(links):
            pick = links[int(which) - 1]
        else:
            for link in links:
                if which in (link.spec.label, link.spec.model):
                    pick = link
                    break
        if pick is None:
            raise NotFoundError(f"no model {which!r} in the chain", hint="see /model")
        links.remove(pick)
        links.insert(0, pick)
        return pick.spec.label

    # graph -------------------------------------------------------------------------------
    def mode(self) -> str:
        """How this turn reaches the data: "offline", "agent" (the model calls tools,
        natively or written as text) or "planned" (a JSON-schema step picks the lookup).

        ``llm_tool_mode`` auto: what the server says of its model (llama.cpp's template
        caps, Ollama's capabilities); when it does not say, planned for a server on this
        machine (small models that rarely call tools but always decode under a schema),
        agent for a hosted API."""
        if self.offline:
            return OFFLINE
        if self.tool_mode == "json":
            return "planned"
        if self.tool_mode in ("native", "text"):
            return "agent"
        first = next((link for link in self.chain.links if not link.disabled), None)
        if first is None:
            return "agent"
        if self._detected is None or self._detected[0] != first.spec.label:
            self._detected = (first.spec.label, self._detect(first))
        return self._detected[1]

    @staticmethod
    def _detect(link: Any) -> str:
        """Ask the server whether its model takes tool calls (llama.cpp ``/props``, Ollama
        ``/api/show``); a server that does not say: planned when it is on this machine (a
        small local model), agent for a hosted API."""
        from fretcoach_cli.llm.capabilities import tool_support

        if link.spec.provider == "openai" and link.spec.base_url:
            said = tool_support(link.spec.base_url, link.spec.model)
            if said is not None:
                return "agent" if said else "planned"
        return "planned" if link.limits.local else "agent"

    def graph(self) -> Any:
        kind = self.mode()
        if self._graph is None or self._graph_kind != kind:
            self._graph = self._agent_graph() if kind == "agent" else self._offline_graph()
            self._graph_kind = kind
            self._graph_offline = kind != "agent"
        return self._graph

    def _agent_graph(self) -> Any:
        from langchain.agents import create_agent

        from fretcoach_cli.reports.dates import now_in

        tools = build_tools(self.ctx)
        self._middleware = _chain_middleware(self.chain, frozenset(t.name for t in tools))
        first = next(link for link in self.chain.links if not link.disabled)
        return create_agent(
            first.model, tools,
            system_prompt=system_prompt(now_in(self.timezone).date(), self.timezone,
                                        self.chat_prompt),
            middleware=[memory_middleware(lambda: self.memory_block), self._middleware],
            checkpointer=self.checkpointer, name="fretcoach")

    def _offline_graph(self) -> Any:
        from langchain_core.messages import AIMessage
        from langgraph.graph import END, START, MessagesState, StateGraph

        from fretcoach_cli.chat.offline import OfflineResponder

        responder = OfflineResponder(self.ctx)

        def answer(state: MessagesState) -> dict[str, Any]:
            question = next((_text(m.content) for m in reversed(state["messages"])
                             if m.type == "human"), "")
            reply = responder.answer(question)
            for call in reply.tool_calls:
                self.ctx.record(call)
            extra: dict[str, Any] = {}
            if reply.plan is not None:
                self.ctx.drafted = reply.plan
                extra[PLAN_KWARG] = {"plan": reply.plan.plan, "source": reply.plan.source}
            return {"messages": [AIMessage(reply.text, additional_kwargs=extra)]}

        builder = StateGraph(MessagesState)
        builder.add_node("offline", answer)
        builder.add_edge(START, "offline")
        builder.add_edge("offline", END)
        return builder.compile(checkpointer=self.checkpointer, name="fretcoach-offline")

    def _config(self) -> dict[str, Any]:
        assert self.thread_id is not None
        cfg = self.tracer.config(
            feature=FEATURE, model=self._model_name(), thread_id=self.thread_id,
            metadata={"user_id": self.user, "thread_id": self.thread_id,
                      "prompt_version": CHAT_PROMPT_VERSION, "reply_uuid": self.reply_uuid,
                      "prompt": f"chat/{self.chat_prompt.version}"})
        cfg["configurable"] = {"thread_id": self.thread_id}
        cfg["recursion_limit"] = RECURSION_LIMIT
        return cfg

    # threads -----------------------------------------------------------------------------
    def new_thread(self) -> None:
        """Start a new conversation (its row is created with the first question)."""
        self.thread_id = None

    def resume(self, thread: str) -> ThreadRow:
        """Continue one of the user's threads (full id or unique prefix)."""
        row = self.threads.find(thread)
        self.thread_id = row.thread_id
        return row

    def messages(self) -> list[Any]:
        if self.thread_id is None:
            return []
        state = self.checkpointer.get_tuple({"configurable": {"thread_id": self.thread_id}})
        if state is None:
            return []
        return list(state.checkpoint.get("channel_values", {}).get("messages", []))

    def transcript(self) -> list[tuple[str, str]]:
        """(role, text) of the visible messages of the current thread."""
        out = []
        for m in self.messages():
            text = _text(m.content)
            if m.type in ("human", "ai") and text.strip():
                out.append(("you" if m.type == "human" else "coach", text))
        return out

    # plans -------------------------------------------------------------------------------
    def pending_plan(self) -> PlanDraft | None:
        return self.ctx.drafted or _unsaved_draft(self.messages())

    def save_pending_plan(self) -> SavedPlan:
        """`/save`: the user explicitly saves the latest draft of this thread."""
        draft = self.pending_plan()
        if draft is None:
            raise NotFoundError("no practice plan to save", hint="ask for a plan first")
        saved = save_plan(self.ctx, draft)
        self.ctx.drafted = None
        if self.thread_id is not None:
            from langchain_core.messages import AIMessage

            note = AIMessage(f"(Saved the plan \"{saved.plan.get('title')}\" as "
                             f"{saved.practice_id}.)",
                             additional_kwargs={SAVED_KWARG: saved.practice_id})
            graph = self.graph()
            graph.update_state({"configurable": {"thread_id": self.thread_id}},
                               {"messages": [note]},
                               as_node="offline" if self._graph_offline else "model")
        return saved

    # a turn ------------------------------------------------------------------------------
    def ask(self, question: str, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Answer one question, yielding events as they happen; the last one is Done."""
        question = question.strip()
        if not question:
            raise UsageError("empty question")
        with self.lock:
            if self.thread_id is None:
                self.thread_id = self.threads.create(title_from(question))
            self.ctx.reset_turn()
            self.reply_uuid = new_uuid()
            for event in self._turn(question, cancel):
                if isinstance(event, Done):
                    self._record_answer(event.result)
                yield event

    def _record_answer(self, result: TurnResult) -> None:
        """Store the answer as a coach reply (its id is what `fretcoach rate` takes); a
        failure to store it never loses the answer."""
        if result.cancelled or not result.answer.strip():
            return
        source = result.author.removeprefix("model:") if result.author != OFFLINE else OFFLINE
        try:
            result.reply_id = record_reply(
                self.app_conn(), kind="chat", text=result.answer, source=source,
                prompt_name="chat", prompt_version=self.chat_prompt.version,
                thread_id=self.thread_id, reply_uuid=self.reply_uuid,
                trace_id=None if source == OFFLINE else self.tracer.trace_id(self.reply_uuid))
        except Exception as exc:
            import logging

            logging.getLogger(__name__).warning("chat answer not stored for rating: %s", exc)

    def _turn(self, question: str, cancel: threading.Event | None) -> Iterator[Event]:
        """Coach memory around a turn: the facts the question states are stored first, the
        memories it calls for recalled, and the answer says what was remembered."""
        conn = self.app_conn()
        captured = capture(conn, question)
        self.memory_block = recalled_block(conn, question, self.embedder)
        for event in self._answer_turn(question, cancel):
            if isinstance(event, Done) and captured:
                told = note(captured)
                event.result.answer += told
                event.result.remembered = [row.text for row, _ in captured]
                yield Token(told)
            yield event

    def _answer_turn(self, question: str, cancel: threading.Event | None) -> Iterator[Event]:
        from langchain_core.messages import HumanMessage

        graph = self.graph()
        if self._graph_kind == "planned":
            yield from self._planned_turn(question, cancel)
            return
        offline = self._graph_offline
        cfg = self._config()
        guard = StreamGuard()
        inputs = {"messages": [*_repairs(self.messages()), HumanMessage(question)]}
        attempts: list[Attempt] = []
        if self._middleware is not None:
            self._middleware.attempts = []
            self._middleware.source = None
        shown = 0
        cancelled = False
        failure: AllLinksFailed | None = None
        stream = graph.stream(inputs, cfg, stream_mode=["messages", "updates", "custom"])
        try:
            for mode, payload in stream:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                if mode == "messages":
                    chunk, meta = payload
                    if meta.get("langgraph_node") != "model" or chunk.type != "AIMessageChunk":
                        continue
                    token = guard.feed(_text(chunk.content))
                    if token:
                        yield Token(token)
                elif mode == "custom" and isinstance(payload, dict) and "fallback" in payload:
                    yield Notice(f"{payload['fallback']} failed ({payload['why']}); "
                                 "trying the next model")
                    yield Reset()
                elif mode == "updates":
                    for node, update in (payload or {}).items():
                        msgs = (update or {}).get("messages", []) if isinstance(update, dict) \
                            else []
                        if node == "model":
                            for msg in msgs:
                                for tc in getattr(msg, "tool_calls", None) or []:
                                    guard = StreamGuard()  # the next model call starts afresh
                                    yield ToolStarted(tc["name"], dict(tc.get("args") or {}))
                        elif node == "tools":
                            with self.ctx.lock:
                                fresh = self.ctx.calls[shown:]
                                shown = len(self.ctx.calls)
                            for call in fresh:
                                yield ToolFinished(call)
        except AllLinksFailed as exc:
            failure = exc
        finally:
            stream.close()
        if self._middleware is not None:
            attempts = list(self._middleware.attempts)
        if failure is not None:
            yield from self._fallback_offline(question, failure, cfg)
            return
        answer = ""
        last = None
        if not cancelled:
            msgs = self.messages()
            last = msgs[-1] if msgs else None
            if last is not None and last.type == "ai":
                answer = _text(last.content)
            if offline:
                yield Token(answer)
        model = OFFLINE if offline else (self._middleware.source or self._model_name())
        self.last_model = None if offline else model
        result = TurnResult(answer, self.thread_id or "", model, list(self.ctx.calls),
                            self._plan_summary(), offline=bool(offline), cancelled=cancelled,
                            attempts=attempts, author=OFFLINE if offline else f"model:{model}",
                            mode=OFFLINE if offline else "agent")
        if not offline and not cancelled:
            evidence = [question, *_turn_tool_results(self.messages())]
            bad = check(answer, *evidence, self.memory_block) if answer else ["an empty answer"]
            if bad:
                yield Reset()
                yield from self._rewrite(question, result, evidence, bad, cfg, last)
                return
        if not cancelled:
            self.threads.touch(result.thread_id, model=model)
        yield Done(result)

    # answers held to the data ------------------------------------------------------------
    def _rewrite(self, question: str, result: TurnResult, evidence: list[Any], bad: list[str],
                 cfg: dict[str, Any], last: Any) -> Iterator[Event]:
        """The agent's answer failed the grounding check: write it again from the turn's
        data (once), else give the deterministic answer; either replaces the stored one."""
        from fretcoach_cli.chat import grounded
        from fretcoach_cli.chat.planned import digest

        data = "\n".join(digest(e) for e in evidence[1:]) or "(no data was looked up)"
        previous = _text(last.content) if last is not None and last.type == "ai" else ""
        written = yield from grounded.write(
            self.chain, question, "your data" if len(evidence) > 1 else "none", data, evidence,
            config=self._link_config, previous=previous, previous_bad=bad)
        result.attempts += written.attempts
        if written.answer:
            result.answer, result.grounded, result.ungrounded = written.answer, True, []
            self._store_answer(cfg, written.answer, replace=last, as_node="model")
        else:
            result.ungrounded = written.ungrounded or bad
            yield from self._deterministic(question, result, written.problem or
                                           f"the model's answer was unusable ({bad[0]})",
                                           cfg, replace=last, as_node="model")
        self.threads.touch(result.thread_id, model=result.model)
        yield Done(result)

    def _planned_turn(self, question: str, cancel: threading.Event | None) -> Iterator[Event]:
        """A model without tool calls: a JSON-schema pick, the lookup, a grounded reply."""
        from langchain_core.messages import HumanMessage

        from fretcoach_cli.chat import grounded
        from fretcoach_cli.chat.planned import (
            PICK_TOKENS,
            Pick,
            digest,
            guided,
            pick_arguments,
            pick_messages,
        )
        from fretcoach_cli.reports.dates import now_in

        cfg = self._config()
        self._store_messages(cfg, [HumanMessage(question)])
        history = self.transcript()[:-1]
        budget = self._turn_budget()
        deadline = time.monotonic() + budget
        today = now_in(self.timezone).date()
        result = TurnResult("", self.thread_id or "", self.chain.primary_source, [], None,
                            mode="planned")
        yield ToolStarted("thinking", {})
        try:
            pick, source, tried = self.chain.invoke_structured(
                pick_messages(question, today, history), Pick,
                config=self._link_config, deadline=deadline, max_tokens=PICK_TOKENS)
        except AllLinksFailed as exc:
            result.attempts += exc.attempts
            answered = [a for a in exc.attempts if a.kind == "bad_output"]
            if not answered or guided(Pick(tool="none"), question, today)[1] == "model":
                yield from self._deterministic(question, result, _why_no_model(exc, budget),
                                               cfg)
                yield Done(result)
                return
            # the model answers but cannot pick: the plainly read question picks for it
            pick, source, tried = Pick(tool="none"), self.chain.primary_source, []
        result.attempts += tried
        result.model = source
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            yield Done(result)
            return
        pick, result.lookup_by = guided(pick, question, today)
        lookup, args = pick.tool, pick_arguments(pick)
        evidence: list[Any] = [question]
        data_text = ""
        if lookup != "none":
            yield ToolStarted(lookup, args)
            output = self._run_lookup(lookup, args)
            with self.ctx.lock:
                calls = list(self.ctx.calls)
            if calls:
                yield ToolFinished(calls[-1])
            if calls and calls[-1].error:
                yield from self._deterministic(
                    question, result, f"the model's lookup failed ({calls[-1].error})", cfg)
                yield Done(result)
                return
            evidence.append(output)
            data_text = digest(output)
        written = yield from grounded.write(
            self.chain, question, lookup, data_text, [*evidence, self.memory_block],
            memories=self.memory_block, config=self._link_config,
            deadline=deadline, need_figure=lookup != "none")
        result.attempts += written.attempts
        result.tool_calls = list(self.ctx.calls)
        result.plan = self._plan_summary()
        if not written.answer:
            result.ungrounded = written.ungrounded
            yield from self._deterministic(question, result, written.problem, cfg)
        else:
            answer = written.answer
            if lookup == "none":
                answer += "\n\n_(I did not look up your practice data for this answer.)_"
                yield Token("\n\n_(I did not look up your practice data for this answer.)_")
            result.answer, result.grounded = answer, True
            result.model = written.source or source
            result.author = f"model:{result.model}"
            self.last_model = result.model
            self._store_messages(cfg, [_ai(answer, self.ctx)])
        self.threads.touch(result.thread_id, model=result.model)
        yield Done(result)

    def _turn_budget(self) -> float:
        """Seconds a whole turn may take: the first usable link's answer deadline."""
        first = next((link for link in self.chain.links if not link.disabled), None)
        return first.limits.answer_s if first is not None else 60.0

    def _run_lookup(self, name: str, args: dict[str, Any]) -> Any:
        """Run one lookup the planned step chose (the same tools the agent has)."""
        from fretcoach_cli.chat.tools import ToolCall, recent_sessions

        if name == "last_sessions":
            limit = int(args.get("limit") or 5)
            try:
                rows = recent_sessions(self.ctx, limit)
            except Exception as exc:  # a refused/failed query is told, never raised
                self.ctx.record(ToolCall(name, args, error=type(exc).__name__))
                return {"error": type(exc).__name__}
            self.ctx.record(ToolCall(name, args, rows=len(rows)))
            return {"sessions": [{k: (str(v) if not isinstance(v, int | float | type(None))
                                      else v) for k, v in row.items()} for row in rows]}
        tools = {t.name: t for t in build_tools(self.ctx)}
        try:
            return tools[name].invoke(args)
        except Exception as exc:  # pydantic argument errors and the like
            self.ctx.record(ToolCall(name, args, error=str(exc).splitlines()[0][:200]))
            return {"error": str(exc)[:200]}

    def _link_config(self, spec: Any) -> dict[str, Any]:
        return self.tracer.config(feature=FEATURE, model=spec.source,
                                  thread_id=self.thread_id or "",
                                  metadata={"user_id": self.user,
                                            "thread_id": self.thread_id,
                                            "prompt_version": CHAT_PROMPT_VERSION,
                                            "reply_uuid": self.reply_uuid,
                                            "prompt": f"chat/{self.chat_prompt.version}"})

    def _deterministic(self, question: str, result: TurnResult, reason: str,
                       cfg: dict[str, Any], *, replace: Any = None,
                       as_node: str = "offline") -> Iterator[Event]:
        """Answer from the data by rule, labelled with why the model's answer is not shown."""
        from fretcoach_cli.chat.offline import OfflineResponder

        yield Notice(f"{reason}; answering from your data without the model")
        yield Reset()
        reply = OfflineResponder(self.ctx).answer(
            question, fallback_reason=f"(Answered from your data by fretcoach: {reason}.)")
        for call in reply.tool_calls:
            self.ctx.record(call)
        if reply.plan is not None:
            self.ctx.drafted = reply.plan
        yield Token(reply.text)
        self._store_answer(cfg, reply.text, replace=replace, as_node=as_node,
                           plan=reply.plan)
        result.answer, result.grounded = reply.text, True
        result.author, result.fallback = OFFLINE, reason
        result.tool_calls = list(self.ctx.calls)
        result.plan = self._plan_summary()

    def _store_messages(self, cfg: dict[str, Any], messages: list[Any]) -> None:
        self.graph().update_state(cfg, {"messages": messages},
                                  as_node="offline" if self._graph_offline else "model")

    def _store_answer(self, cfg: dict[str, Any], text: str, *, replace: Any = None,
                      as_node: str = "offline", plan: PlanDraft | None = None) -> None:
        from langchain_core.messages import AIMessage

        extra: dict[str, Any] = {}
        if plan is not None:
            extra[PLAN_KWARG] = {"plan": plan.plan, "source": plan.source}
        msg = AIMessage(text, additional_kwargs=extra)
        if replace is not None and getattr(replace, "type", "") == "ai" and replace.id:
            msg.id = replace.id  # add_messages replaces the message with the same id
        self.graph().update_state(cfg, {"messages": [msg]},
                                  as_node=as_node if self._graph_offline else "model")

    def _fallback_offline(self, question: str, failure: AllLinksFailed,
                          cfg: dict[str, Any]) -> Iterator[Event]:
        """Every model failed: answer from the statistics and record it in the thread."""
        from langchain_core.messages import AIMessage

        from fretcoach_cli.chat.offline import OfflineResponder

        yield Notice(f"no model answered ({failure.message}); answering offline")
        yield Reset()
        reply = OfflineResponder(self.ctx).answer(question)
        for call in reply.tool_calls:
            self.ctx.record(call)
        extra: dict[str, Any] = {}
        if reply.plan is not None:
            self.ctx.drafted = reply.plan
            extra[PLAN_KWARG] = {"plan": reply.plan.plan, "source": reply.plan.source}
        self.graph().update_state(cfg, {"messages": [AIMessage(reply.text,
                                                               additional_kwargs=extra)]},
                                  as_node="model")
        yield Token(reply.text)
        result = TurnResult(reply.text, self.thread_id or "", OFFLINE, list(self.ctx.calls),
                            self._plan_summary(), offline=True, attempts=list(failure.attempts))
        self.threads.touch(result.thread_id, model=OFFLINE)
        yield Done(result)

    def _plan_summary(self) -> dict[str, Any] | None:
        if self.ctx.saved is not None:
            return {"saved": True, "practice_id": self.ctx.saved.practice_id,
                    "plan": self.ctx.saved.plan}
        if self.ctx.drafted is not None:
            return {"saved": False, "practice_id": None, "plan": self.ctx.drafted.plan}
        return None


def _ai(text: str, ctx: ToolContext) -> Any:
    from langchain_core.messages import AIMessage

    extra: dict[str, Any] = {}
    if ctx.drafted is not None:
        extra[PLAN_KWARG] = {"plan": ctx.drafted.plan, "source": ctx.drafted.source}
    return AIMessage(text, additional_kwargs=extra)


def _turn_tool_results(messages: list[Any]) -> list[str]:
    """The tool outputs of the newest turn (after the last human message)."""
    out: list[str] = []
    for m in reversed(messages):
        if m.type == "human":
            break
        if m.type == "tool":
            out.append(_text(m.content))
    return out[::-1]


def _why_no_model(failure: AllLinksFailed, budget: float | None = None) -> str:
    """A true sentence about why no model answered (a timeout names the server and limit)."""
    last = next((a for a in reversed(failure.attempts) if not a.ok), None)
    if last is None:
        return "no model answered"
    if last.kind == "timeout" or "in time" in last.detail:
        within = f" within {budget:g} s" if budget else " in time"
        return f"the model at {last.link} did not answer{within}"
    return f"{last.link} did not answer ({last.detail or last.kind})"


def _unsaved_draft(messages: list[Any]) -> PlanDraft | None:
    """The newest draft, unless a save came after it."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.type == "ai" and (m.additional_kwargs or {}).get(SAVED_KWARG):
            return None
        if m.type == "tool" and getattr(m, "name", "") == "save_practice_plan" \
                and '"saved": true' in _text(m.content):
            return None
        found = latest_draft(messages[i:i + 1], before_last_user=False)
        if found is not None:
            return found
    return None


def _repairs(messages: list[Any]) -> list[Any]:
    """Removals for what a cancelled turn left half done: an assistant message whose tool
    calls were not all answered, and the answers it did get. OpenAI rejects a conversation
    with an unanswered tool call, and a later message cannot be slotted in after it."""
    from langchain_core.messages import RemoveMessage

    answered = {getattr(m, "tool_call_id", None) for m in messages if m.type == "tool"}
    out = []
    for m in messages:
        calls = [tc.get("id") for tc in getattr(m, "tool_calls", None) or []]
        if calls and not all(c in answered for c in calls) and m.id:
            out.append(RemoveMessage(id=m.id))
            out += [RemoveMessage(id=t.id) for t in messages
                    if t.type == "tool" and t.tool_call_id in calls and t.id]
    return out
