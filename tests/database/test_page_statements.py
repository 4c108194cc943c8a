"""Page statements kept by request: reused for equal requests, never their rows."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest

from prefect_trio_server.database import Database
from prefect_trio_server.database.page_statements import PageStatements, filter_key
from prefect_trio_server.models import logs as log_model
from prefect_trio_server.schemas.actions import LogCreate
from prefect_trio_server.schemas.filters_task_runs import LogFilter
from prefect_trio_server.schemas.sorting import LogSort

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class Builds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> object:
        self.count += 1
        return object()


def test_an_equal_key_gets_the_statement_built_for_it() -> None:
    statements = PageStatements(size=4)
    build = Builds()
    first = statements.get(("logs", 1), build)
    assert statements.get(("logs", 1), build) is first
    assert statements.get(("logs", 2), build) is not first
    assert build.count == 2


def test_the_least_recently_used_statement_goes_first() -> None:
    statements = PageStatements(size=2)
    build = Builds()
    a = statements.get("a", build)
    statements.get("b", build)
    assert statements.get("a", build) is a  # "a" is now the most recent
    statements.get("c", build)  # evicts "b"
    assert len(statements) == 2
    assert statements.get("a", build) is a
    assert build.count == 3
    statements.get("b", build)
    assert build.count == 4


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PageStatements(size=0)


def test_threads_share_one_cache_without_losing_its_bound() -> None:
    statements = PageStatements(size=8)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(2000):
                key = (offset + i) % 20
                assert statements.get(key, lambda key=key: ("built", key)) == ("built", key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(statements) == 8


def test_filter_keys_are_equal_exactly_when_the_filters_are() -> None:
    run = uuid.uuid4()
    by_run = LogFilter.model_validate({"flow_run_id": {"any_": [str(run)]}})
    assert filter_key(by_run) == filter_key(
        LogFilter.model_validate({"flow_run_id": {"any_": [str(run)]}})
    )
    assert filter_key(by_run) != filter_key(
        LogFilter.model_validate({"flow_run_id": {"any_": [str(uuid.uuid4())]}})
    )
    assert filter_key(by_run) != filter_key(LogFilter())
    assert filter_key(None) is None


def _log(run: uuid.UUID, message: str, second: int) -> LogCreate:
    return LogCreate(
        name="prefect.flow_runs",
        level=20,
        message=message,
        timestamp=NOW + dt.timedelta(seconds=second),
        flow_run_id=run,
    )


async def test_a_reused_statement_reads_the_rows_of_now(database: Database) -> None:
    run, other = uuid.uuid4(), uuid.uuid4()
    await database.write(
        lambda c: log_model.create_logs(
            c, [_log(run, "first", 0), _log(other, "elsewhere", 1)], now=NOW
        )
    )
    by_run = LogFilter.model_validate({"flow_run_id": {"any_": [str(run)]}})

    async def read(log_filter: LogFilter | None) -> list[str]:
        return await database.read(
            lambda c: log_model.read_logs(
                c, log_filter=log_filter, sort=LogSort.TIMESTAMP_ASC, offset=0, limit=10
            )
        )

    assert [o.count('"message"') for o in await read(by_run)] == [1]
    kept = len(log_model._LOG_PAGES)
    await database.write(lambda c: log_model.create_logs(c, [_log(run, "second", 2)], now=NOW))
    again = await read(by_run)
    assert len(log_model._LOG_PAGES) == kept  # the same statement, run again
    assert len(again) == 2
    assert '"first"' in again[0]
    assert '"second"' in again[1]
    # A filter for another run is another statement, with that run's rows.
    elsewhere = await read(LogFilter.model_validate({"flow_run_id": {"any_": [str(other)]}}))
    assert len(elsewhere) == 1
    assert '"elsewhere"' in elsewhere[0]
    assert len(await read(None)) == 3
