"""SubprocessASGIServer: real child processes, real sockets, every way to run one."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

import prefect_trio_server
from prefect_trio_server.settings import Settings
from prefect_trio_server.subprocess_server import SubprocessASGIServer, _clear_instances

SRC = str(Path(prefect_trio_server.__file__).resolve().parent.parent)
slow = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_cached_servers() -> Iterator[None]:
    _clear_instances()
    yield
    _clear_instances()


def _settings(home: Path, **overrides: object) -> Settings:
    return Settings(home=home, **overrides)  # type: ignore[arg-type]


def _wait_gone(pid: int, timeout: float = 30.0) -> bool:
    """Wait until ``pid`` has exited (reaped, or a zombie of someone else), with a deadline."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)


def _pid(server: SubprocessASGIServer) -> int:
    process = server.server_process
    assert process is not None
    return process.pid


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def _free_ports(count: int) -> list[int]:
    finder = SubprocessASGIServer()
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(finder.find_available_port())
    _clear_instances()
    return sorted(ports)


# -- the synchronous API -------------------------------------------------------------------
@slow
def test_start_serves_health_and_stop_ends_the_process(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    server.start()
    assert server.running
    assert server.api_url == f"http://127.0.0.1:{server.port}/api"
    assert httpx.get(f"{server.api_url}/health", trust_env=False).status_code == 200
    pid = _pid(server)
    server.stop()
    assert not server.running
    assert server.server_process is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: neither running nor a zombie
    assert server.port is not None
    assert _refuses(server.port)
    server.stop()  # a second stop is harmless
    assert SubprocessASGIServer() is not server  # stop() forgot the instance


@slow
def test_start_is_idempotent(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    try:
        server.start()
        pid, port = _pid(server), server.port
        server.start()
        assert (_pid(server), server.port) == (pid, port)
    finally:
        server.stop()


@slow
def test_with_block_starts_and_stops(tmp_path: Path) -> None:
    with SubprocessASGIServer(settings=_settings(tmp_path)) as server:
        assert httpx.get(f"{server.api_url}/health", trust_env=False).status_code == 200
        pid = _pid(server)
    assert _wait_gone(pid, 0)


@slow
def test_an_explicit_port_in_use_fails_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = SubprocessASGIServer(port, settings=_settings(tmp_path))
        with pytest.raises(RuntimeError, match=rf"Port {port} is already in use"):
            server.start()
        assert server.server_process is None


@slow
def test_a_child_that_fails_at_start_reports_its_code_and_output(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path, database_connection_url="mysql://x"))
    with pytest.raises(RuntimeError) as info:
        server.start()
    message = str(info.value)
    assert "exit code 2" in message
    assert "unsupported driver 'mysql'" in message
    assert server.server_process is None


@slow
def test_startup_timeout_stops_the_child(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    with pytest.raises(RuntimeError, match=r"Timed out after 0\.001 s .*exit code None"):
        server.start(timeout=0.001)
    assert server.server_process is None
    assert server.port is not None
    assert server.is_port_available(server.port)


NEVER_HEALTHY = (
    "import os, sys; print('not a server, pid', os.getpid(), flush=True); "
    "os.read(int(sys.argv[4]), 1)"
)


@slow
def test_timeout_error_shows_the_output_of_a_child_that_never_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    monkeypatch.setattr(
        server,
        "_child_command",
        lambda: [sys.executable, "-c", NEVER_HEALTHY],
    )
    with pytest.raises(RuntimeError, match=r"Timed out after 0\.5 s") as info:
        server.start(timeout=0.5)
    message = str(info.value)
    assert "exit code None" in message
    line = next(line for line in message.splitlines() if line.startswith("not a server"))
    assert _wait_gone(int(line.split()[-1]), 0)


# Answers 200 to anything, ignores SIGTERM and leaves a grandchild that also ignores it.
STUBBORN_SERVER = """
import signal, socket, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
code = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.pause()"
grandchild = subprocess.Popen([sys.executable, "-c", code])
print("grandchild", grandchild.pid, flush=True)
listener = socket.socket(fileno=int(sys.argv[2]))
reply = b"HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\nconnection: close\\r\\n\\r\\n"
while True:
    connection, _ = listener.accept()
    connection.recv(65536)
    connection.sendall(reply)
    connection.close()
"""


@slow
def test_stop_kills_a_stubborn_child_and_everything_in_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    monkeypatch.setattr(
        server,
        "_child_command",
        lambda: [sys.executable, "-c", STUBBORN_SERVER],
    )
    monkeypatch.setattr(server, "_stop_grace_seconds", 0.2)
    server.start()
    process = server.server_process
    assert process is not None
    assert server._child is not None
    grandchild = int(server._child.output_tail().split()[-1])
    server.stop()
    assert process.returncode == -signal.SIGKILL
    assert _wait_gone(grandchild)


def test_one_instance_per_port() -> None:
    assert SubprocessASGIServer(8123) is SubprocessASGIServer(8123)
    assert SubprocessASGIServer() is SubprocessASGIServer()
    assert SubprocessASGIServer(8123) is not SubprocessASGIServer(8124)
    assert SubprocessASGIServer(8123) is not SubprocessASGIServer()
    first = SubprocessASGIServer(8123)
    _clear_instances()
    assert SubprocessASGIServer(8123) is not first
    assert SubprocessASGIServer(8123).address == "http://127.0.0.1:8123"
    assert SubprocessASGIServer(8123).api_url == "http://127.0.0.1:8123/api"


def test_is_port_available() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not SubprocessASGIServer.is_port_available(port)
    assert SubprocessASGIServer.is_port_available(port)


def test_find_available_port_is_free_and_in_range() -> None:
    port = SubprocessASGIServer().find_available_port()
    assert 8000 <= port <= 8999
    assert SubprocessASGIServer.is_port_available(port)


def test_find_available_port_gives_up_after_ten_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []

    def taken(port: int) -> bool:
        tried.append(port)
        return False

    monkeypatch.setattr(SubprocessASGIServer, "is_port_available", staticmethod(taken))
    with pytest.raises(RuntimeError, match="No free port"):
        SubprocessASGIServer().find_available_port()
    assert len(tried) == 10


PARENT_SCRIPT = """
import json, sys
from prefect_trio_server.settings import Settings
from prefect_trio_server.subprocess_server import SubprocessASGIServer
server = SubprocessASGIServer(settings=Settings(home=sys.argv[1]))
server.start()
print(json.dumps({"pid": server.server_process.pid, "port": server.port}), flush=True)
sys.stdin.read()
"""


@slow
def test_the_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert parent.stdout is not None
    server_pid = None
    try:
        readable, _, _ = select.select([parent.stdout], [], [], 60)
        assert readable, "the parent script did not start its server"
        started = json.loads(parent.stdout.readline())
        server_pid, port = started["pid"], started["port"]
        assert not _refuses(port)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_gone(server_pid), "the child server outlived its parent"
        assert _refuses(port)
    finally:
        parent.kill()
        parent.wait()
        if server_pid is not None and not _wait_gone(server_pid, 0):
            os.killpg(server_pid, signal.SIGKILL)


def test_importing_the_module_stays_cheap() -> None:
    heavy = (
        "fastapi",
        "sqlalchemy",
        "hypercorn",
        "prefect_trio_server.server",
        "httpx",
        "trio",
        "pydantic",
    )
    code = (
        "import sys, prefect_trio_server.subprocess_server; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=SRC),
    )
    assert out.stdout.strip() == "[]"


# -- the trio API --------------------------------------------------------------------------
async def _health(api_url: str) -> int:
    async with httpx.AsyncClient(trust_env=False) as client:
        return (await client.get(f"{api_url}/health")).status_code


@slow
async def test_async_with_block(tmp_path: Path) -> None:
    async with SubprocessASGIServer(settings=_settings(tmp_path)) as server:
        assert await _health(server.api_url) == 200
        pid = _pid(server)
    assert _wait_gone(pid, 0)
    assert server.server_process is None


@slow
async def test_serve_in_a_nursery_until_cancelled(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    async with trio.open_nursery() as nursery:
        api_url = await nursery.start(server.serve)
        assert api_url == server.api_url
        assert await _health(api_url) == 200
        pid = _pid(server)
        nursery.cancel_scope.cancel()
    assert _wait_gone(pid, 0)
    assert server.server_process is None


@slow
async def test_serve_raises_when_the_child_dies(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="exited on its own")):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            os.kill(_pid(server), signal.SIGKILL)
    assert server.server_process is None


@slow
async def test_two_servers_at_once(tmp_path: Path) -> None:
    first_port, second_port = _free_ports(2)
    servers = [
        SubprocessASGIServer(first_port, settings=_settings(tmp_path / "a")),
        SubprocessASGIServer(second_port, settings=_settings(tmp_path / "b")),
    ]
    urls: list[str] = []
    async with trio.open_nursery() as outer:

        async def launch(server: SubprocessASGIServer) -> None:
            urls.append(await outer.start(server.serve))

        async with trio.open_nursery() as starting:
            for server in servers:
                starting.start_soon(launch, server)
        assert sorted(urls) == sorted(server.api_url for server in servers)
        assert len({_pid(server) for server in servers}) == 2
        for url in urls:
            assert await _health(url) == 200
        outer.cancel_scope.cancel()
    assert all(server.server_process is None for server in servers)


@slow
async def test_async_startup_failure_reports_the_child_output(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path, database_connection_url="mysql://x"))
    with pytest.raises(RuntimeError, match=r"exit code 2[\s\S]*unsupported driver"):
        await server.astart()
    with pytest.raises(RuntimeError, match=r"Timed out after 0\.001 s"):
        await SubprocessASGIServer(settings=_settings(tmp_path)).astart(timeout=0.001)


async def test_the_blocking_start_refuses_to_run_inside_trio(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    with pytest.raises(RuntimeError, match="async with SubprocessASGIServer"):
        server.start()
    assert server.server_process is None


@slow
async def test_the_blocking_api_works_from_a_thread_beside_a_trio_loop(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    await trio.to_thread.run_sync(server.start)
    try:
        assert await _health(server.api_url) == 200
        pid = _pid(server)
    finally:
        await trio.to_thread.run_sync(server.stop)
    assert _wait_gone(pid, 0)


@slow
def test_a_stopped_server_starts_again_on_the_same_database(tmp_path: Path) -> None:
    server = SubprocessASGIServer(settings=_settings(tmp_path))
    server.start()
    server.stop()
    server.start()
    try:
        assert httpx.get(f"{server.api_url}/health", trust_env=False).status_code == 200
    finally:
        server.stop()
