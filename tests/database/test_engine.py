"""The database handle on real SQLite files and a real PostgreSQL server."""

from pathlib import Path

import pytest
import trio
import trio.testing
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    inspect,
    select,
    text,
    update,
)

from polling import wait_until_async
from prefect_trio_server.database import Database
from prefect_trio_server.database.migrate import HEAD_REVISION, migrate, stored_revision
from prefect_trio_server.database.urls import parse_database_url
from prefect_trio_server.errors import ConfigurationError, ServiceUnavailableError
from prefect_trio_server.settings import Settings


@pytest.fixture
async def database(prefect_trio_settings: Settings):
    db = Database(prefect_trio_settings)
    await trio.to_thread.run_sync(migrate, db)
    await db.write(lambda c: c.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)")))
    await db.write(lambda c: c.execute(text("INSERT INTO counter VALUES (0)")))
    yield db
    db.dispose()


counter = Table("counter", MetaData(), Column("n", Integer))


def _increment(connection: Connection) -> None:
    # Read, then write what was read plus one: loses updates unless the write transaction
    # holds its lock from the start (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL).
    value = connection.execute(select(counter.c.n).with_for_update()).scalar_one()
    connection.execute(update(counter).values(n=value + 1))


async def test_concurrent_read_modify_write_loses_nothing(database: Database):
    async with trio.open_nursery() as nursery:
        for _ in range(40):
            nursery.start_soon(database.write, _increment)
    assert await database.read(lambda c: c.execute(text("SELECT n FROM counter")).scalar()) == 40


async def test_a_failed_write_leaves_nothing_behind(database: Database):
    def half_then_fail(connection: Connection) -> None:
        connection.execute(text("UPDATE counter SET n = 99"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await database.write(half_then_fail)
    assert await database.read(lambda c: c.execute(text("SELECT n FROM counter")).scalar()) == 0


def test_sqlite_has_one_writer_and_concurrent_readers(tmp_path: Path):
    database = Database(Settings(home=tmp_path, database_read_concurrency=4))
    try:
        assert database.read_limiter.total_tokens == 4
        assert database.write_limiter.total_tokens == 1
        assert database.read_engine is not database.write_engine
    finally:
        database.dispose()


async def test_waiting_too_long_for_the_writer_is_503(prefect_trio_settings: Settings):
    settings = prefect_trio_settings.model_copy(update={"database_timeout": 0.5})
    db = Database(settings)
    try:
        held = trio.Event()
        release = trio.Event()

        def hold(_connection: Connection) -> None:
            trio.from_thread.run_sync(held.set)
            trio.from_thread.run(release.wait)

        tokens = int(db.write_limiter.total_tokens)
        async with trio.open_nursery() as nursery:
            for _ in range(tokens):
                nursery.start_soon(db.write, hold)
            await held.wait()
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(ServiceUnavailableError):
                await db.write(lambda c: None)
            release.set()
    finally:
        db.dispose()


async def test_migrations_reach_head_and_are_idempotent(prefect_trio_settings: Settings):
    db = Database(prefect_trio_settings)
    try:
        await trio.to_thread.run_sync(migrate, db)
        await trio.to_thread.run_sync(migrate, db)
        revision = await db.read(stored_revision)
        assert revision == HEAD_REVISION
        tables = await db.read(
            lambda c: c.execute(text("SELECT count(*) FROM csrf_token")).scalar()
        )
        assert tables == 0
    finally:
        db.dispose()


def test_head_revision_constant_matches_the_migration_scripts():
    from alembic.script import ScriptDirectory

    from prefect_trio_server.database.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())  # type: ignore[arg-type]
    assert script.get_heads() == [HEAD_REVISION]


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_schema_from_migrations_matches_the_tables(prefect_trio_settings: Settings):
    """Alembic's autogenerate sees no difference between migrations and the tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from prefect_trio_server.database.tables import metadata

    db = Database(prefect_trio_settings)
    try:
        migrate(db)
        with db.read_engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_unwritable_home_names_the_setting(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="PREFECT_HOME"):
        Database(Settings(home=blocker / "home"))


def test_unreachable_postgres_names_the_setting():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        database_connection_url=f"postgresql+psycopg://u@127.0.0.1:{port}/db",
        database_timeout=2,
    )
    db = Database(settings)
    try:
        with pytest.raises(ConfigurationError, match="PREFECT_API_DATABASE_CONNECTION_URL"):
            db.check_connection()
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("raw", "url", "dialect"),
    [
        ("sqlite+aiosqlite:////tmp/p.db", "sqlite:////tmp/p.db", "sqlite"),
        ("sqlite:///rel.db", "sqlite:///rel.db", "sqlite"),
        ("postgresql+asyncpg://u:p@h:5/d", "postgresql+psycopg://u:p@h:5/d", "postgresql"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d", "postgresql"),
    ],
)
def test_prefect_urls_translate_to_sync_drivers(raw, url, dialect):
    parsed = parse_database_url(raw)
    assert (parsed.url, parsed.dialect) == (url, dialect)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("mysql://u@h/d", "unsupported driver"),
        ("not a url", "not a database URL"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite://", "in-memory"),
    ],
)
def test_bad_urls_name_the_setting(raw, message):
    with pytest.raises(ConfigurationError, match=message) as error:
        parse_database_url(raw)
    assert "PREFECT_API_DATABASE_CONNECTION_URL" in str(error.value)


def test_passwords_are_not_echoed():
    with pytest.raises(ConfigurationError) as error:
        parse_database_url("nope:/user:hunter2@host")
    assert "hunter2" not in str(error.value) or "://" not in "nope:/user:hunter2@host"


def test_migrations_downgrade_to_empty_and_upgrade_again(prefect_trio_settings: Settings):
    from alembic import command

    from prefect_trio_server.database.migrate import alembic_config

    db = Database(prefect_trio_settings)
    try:
        migrate(db)
        with db.write_engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")  # type: ignore[arg-type]
        with db.read_engine.connect() as connection:
            assert stored_revision(connection) is None
            assert not inspect(connection).has_table("flow_run")
        migrate(db)
        with db.read_engine.connect() as connection:
            assert stored_revision(connection) == HEAD_REVISION
            assert inspect(connection).has_table("flow_run")
    finally:
        db.dispose()


# -- background WAL checkpoints (SQLite) ------------------------------------------------------


def _sqlite_file_size(database: Database) -> int:
    path = database.url.sqlite_path
    assert path is not None
    return path.stat().st_size


async def test_the_writer_leaves_wal_checkpoints_to_the_background(database: Database):
    if not database.url.is_sqlite:
        pytest.skip("WAL checkpoints are SQLite's")
    pragma = text("PRAGMA wal_autocheckpoint")
    assert await database.write(lambda c: c.execute(pragma).scalar()) == 10_000
    # The readers' connections keep SQLite's default; only the writer defers.
    assert await database.read(lambda c: c.execute(pragma).scalar()) == 1000


async def test_writes_are_checkpointed_into_the_database_file_in_the_background(
    database: Database,
):
    if not database.url.is_sqlite:
        pytest.skip("WAL checkpoints are SQLite's")
    await trio.to_thread.run_sync(database.checkpoint)
    await database.write(lambda c: c.execute(text("CREATE TABLE blob (b TEXT)")))
    await trio.to_thread.run_sync(database.checkpoint)
    size_before = _sqlite_file_size(database)

    def insert_blob(connection: Connection) -> None:
        connection.execute(text("INSERT INTO blob VALUES (:b)"), {"b": "x" * 8000})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(database.run_checkpoints)
        for _ in range(120):  # enough transactions to make a checkpoint due at once
            await database.write(insert_blob)
        # Without the background checkpoint the pages would stay in the WAL: the writer
        # does not checkpoint before 10 000 pages.
        await wait_until_async(
            lambda: trio.to_thread.run_sync(lambda: _sqlite_file_size(database) > size_before)
        )
        nursery.cancel_scope.cancel()
    busy, frames, checkpointed = await trio.to_thread.run_sync(database.checkpoint)
    assert (busy, frames) == (0, checkpointed)


async def test_checkpoints_are_a_no_op_on_postgresql(database: Database):
    if database.url.is_sqlite:
        pytest.skip("PostgreSQL only")
    with trio.fail_after(5):
        await database.run_checkpoints()  # returns at once


def test_non_standard_json_stored_by_earlier_versions_is_made_standard(
    prefect_trio_settings: Settings,
):
    """Revision 0005: NaN and infinities in SQLite JSON columns become null."""
    from alembic import command

    from prefect_trio_server.database.migrate import alembic_config

    if parse_database_url(prefect_trio_settings.database_url).dialect != "sqlite":
        pytest.skip("PostgreSQL's jsonb never held such values")
    db = Database(prefect_trio_settings)
    try:
        migrate(db)
        with db.write_engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004")  # type: ignore[arg-type]
            connection.execute(
                text(
                    "INSERT INTO flow (id, created, updated, name, tags, labels) VALUES "
                    "('0' || hex(randomblob(15)), '2026-11-25 06:00:00.000000', "
                    "'2026-11-25 06:00:00.000000', 'f', :tags, :labels)"
                ),
                {"tags": '["a", NaN]', "labels": '{"x": Infinity, "y": [-Infinity, 1.5]}'},
            )
        migrate(db)
        with db.read_engine.connect() as connection:
            assert stored_revision(connection) == HEAD_REVISION
            tags, labels = connection.execute(text("SELECT tags, labels FROM flow")).one()
            assert connection.execute(text("SELECT json_valid(:t)"), {"t": tags}).scalar() == 1
        assert tags == '["a", null]'
        assert labels == '{"x": null, "y": [null, 1.5]}'
    finally:
        db.dispose()


def test_a_busy_begin_fails_as_sqlalchemy_reports_it(tmp_path: Path) -> None:
    """The BEGIN goes straight to the driver; its 'database is locked' is still
    SQLAlchemy's OperationalError, which the API answers with 503 and Retry-After."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from prefect_trio_server.database.engine import _sqlite_engine

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    engine = _sqlite_engine(
        f"sqlite:///{path}", pool_size=1, begin="BEGIN IMMEDIATE", busy_timeout_ms=10
    )
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin():
            pass
        holder.execute("COMMIT")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
        holder.close()
