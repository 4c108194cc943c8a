"""``LogFilter`` and ``LogSort`` as SQL over the ``log`` table.

Criteria semantics follow Prefect's: bounds are inclusive (``level.ge_``/``le_``,
``timestamp.after_``/``before_``), ``any_`` lists are ``IN``, ``task_run_id.is_null_`` selects
logs without (true) or with (false) a task run. A sub-filter sent with no criteria matches
everything, and the top-level criteria are combined with the filter's ``operator``.

Text search (``text.query``)
    A case-insensitive substring match over ``message + " " + name``, with Prefect's syntax:

    * ``error timeout`` -- space-separated terms: a log matches if it contains *any* of them;
    * ``-debug`` or ``!debug`` -- excluded: a log matches only if it contains *none* of them;
    * ``+required`` -- required: a log matches only if it contains *all* of them;
    * ``"connection timeout"`` -- a quoted phrase is one term (with any prefix above);
      ``\\"`` and ``\\\\`` inside quotes stand for a quote and a backslash; an unclosed quote
      runs to the end of the query;
    * a prefix followed by a space is ignored; ``%``, ``_`` and ``\\`` in terms are literal;
      an empty or blank query matches everything.

    The three groups are always and-ed together, whatever the filter's ``operator`` (Prefect
    spreads them into the operator, so ``or_`` there makes an exclusion match everything).
    Case folding is the database's: SQLite's ``LIKE`` folds ASCII letters only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, literal, true

from ...schemas.base import Operator
from ...schemas.filters_task_runs import LogFilter, LogFilterTextSearch
from ...schemas.sorting import LogSort
from ..tables import log
from .common import combine, is_null_clause, like_clause, negate

__all__ = [
    "LEVEL_MAX",
    "LEVEL_MIN",
    "TextQuery",
    "log_filter_clause",
    "log_order_by",
    "parse_text_query",
]

LEVEL_MIN, LEVEL_MAX = -(2**15), 2**15 - 1
"""The range of ``log.level`` (a SMALLINT). Bounds outside it are clamped before they reach
SQL, where PostgreSQL would cast them to SMALLINT and fail."""


@dataclass
class TextQuery:
    """A parsed text search query: terms to match any of, all of, and none of."""

    include: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


_PREFIXES = {"-": "exclude", "!": "exclude", "+": "required"}


def _read_phrase(query: str, start: int) -> tuple[str, int]:
    """The phrase after the opening quote at ``start - 1`` (unescaped), and where it ends."""
    chars: list[str] = []
    i = start
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query) and query[i + 1] in '"\\':
            chars.append(query[i + 1])
            i += 2
        elif char == '"':
            return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    return "".join(chars), i


def parse_text_query(query: str) -> TextQuery:
    """Split a text search query into include, required and exclude terms (syntax above)."""
    parsed = TextQuery()
    i = 0
    while i < len(query):
        if query[i].isspace():
            i += 1
            continue
        group = "include"
        if query[i] in _PREFIXES:
            if i + 1 >= len(query) or query[i + 1].isspace():
                i += 1  # a lone prefix is ignored
                continue
            group = _PREFIXES[query[i]]
            i += 1
        if query[i] == '"':
            term, i = _read_phrase(query, i + 1)
            if not term.strip():
                continue
        else:
            start = i
            while i < len(query) and not query[i].isspace() and query[i] != '"':
                i += 1
            term = query[start:i]
        getattr(parsed, group).append(term)
    return parsed


def _text_clause(text: LogFilterTextSearch) -> ColumnElement[bool]:
    parsed = parse_text_query(text.query)
    searchable = log.c.message + literal(" ") + log.c.name
    clauses: list[ColumnElement[bool]] = []
    if parsed.include:
        clauses.append(
            combine((like_clause(searchable, term) for term in parsed.include), Operator.or_)
        )
    clauses.extend(like_clause(searchable, term) for term in parsed.required)
    clauses.extend(negate(like_clause(searchable, term)) for term in parsed.exclude)
    return combine(clauses, Operator.and_)


def _level_clause(ge: int | None, le: int | None) -> ColumnElement[bool]:
    if (ge is not None and ge > LEVEL_MAX) or (le is not None and le < LEVEL_MIN):
        return false()
    clauses: list[ColumnElement[bool]] = []
    if ge is not None and ge > LEVEL_MIN:
        clauses.append(log.c.level >= ge)
    if le is not None and le < LEVEL_MAX:
        clauses.append(log.c.level <= le)
    return combine(clauses, Operator.and_)


def log_filter_clause(criteria: LogFilter | None, dialect: str) -> ColumnElement[bool]:
    """The rows of ``log`` that ``criteria`` selects (everything for None).

    ``dialect`` is taken for uniformity with the other filters; log criteria need no
    dialect-specific SQL.
    """
    del dialect
    if criteria is None:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if criteria.level is not None:
        clauses.append(_level_clause(criteria.level.ge_, criteria.level.le_))
    if criteria.timestamp is not None:
        timestamp: list[ColumnElement[bool]] = []
        if criteria.timestamp.before_ is not None:
            timestamp.append(log.c.timestamp <= criteria.timestamp.before_)
        if criteria.timestamp.after_ is not None:
            timestamp.append(log.c.timestamp >= criteria.timestamp.after_)
        clauses.append(combine(timestamp, Operator.and_))
    if criteria.flow_run_id is not None:
        flow_run: list[ColumnElement[bool]] = []
        if criteria.flow_run_id.any_ is not None:
            flow_run.append(log.c.flow_run_id.in_(criteria.flow_run_id.any_))
        clauses.append(combine(flow_run, Operator.and_))
    if criteria.task_run_id is not None:
        task_run: list[ColumnElement[bool]] = []
        if criteria.task_run_id.any_ is not None:
            task_run.append(log.c.task_run_id.in_(criteria.task_run_id.any_))
        if criteria.task_run_id.is_null_ is not None:
            task_run.append(is_null_clause(log.c.task_run_id, criteria.task_run_id.is_null_))
        clauses.append(combine(task_run, Operator.and_))
    if criteria.text is not None:
        clauses.append(_text_clause(criteria.text))
    return combine(clauses, criteria.operator)


def log_order_by(sort: LogSort) -> list[Any]:
    """ORDER BY for ``sort``, with the id as a tie-breaker so pages are stable.

    The tie-breaker follows the timestamp's direction, so DESC is exactly ASC reversed.
    """
    if sort == LogSort.TIMESTAMP_DESC:
        return [log.c.timestamp.desc(), log.c.id.desc()]
    return [log.c.timestamp.asc(), log.c.id.asc()]
