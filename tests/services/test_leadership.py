"""One process leads the background services among those sharing a database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
from sqlalchemy import create_engine, text

from polling import wait_until
from prefect_trio_server.database import Database
from prefect_trio_server.services.leadership import (
    AdvisoryLockLeadership,
    Leadership,
    leadership_for,
    while_leader,
)
from prefect_trio_server.settings import Settings


async def test_only_one_leader_until_it_lets_go(prefect_trio_settings: Settings) -> None:
    database = Database(prefect_trio_settings)
    first, second = leadership_for(database), leadership_for(database)
    try:
        assert await first.try_acquire()
        assert await first.try_acquire()  # already ours
        assert not await second.try_acquire()
        assert await first.still_held()
        await first.release()
        assert not await first.still_held()
        assert await second.try_acquire()
        assert not await first.try_acquire()
    finally:
        await first.release()
        await second.release()
        database.dispose()


class CountingLeadership:
    """A real leadership that counts its attempts, so a test can see campaigning happen."""

    def __init__(self, inner: Leadership) -> None:
        self.inner = inner
        self.attempts = 0

    async def try_acquire(self) -> bool:
        self.attempts += 1
        return await self.inner.try_acquire()

    async def still_held(self) -> bool:
        return await self.inner.still_held()

    async def release(self) -> None:
        await self.inner.release()


async def test_campaigns_run_the_work_once_and_hand_over(prefect_trio_settings: Settings) -> None:
    database = Database(prefect_trio_settings)
    running: list[str] = []
    log: list[str] = []

    def work(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            running.append(name)
            log.append(name)
            try:
                await trio.sleep_forever()
            finally:
                running.remove(name)

        return run

    campaigns = {name: CountingLeadership(leadership_for(database)) for name in ("a", "b")}
    scopes = {name: trio.CancelScope() for name in campaigns}
    try:
        async with trio.open_nursery() as nursery:
            for name, leadership in campaigns.items():

                async def campaign(name: str = name, leadership: Leadership = leadership) -> None:
                    with scopes[name]:
                        await while_leader(leadership, work(name), retry_interval=0.02)

                nursery.start_soon(campaign)
            await wait_until(lambda: len(running) == 1)
            leader = running[0]
            follower = "b" if leader == "a" else "a"
            # The follower keeps campaigning, and keeps losing.
            seen = campaigns[follower].attempts
            await wait_until(lambda: campaigns[follower].attempts >= seen + 3)
            assert running == [leader]

            scopes[leader].cancel()
            await wait_until(lambda: running == [follower])
            assert log == [leader, follower]
            nursery.cancel_scope.cancel()
    finally:
        database.dispose()


async def test_a_dropped_postgres_connection_ends_the_leadership(postgres_url: str) -> None:
    leadership = AdvisoryLockLeadership(postgres_url)
    other = AdvisoryLockLeadership(postgres_url)
    admin = create_engine(postgres_url)
    try:
        assert await leadership.try_acquire()
        assert not await other.try_acquire()
        with admin.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted"
                )
            )
        assert not await leadership.still_held()
        assert await other.try_acquire()
    finally:
        await leadership.release()
        await other.release()
        admin.dispose()
