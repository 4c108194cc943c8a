"""The keep-alive timeout: one task per connection, its deadline moved by idle and busy."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import trio
import trio.testing
from trio_websocket import open_websocket_url

from prefect_trio_server.serving.idle_timeout import IdleTimeout
from prefect_trio_server.serving.serve import serve
from prefect_trio_server.settings import Settings

TIMEOUT = 5.0


class Watched:
    """An ``IdleTimeout`` in a nursery, with the times its close ran."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.closed_at: list[float] = []
        self.terminated = trio.Event()
        self.timeout = IdleTimeout(TIMEOUT, self.terminated.wait, self._close)
        self.task_group = SimpleNamespace(_nursery=nursery)

    async def _close(self) -> None:
        await trio.lowlevel.checkpoint()
        self.closed_at.append(trio.current_time())

    async def idle(self) -> None:
        await self.timeout.restart(self.task_group, None)

    async def busy(self) -> None:
        await self.timeout.stop()


async def test_an_idle_connection_is_closed_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        start = trio.current_time()
        await watched.idle()
    assert watched.closed_at == [start + TIMEOUT]


async def test_a_busy_connection_is_never_closed_and_idle_restarts_the_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        await watched.idle()
        await trio.sleep(TIMEOUT - 1)
        await watched.busy()
        await trio.sleep(10 * TIMEOUT)  # a long request
        assert watched.closed_at == []
        again = trio.current_time()
        await watched.idle()
    assert watched.closed_at == [again + TIMEOUT]


async def test_termination_closes_an_idle_connection_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        await watched.idle()
        await trio.sleep(1)
        watched.terminated.set()
        now = trio.current_time()
    assert watched.closed_at == [now]


async def test_termination_lets_a_busy_connection_finish_its_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        await watched.idle()
        await watched.busy()
        watched.terminated.set()
        await trio.sleep(3 * TIMEOUT)
        assert watched.closed_at == []
        done = trio.current_time()
        await watched.idle()
    assert watched.closed_at == [done]


async def test_one_task_for_the_connections_life(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        for _ in range(100):
            await watched.idle()
            await watched.busy()
        await trio.testing.wait_all_tasks_blocked()
        assert len(nursery.child_tasks) == 1
        await watched.idle()
    assert len(watched.closed_at) == 1


async def test_a_closed_connection_ends_its_task_without_closing_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        watched = Watched(nursery)
        await watched.idle()
        await watched.busy()  # as a websocket, or a request cut off by the client
        watched.timeout.finish()
    assert watched.closed_at == []


# -- on a real server ------------------------------------------------------------------------


async def _three_requests(url: str) -> trio.SocketStream:
    """A raw keep-alive connection that has had three answers (one after another)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    request = f"GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    for _ in range(3):
        await stream.send_all(request)
        received = b""
        while b"true" not in received:
            received += await stream.receive_some()
        assert received.startswith(b"HTTP/1.1 200")
    return stream


async def _closed_by_the_server(stream: trio.SocketStream) -> None:
    while await stream.receive_some():
        pass


async def test_a_real_server_closes_a_connection_left_idle(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", ui_enabled=False, port=0, keep_alive_timeout=0.5)
    async with trio.open_nursery() as nursery:

        async def run(task_status: trio.TaskStatus[list[str]]) -> None:
            await serve(settings, task_status=task_status, shutdown_trigger=trio.sleep_forever)

        urls: list[str] = await nursery.start(run)
        with trio.fail_after(20):
            async with await _three_requests(urls[0]) as stream:
                await _closed_by_the_server(stream)
        nursery.cancel_scope.cancel()


async def test_shutdown_closes_an_idle_keep_alive_connection(tmp_path: Path) -> None:
    # A keep-alive timeout far beyond the test: only the shutdown can close the connection.
    settings = Settings(home=tmp_path / "home", ui_enabled=False, port=0, keep_alive_timeout=3600)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:

        async def run(task_status: trio.TaskStatus[list[str]]) -> None:
            await serve(settings, task_status=task_status, shutdown_trigger=stop.wait)

        urls: list[str] = await nursery.start(run)
        with trio.fail_after(20):
            async with await _three_requests(urls[0]) as stream:
                stop.set()
                await _closed_by_the_server(stream)


async def test_shutdown_does_not_wait_for_connections_the_clients_closed(tmp_path: Path) -> None:
    # A long graceful timeout: a connection task left behind would hold the shutdown for it.
    settings = Settings(
        home=tmp_path / "home",
        ui_enabled=False,
        port=0,
        keep_alive_timeout=3600,
        graceful_timeout=600,
    )
    stop = trio.Event()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:

            async def run(task_status: trio.TaskStatus[list[str]]) -> None:
                await serve(settings, task_status=task_status, shutdown_trigger=stop.wait)

            urls: list[str] = await nursery.start(run)
            stream = await _three_requests(urls[0])
            await stream.aclose()
            # A websocket's connection never goes idle again: it is busy when it closes.
            ws_url = urls[0].replace("http", "ws", 1) + "/api/events/in"
            async with open_websocket_url(ws_url, subprotocols=["prefect"]) as ws:
                await ws.send_message(json.dumps({"type": "auth", "token": None}))
                assert json.loads(await ws.get_message())["type"] == "auth_success"
            stop.set()
