"""The parser layer of the chat agent's SQL defences: one read-only SELECT, allow-listed parts.

Why a real parser: naive guards (regexes, "starts with SELECT") are bypassed by several
statements in one string (``COMMIT; DELETE ...``), comments, dollar quoting, writable CTEs
and functions with side effects. pglast embeds PostgreSQL's own parser, so what we inspect is
what the server would run; and we run the *deparsed* tree, not the model's text, so comments
and quoting tricks never reach the server.

The check is default-deny at every level:

* exactly one statement, a plain ``SELECT`` / ``WITH … SELECT`` / ``VALUES`` (no ``INTO``, no
  ``FOR UPDATE/SHARE``, every CTE itself a SELECT);
* only the node types in :data:`ALLOWED_NODES` (no parameters, XML/JSON table functions,
  TABLESAMPLE, COLLATE…);
* relations: only :data:`ALLOWED_RELATIONS` (optionally qualified ``fretcoach.``) or a CTE in
  scope — with PostgreSQL's scoping rules, so a CTE named like a system catalog cannot be used
  to smuggle the catalog in; every real relation is rewritten to ``fretcoach.<name>``;
* functions: only :data:`ALLOWED_FUNCTIONS` (aggregates, window, math, date/time, string and
  JSON basics; nothing with side effects, nothing that reads files, sleeps or changes
  settings), unqualified or ``pg_catalog.``-qualified;
* operators: the common built-in symbols, never ``OPERATOR(schema.op)``;
* casts: only to the ordinary scalar types (no ``regclass``/``regproc`` look-ups).

This module is pure (no database): :func:`check_sql` raises :class:`SqlRejected` with a short
text meant for the model, so it can fix the query and retry.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: Longest query text accepted (the model writes short analytical queries).
MAX_SQL_CHARS = 4000

ALLOWED_RELATIONS: frozenset[str] = frozenset({"sessions", "session_notes", "ai_practice_plans"})
SCHEMA = "fretcoach"

ALLOWED_FUNCTIONS: frozenset[str] = frozenset({
    # aggregates
    "count", "sum", "avg", "min", "max", "stddev", "stddev_pop", "stddev_samp", "variance",
    "var_pop", "var_samp", "bool_and", "bool_or", "every", "percentile_cont",
    "percentile_disc", "mode", "corr", "covar_pop", "covar_samp", "regr_slope",
    "regr_intercept", "regr_r2", "regr_count", "regr_avgx", "regr_avgy",
    # window
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
    "first_value", "last_value", "nth_value",
    # math
    "abs", "round", "trunc", "ceil", "ceiling", "floor", "sqrt", "cbrt", "power", "pow", "exp",
    "ln", "log", "log10", "sign", "mod", "div", "width_bucket", "pi", "degrees", "radians",
    # date/time
    "now", "current_timestamp", "clock_timestamp", "statement_timestamp",
    "transaction_timestamp", "date_trunc", "date_part", "extract", "age", "make_date",
    "make_time", "make_timestamp", "make_timestamptz", "make_interval", "to_char", "to_date",
    "to_timestamp", "to_number", "date_bin", "justify_days", "justify_hours",
    "justify_interval", "isfinite", "timezone", "overlaps", "generate_series",
    # strings
    "lower", "upper", "initcap", "length", "char_length", "character_length", "octet_length",
    "substr", "substring", "position", "strpos", "btrim", "ltrim", "rtrim", "replace",
    "concat", "concat_ws", "left", "right", "split_part", "starts_with", "reverse", "format",
    "regexp_replace", "regexp_match", "regexp_like", "similar_to_escape", "translate",
    # json (read-only accessors)
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_array_length", "jsonb_typeof",
    "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_each", "jsonb_each_text",
    "jsonb_object_keys", "json_extract_path_text", "json_array_length", "json_typeof",
    # arrays
    "array_length", "cardinality", "unnest",
    # misc
    "num_nulls", "num_nonnulls",
})

#: Cast targets (PostgreSQL's internal names, as the parser reports them).
ALLOWED_TYPES: frozenset[str] = frozenset({
    "int2", "int4", "int8", "smallint", "integer", "int", "bigint", "numeric", "decimal",
    "float4", "float8", "real", "text", "varchar", "bpchar", "char", "bool", "boolean",
    "date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "json", "jsonb",
})

ALLOWED_OPERATORS: frozenset[str] = frozenset({
    "=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "||", "@", "|/",
    "~~", "~~*", "!~~", "!~~*", "~", "~*", "!~", "!~*",
    "->", "->>", "#>", "#>>", "@>", "<@", "?", "?|", "?&",
    "BETWEEN", "NOT BETWEEN", "BETWEEN SYMMETRIC", "NOT BETWEEN SYMMETRIC",
})

ALLOWED_NODES: frozenset[str] = frozenset({
    "RawStmt", "SelectStmt", "ResTarget", "ColumnRef", "A_Star", "A_Const", "String",
    "Integer", "Float", "Boolean", "BitString", "A_Expr", "BoolExpr", "FuncCall", "TypeCast",
    "TypeName", "SubLink", "RangeVar", "RangeSubselect", "RangeFunction", "JoinExpr", "Alias",
    "SortBy", "WithClause", "CommonTableExpr", "CaseExpr", "CaseWhen", "CoalesceExpr",
    "MinMaxExpr", "NullTest", "BooleanTest", "A_ArrayExpr", "A_Indices", "A_Indirection",
    "WindowDef", "GroupingSet", "SQLValueFunction", "RowExpr",
})


class SqlRejected(Exception):
    """The query is not allowed (or does not parse); ``str()`` is the text for the model."""


@dataclass(frozen=True)
class CheckedSql:
    """A query that passed: ``sql`` is the canonical text to execute (deparsed, qualified)."""

    sql: str
    relations: frozenset[str] = field(default_factory=frozenset)
    functions: frozenset[str] = field(default_factory=frozenset)


def _names(items: Iterable[Any] | None) -> list[str]:
    return [getattr(i, "sval", None) or "" for i in items or ()]


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word.lower(), sorted(options), n=1, cutoff=0.7)
    return f"; did you mean {close[0]}?" if close else ""


def _children(node: Any) -> Iterator[Any]:
    """Every child node of a pglast node, in slot order (lists flattened)."""
    from pglast import ast

    for slot in node.__slots__:
        value = getattr(node, slot, None)
        yield from _flatten(value, ast.Node)


def _flatten(value: Any, node_cls: type) -> Iterator[Any]:
    if isinstance(value, node_cls):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item, node_cls)


#: Output column names of allowed set-returning functions.
FUNCTION_COLUMNS: frozenset[str] = frozenset({"key", "value", "ordinality", "generate_series",
                                             "unnest", "?column?"})


def _defined_names(root: Any) -> set[str]:
    """Every column/alias name the query itself defines (select-list aliases, table and
    column aliases, CTE names and column lists)."""
    from pglast import ast

    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ResTarget) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Alias):
            if node.aliasname:
                names.add(node.aliasname)
            names.update(_names(node.colnames))
        elif isinstance(node, ast.CommonTableExpr):
            if node.ctename:
                names.add(node.ctename)
            names.update(_names(node.aliascolnames))
        stack.extend(_children(node))
    return names


class _Checker:
    def __init__(self, defined: set[str]) -> None:
        from fretcoach_cli.chat.schema import COLUMNS

        self.relations: set[str] = set()
        self.functions: set[str] = set()
        # what a qualified column reference may name: real columns, names the query
        # defines, default output names — never a function ("s.to_json" would call
        # to_json(s): PostgreSQL's functional notation)
        self.known_fields = ({c for cols in COLUMNS.values() for c in cols} | defined
                             | FUNCTION_COLUMNS | ALLOWED_FUNCTIONS)

    def visit(self, node: Any, ctes: frozenset[str]) -> None:
        kind = type(node).__name__
        if kind not in ALLOWED_NODES:
            raise SqlRejected(f"{_describe_node(kind)} is not allowed: use a plain SELECT "
                              "over sessions, session_notes or ai_practice_plans")
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(node, ctes)
            return
        for child in _children(node):
            self.visit(child, ctes)

    # statements ------------------------------------------------------------------------
    def _SelectStmt(self, node: Any, ctes: frozenset[str]) -> None:
        if node.intoClause is not None:
            raise SqlRejected("SELECT … INTO is not allowed (read-only: just SELECT)")
        if node.lockingClause:
            raise SqlRejected("FOR UPDATE/SHARE is not allowed (read-only queries)")
        with_clause = node.withClause
        if with_clause is not None:
            names = [c.ctename for c in with_clause.ctes]
            for i, cte in enumerate(with_clause.ctes):
                if cte.search_clause is not None or cte.cycle_clause is not None:
                    raise SqlRejected("SEARCH/CYCLE clauses are not allowed in WITH")
                if type(cte.ctequery).__name__ != "SelectStmt":
                    raise SqlRejected(f"WITH {cte.ctename} must be a SELECT (data-modifying "
                                      "CTEs are not allowed)")
                if cte.aliascolnames:
                    for alias in cte.aliascolnames:
                        self.visit(alias, ctes)
                # non-recursive WITH: a CTE sees only the ones before it
                visible = names if with_clause.recursive else names[:i]
                self.visit(cte.ctequery, ctes | frozenset(visible))
            ctes = ctes | frozenset(names)
        for slot in node.__slots__:
            if slot == "withClause":
                continue
            for child in _flatten(getattr(node, slot, None), _node_cls()):
                self.visit(child, ctes)

    # relations -------------------------------------------------------------------------
    def _RangeVar(self, node: Any, ctes: frozenset[str]) -> None:
        name = node.relname
        if node.catalogname:
            raise SqlRejected(f"table {node.catalogname}.{node.schemaname}.{name} is not "
                              "available")
        if node.schemaname is None and name in ctes:
            pass  # a CTE in scope
        elif node.schemaname in (None, SCHEMA) and name in ALLOWED_RELATIONS:
            node.schemaname = SCHEMA  # pin resolution to our schema whatever the search_path
            self.relations.add(name)
        else:
            shown = f"{node.schemaname}.{name}" if node.schemaname else name
            raise SqlRejected(f"table {shown} is not available{_suggest(name, ALLOWED_RELATIONS)}"
                              f" (tables: {', '.join(sorted(ALLOWED_RELATIONS))})")
        if node.alias is not None:
            self.visit(node.alias, ctes)

    def _RangeFunction(self, node: Any, ctes: frozenset[str]) -> None:
        for item in node.functions or ():
            func, coldefs = (item[0], item[1]) if isinstance(item, list | tuple) else (item, None)
            if coldefs:
                raise SqlRejected("column definition lists (AS t(a int)) are not allowed")
            self.visit(func, ctes)
        if node.coldeflist:
            raise SqlRejected("column definition lists (AS t(a int)) are not allowed")
        if node.alias is not None:
            self.visit(node.alias, ctes)

    # expressions -----------------------------------------------------------------------
    def _FuncCall(self, node: Any, ctes: frozenset[str]) -> None:
        parts = _names(node.funcname)
        name = parts[-1]
        schema = parts[0] if len(parts) == 2 else None
        if len(parts) > 2 or (schema is not None and schema != "pg_catalog") \
                or name not in ALLOWED_FUNCTIONS:
            shown = ".".join(parts)
            raise SqlRejected(f"function {shown}() is not allowed"
                              f"{_suggest(name, ALLOWED_FUNCTIONS)} (allowed: aggregates, "
                              "window, math, date/time, string and JSON basics)")
        self.functions.add(name)
        for slot in node.__slots__:
            if slot == "funcname":
                continue
            for child in _flatten(getattr(node, slot, None), _node_cls()):
                self.visit(child, ctes)

    def _A_Expr(self, node: Any, ctes: frozenset[str]) -> None:
        self._operator(node.name)
        for child in _children(node):
            if type(child).__name__ == "String":
                continue  # the operator name itself
            self.visit(child, ctes)

    def _SubLink(self, node: Any, ctes: frozenset[str]) -> None:
        if node.operName:
            self._operator(node.operName)
        for slot in ("testexpr", "subselect"):
            child = getattr(node, slot, None)
            if child is not None:
                self.visit(child, ctes)

    def _ColumnRef(self, node: Any, ctes: frozenset[str]) -> None:
        fields = list(node.fields or ())
        if len(fields) >= 2:
            self._field(getattr(fields[-1], "sval", None))
        for child in fields:
            self.visit(child, ctes)

    def _A_Indirection(self, node: Any, ctes: frozenset[str]) -> None:
        for item in node.indirection or ():
            if type(item).__name__ == "String":
                self._field(item.sval)
            else:
                self.visit(item, ctes)
        self.visit(node.arg, ctes)

    def _field(self, name: str | None) -> None:
        if name is not None and name not in self.known_fields:
            raise SqlRejected(f"no column {name}{_suggest(name, self.known_fields)} "
                              "(call describe_schema for the columns)")

    def _SortBy(self, node: Any, ctes: frozenset[str]) -> None:
        if node.useOp:
            self._operator(node.useOp)
        self.visit(node.node, ctes)

    def _operator(self, name_nodes: Any) -> None:
        parts = _names(name_nodes)
        if len(parts) != 1 or parts[0] not in ALLOWED_OPERATORS:
            raise SqlRejected(f"operator {'.'.join(parts)} is not allowed")

    def _TypeName(self, node: Any, ctes: frozenset[str]) -> None:
        parts = _names(node.names)
        name = parts[-1] if parts else ""
        schema = parts[0] if len(parts) == 2 else None
        if node.setof or node.pct_type or len(parts) > 2 or \
                (schema is not None and schema != "pg_catalog") or name not in ALLOWED_TYPES:
            raise SqlRejected(f"cast to {'.'.join(parts) or '?'} is not allowed (use numeric, "
                              "integer, text, date, timestamptz, interval, boolean…)")
        for child in _flatten(node.typmods, _node_cls()):
            self.visit(child, ctes)


def _node_cls() -> type:
    from pglast import ast

    return ast.Node


_NODE_WORDS = {
    "InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE", "TransactionStmt": "transaction control (BEGIN/COMMIT/ROLLBACK)",
    "VariableSetStmt": "SET/RESET", "CopyStmt": "COPY", "ParamRef": "a $n parameter",
    "CollateClause": "COLLATE", "RangeTableSample": "TABLESAMPLE", "LockingClause": "FOR UPDATE",
    "CreateStmt": "CREATE", "DropStmt": "DROP", "ExplainStmt": "EXPLAIN", "DoStmt": "DO",
    "CallStmt": "CALL", "ColumnDef": "a column definition list",
}


def _describe_node(kind: str) -> str:
    return _NODE_WORDS.get(kind, kind)


def check_sql(sql: str) -> CheckedSql:
    """Parse and check one query; the canonical SQL to run, or :class:`SqlRejected`."""
    from pglast import parse_sql
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    text = (sql or "").strip()
    if not text:
        raise SqlRejected("empty query: write one SELECT")
    if len(text) > MAX_SQL_CHARS:
        raise SqlRejected(f"query too long ({len(text)} characters, at most {MAX_SQL_CHARS})")
    if "\x00" in text:
        raise SqlRejected("query contains a NUL character")
    try:
        stmts = parse_sql(text)
    except ParseError as exc:
        raise SqlRejected(f"syntax error: {exc}") from None
    except Exception as exc:  # pglast raises a few others on odd input
        raise SqlRejected(f"cannot parse the query: {exc}") from None
    if len(stmts) != 1:
        raise SqlRejected(f"exactly one statement allowed, got {len(stmts)} (no ';'-separated "
                          "statements)")
    stmt = stmts[0].stmt
    kind = type(stmt).__name__
    if stmt is None or kind != "SelectStmt":
        raise SqlRejected(f"only SELECT is allowed, not {_describe_node(kind)}")
    checker = _Checker(_defined_names(stmt))
    checker.visit(stmt, frozenset())
    canonical = RawStream()(stmt)
    # belt and braces: what we run must itself be exactly one SELECT
    again = parse_sql(canonical)
    if len(again) != 1 or type(again[0].stmt).__name__ != "SelectStmt":
        raise SqlRejected("query could not be normalised")
    return CheckedSql(canonical, frozenset(checker.relations), frozenset(checker.functions))
