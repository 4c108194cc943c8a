"""Rows written as JSON by the database itself.

A page of fifty flow runs holds about 2 250 values. Decoding each into Python, validating it
against the response model and encoding it again took ~14 ms of CPU per page, on the one
thread that also serves every other request. SQLite (``json_object``) and PostgreSQL
(``json_build_object``) can write each row's JSON object in C as they read it; the server then
only joins the objects into the answer (~1 ms a page).

:class:`JsonObject` maps the fields of a response model to the columns that hold them and
renders each column by its type for the dialect: UUIDs in their hyphenated form, timestamps
in ISO 8601, JSON columns embedded as JSON, booleans as JSON booleans. Building it from the
model (:meth:`JsonObject.of_model`) fails at import when a field has no column, so the
objects cannot silently lose a field; tests compare every list route's JSON with the model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Dialect,
    FromClause,
    String,
    Table,
    Text,
    Uuid,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
)

from .types import Timestamp

# PostgreSQL's functions take at most 100 arguments: 50 fields of one object.
_MAX_FIELDS = 50


class JsonObject:
    """The JSON object of one row: field names and the column expressions that hold them."""

    def __init__(
        self,
        fields: Mapping[str, ColumnElement[Any] | JsonObject | None],
        *,
        present_when: ColumnElement[bool] | None = None,
    ) -> None:
        """``None`` for a field writes ``null``; ``present_when`` false writes the object
        itself as ``null`` (an outer join that found nothing)."""
        if len(fields) > _MAX_FIELDS:
            raise ValueError(f"{len(fields)} fields: more than one JSON object call can take")
        self.fields = dict(fields)
        self.present_when = present_when
        self._by_dialect: dict[str, ColumnElement[str]] = {}

    @classmethod
    def of_model(
        cls,
        model: type[BaseModel],
        table: Table,
        *,
        computed: Mapping[str, ColumnElement[Any] | JsonObject | None] | None = None,
        added_later: frozenset[str] = frozenset(),
        present_when: ColumnElement[bool] | None = None,
    ) -> JsonObject:
        """The object of ``model``'s fields, in the model's order.

        Each field comes from ``computed`` if named there, else from ``table``'s column of the
        same name; fields in ``added_later`` are left out (the caller appends them). A field with
        none of these is an error.
        """
        computed = computed or {}
        fields: dict[str, ColumnElement[Any] | JsonObject | None] = {}
        for name in model.model_fields:
            if name in added_later:
                continue
            if name in computed:
                fields[name] = computed[name]
            elif name in table.c:
                fields[name] = table.c[name]
            else:
                raise ValueError(f"{model.__name__}.{name} has no column or expression")
        return cls(fields, present_when=present_when)

    def expression(self, dialect: Dialect) -> ColumnElement[str]:
        """The object as JSON text, for ``dialect``: SQL compiled once, kept as its text.

        As text, the expression costs nothing to the statement cache; as a tree of a few
        hundred nodes, computing the statement's cache key took ~1 ms per query.
        """
        built = self._by_dialect.get(dialect.name)
        if built is None:
            tree = self._object(dialect.name)
            if dialect.name == "postgresql":
                # psycopg would parse a ``json`` value into Python objects: keep the text.
                tree = cast(tree, Text)
            sql = str(tree.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            built = literal_column(sql, String)
            self._by_dialect[dialect.name] = built
        return built

    def _object(self, dialect: str) -> ColumnElement[Any]:
        build = func.json_build_object if dialect == "postgresql" else func.json_object
        arguments: list[Any] = []
        for name, value in self.fields.items():
            if not name.isidentifier():
                raise ValueError(f"not a field name: {name!r}")
            arguments.append(literal_column(f"'{name}'", String))
            arguments.append(_value(value, dialect))
        built: ColumnElement[Any] = build(*arguments)
        if self.present_when is None:
            return built
        return case((self.present_when, built), else_=null())


def _value(value: ColumnElement[Any] | JsonObject | None, dialect: str) -> Any:
    if value is None:
        return null()
    if isinstance(value, JsonObject):
        return value._object(dialect)
    if dialect == "postgresql":
        return _postgresql_value(value)
    return _sqlite_value(value)


def _postgresql_value(column: ColumnElement[Any]) -> Any:
    # json_build_object writes uuid, jsonb and boolean as JSON already; timestamptz it
    # writes in the session's time zone: write UTC with a "Z", as pydantic does.
    if isinstance(column.type, Timestamp):
        utc = func.timezone(_UTC, column)
        text = func.to_char(utc, _ISO_FORMAT, type_=String)
        return func.replace(text, _NO_FRACTION + _Z, _Z, type_=String)
    return column


def _sqlite_value(column: ColumnElement[Any]) -> Any:
    kind = column.type
    if isinstance(kind, Timestamp):
        # Stored as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC; written as pydantic writes it,
        # without the fraction when it is zero.
        whole_seconds = func.replace(column, _NO_FRACTION, _EMPTY, type_=String)
        return func.replace(whole_seconds, _SPACE, _T, type_=String) + _Z
    if isinstance(kind, Uuid):
        # Stored as 32 hex digits.
        parts = [func.substr(column, start, length, type_=String) for start, length in _UUID_GROUPS]
        hyphenated: ColumnElement[Any] = parts[0]
        for part in parts[1:]:
            hyphenated = hyphenated + _HYPHEN + part
        return hyphenated
    if isinstance(kind, JSON):
        return func.json(column)
    if isinstance(kind, Boolean):
        return func.json(case((column.is_(None), null()), (column, _TRUE), else_=_FALSE))
    return column


_PG_ISO = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
# Constants written into the SQL text rather than bound on every execution.
_SPACE, _T, _Z, _HYPHEN, _EMPTY, _NO_FRACTION = (
    literal_column(f"'{text}'", String) for text in (" ", "T", "Z", "-", "", ".000000")
)
_UTC, _ISO_FORMAT = (literal_column(f"'{text}'", String) for text in ("UTC", _PG_ISO))
_TRUE, _FALSE = (literal_column(f"'{text}'", String) for text in ("true", "false"))


__all__ = ["JsonObject"]


def page_rows(
    source: FromClause,
    id_column: ColumnElement[Any],
    where: ColumnElement[bool],
    order_by: Sequence[ColumnElement[Any]],
    *,
    offset: int,
    limit: int,
) -> FromClause:
    """``source`` cut to one page, for a query that writes JSON objects of its rows.

    The page's ids are cut first (filtered, sorted, offset and limit) and joined back to
    ``source``: the database writes the result columns of every row it sorts, so sorting
    whole objects would write one for each row that shares the page's sort key (every tied
    row, when the sort has to break ties). The caller sorts the page again by ``order_by``.
    """
    page = (
        select(id_column.label("id"))
        .select_from(source)
        .where(where)
        .order_by(*order_by)
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    return source.join(page, page.c.id == id_column)
