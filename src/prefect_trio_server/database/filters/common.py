"""Building blocks for turning wire filters into SQL, the same on SQLite and PostgreSQL.

Every ``*_clause`` function returns a SQLAlchemy boolean expression; ``true()`` stands for
"no condition", so callers can always ``and_()`` what they get. JSON list columns (tags) are
JSON on SQLite and JSONB on PostgreSQL: containment is ``@>`` there and ``json_each`` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from ...schemas.base import Operator
from ..dialects import jsonb


def combine(
    clauses: Iterable[ColumnElement[bool]], operator: Operator | str
) -> ColumnElement[bool]:
    """``and_`` or ``or_`` of ``clauses``, as the filter's ``operator`` says."""
    items = list(clauses)
    if not items:
        return true()
    if str(getattr(operator, "value", operator)) == "or_":
        return or_(*items)
    return and_(*items)


def like_clause(column: Any, pattern: str) -> ColumnElement[bool]:
    """Prefect's ``like_``: a case-insensitive substring match."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result


def _sqlite_json_values(column: Any) -> Any:
    return func.json_each(column).table_valued("value")


def json_list_contains_all(column: Any, values: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """Every one of ``values`` is in the JSON list ``column``."""
    if not values:
        return true()
    if dialect == "postgresql":
        result: ColumnElement[bool] = column.cast(jsonb()).contains(list(values))
        return result
    return and_(*(json_list_contains_any(column, [value], dialect) for value in values))


def json_list_contains_any(column: Any, values: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """At least one of ``values`` is in the JSON list ``column``."""
    if not values:
        return literal(False)
    if dialect == "postgresql":
        return or_(*(column.cast(jsonb()).contains([value]) for value in values))
    items = _sqlite_json_values(column)
    return exists(select(literal(1)).select_from(items).where(items.c.value.in_(list(values))))


def json_list_is_empty(column: Any, dialect: str) -> ColumnElement[bool]:
    """The JSON list ``column`` is null or empty."""
    if dialect == "postgresql":
        return or_(column.is_(None), func.jsonb_array_length(column.cast(jsonb())) == 0)
    return or_(column.is_(None), func.json_array_length(column) == 0)


def is_null_clause(column: Any, is_null: bool) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.is_(None) if is_null else column.is_not(None)
    return result


def negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    return not_(clause)
