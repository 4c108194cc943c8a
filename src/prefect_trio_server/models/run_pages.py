"""Pages of runs with their current states, as the JSON objects the API answers.

The database writes each run's object, its current state nested in it (see
:mod:`..database.json_rows`). Only the two estimates that depend on the time of the request
are added here, from the columns they need (:func:`.run_states.run_estimates`).
A page's ids are cut before its objects are written (:func:`..database.json_rows.page_rows`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Select, select

from ..database.json_rows import JsonObject, page_rows
from ..database.page_statements import PageStatements, page_key
from ..schemas.states import State
from .run_rows import RunRows
from .run_states import ESTIMATE_INPUTS, run_estimates

_ESTIMATES = frozenset({"estimated_run_time", "estimated_start_time_delta"})


class RunPages:
    """Reads pages of one run table (``rows``) as ``model``'s JSON."""

    def __init__(
        self,
        rows: RunRows,
        model: type[BaseModel],
        *,
        still_late: Callable[[str | None], bool],
        computed: Mapping[str, ColumnElement[Any] | None] | None = None,
    ) -> None:
        runs, states = rows.runs, rows.states
        state = JsonObject.of_model(State, states, present_when=states.c.id.is_not(None))
        self._object = JsonObject.of_model(
            model,
            runs,
            computed={"state": state, **(computed or {})},
            added_later=_ESTIMATES,
        )
        self._source = rows.runs_with_state
        self._id = runs.c.id
        self._estimate_inputs = [runs.c[name] for name in ESTIMATE_INPUTS]
        self._still_late = still_late
        self._statements = PageStatements()

    def read(
        self,
        connection: Connection,
        key: Hashable,
        selection: Callable[[], tuple[ColumnElement[bool], Sequence[ColumnElement[Any]]]],
        *,
        offset: int,
        limit: int,
        now: dt.datetime,
    ) -> list[str]:
        """The JSON objects of a page: ``selection()`` gives its WHERE and ORDER BY.

        ``key`` names the selection (the filters and sort it comes from): the statement is
        built once for a key and reused (:class:`..database.page_statements.PageStatements`).
        """
        dialect = connection.dialect

        def build() -> Select[Any]:
            where, order_by = selection()
            page = page_rows(self._source, self._id, where, order_by, offset=offset, limit=limit)
            return (
                select(
                    self._object.expression(dialect).label("object"),
                    *self._estimate_inputs,
                )
                .select_from(page)
                .order_by(*order_by)
            )

        statement = self._statements.get(
            page_key(dialect.name, key, offset=offset, limit=limit), build
        )
        objects: list[str] = []
        for row in connection.execute(statement).mappings():
            run_time, lateness = run_estimates(row, now, still_late=self._still_late)
            objects.append(
                f'{row["object"][:-1]},"estimated_run_time":{run_time!r},'
                f'"estimated_start_time_delta":{lateness!r}}}'
            )
        return objects


__all__ = ["RunPages"]
