"""RequestLimitMiddleware: a trio CapacityLimiter, bounded waits, scopes passed through."""

import anyio
import httpx
import pytest
import trio
import trio.testing
from starlette.types import Receive, Scope, Send

from prefect_trio_server.server import RequestLimitMiddleware


class Gate:
    """An ASGI app whose requests park until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.running = 0
        self.most = 0
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope["type"])
        if scope["type"] != "http":
            return
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if scope["path"] != "/health":
                await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            self.running -= 1


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_limiter_is_a_trio_capacity_limiter_underneath():
    middleware = RequestLimitMiddleware(Gate(), limit=3)
    limiter = middleware.limiter
    assert isinstance(limiter, anyio.CapacityLimiter)
    # anyio's trio backend wraps a real trio.CapacityLimiter and delegates to it.
    assert type(limiter).__module__ == "anyio._backends._trio"
    original = limiter._CapacityLimiter__original  # type: ignore[attr-defined]
    assert isinstance(original, trio.CapacityLimiter)
    async with limiter:
        assert original.borrowed_tokens == 1
    assert original.total_tokens == 3


async def test_caps_concurrent_requests():
    gate = Gate()
    app = RequestLimitMiddleware(gate, limit=2)
    statuses: list[int] = []
    async with client(app) as http, trio.open_nursery() as nursery:
        for _ in range(5):

            async def one() -> None:
                statuses.append((await http.get("/work")).status_code)

            nursery.start_soon(one)
        await trio.testing.wait_all_tasks_blocked()
        assert gate.running == 2
        gate.release.set()
    assert statuses == [200] * 5
    assert gate.most == 2


async def test_waiting_past_the_timeout_gives_503_with_retry_after(autojump_clock):
    gate = Gate()
    app = RequestLimitMiddleware(gate, limit=1, timeout=2.0, retry_after=3)
    async with client(app) as http, trio.open_nursery() as nursery:
        nursery.start_soon(http.get, "/slow")
        await trio.testing.wait_all_tasks_blocked()
        started = trio.current_time()
        response = await http.get("/second")
        assert trio.current_time() - started == pytest.approx(2.0)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
        assert "exception_message" in response.json()
        gate.release.set()


async def test_exempt_paths_never_wait():
    gate = Gate()
    app = RequestLimitMiddleware(gate, limit=1, exempt_paths=["/health"])
    async with client(app) as http, trio.open_nursery() as nursery:
        nursery.start_soon(http.get, "/slow")
        await trio.testing.wait_all_tasks_blocked()
        assert (await http.get("/health")).status_code == 200
        gate.release.set()


async def test_a_slow_request_is_not_cut_by_the_wait_timeout(autojump_clock):
    gate = Gate()
    app = RequestLimitMiddleware(gate, limit=1, timeout=1.0)
    async with client(app) as http, trio.open_nursery() as nursery:

        async def release_later() -> None:
            await trio.sleep(10)  # virtual time: autojump_clock
            gate.release.set()

        nursery.start_soon(release_later)
        assert (await http.get("/slow")).status_code == 200


async def test_websocket_and_lifespan_scopes_pass_without_a_slot():
    gate = Gate()
    app = RequestLimitMiddleware(gate, limit=1)
    await app.limiter.acquire()  # the only slot is taken
    try:
        for kind in ("websocket", "lifespan"):
            with trio.fail_after(1):
                await app({"type": kind, "path": "/ws"}, _never, _discard)
    finally:
        app.limiter.release()
    assert gate.seen == ["websocket", "lifespan"]


async def _never():  # pragma: no cover - never called by the gate for these scopes
    await trio.sleep_forever()


async def _discard(message):  # pragma: no cover
    pass


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_invalid_limits_are_refused(limit):
    with pytest.raises(ValueError, match="limit"):
        RequestLimitMiddleware(Gate(), limit=limit)


def test_invalid_timeout_is_refused():
    with pytest.raises(ValueError, match="timeout"):
        RequestLimitMiddleware(Gate(), limit=1, timeout=0)
