"""What makes a start cheap: the collector's start-up mode, the forked migration, the probe."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import prefect_trio_server
from prefect_trio_server.serving import forked
from prefect_trio_server.serving.child_process import (
    health_request,
    listen,
    probe_health,
    response_status,
)
from prefect_trio_server.serving.startup_gc import pause_old_collections
from processes import environment

SRC = str(Path(prefect_trio_server.__file__).resolve().parent.parent)


# -- the collector -------------------------------------------------------------------------
@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_start_up_keeps_only_young_collections_then_freezes(restored_gc: None) -> None:
    before = gc.get_threshold()
    resume = pause_old_collections()
    paused = gc.get_threshold()
    assert paused[0] == before[0]
    assert paused[1] > 10**6
    assert paused[2] > 10**6
    resume()
    assert gc.get_threshold() == before
    frozen = gc.get_freeze_count()
    assert frozen > 0
    resume()  # once only
    assert gc.get_freeze_count() == frozen


# -- the forked call -----------------------------------------------------------------------
def _fail(message: str) -> None:
    raise ValueError(message)


class _Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def _fail_unpicklably() -> None:
    raise _Unpicklable("not", "picklable")


def needs_fork() -> None:
    if not forked.can_fork():  # other threads run in this test process by now
        pytest.skip("forks only on Linux, with one thread")


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a new interpreter (one thread: it may fork), on Linux only."""
    if not sys.platform.startswith("linux"):
        pytest.skip("forks only on Linux")
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment(Path("."), PYTHONPATH=SRC),
        timeout=60,
    )


def test_what_the_child_imports_stays_out_of_the_parent() -> None:
    code = (
        "import sys\n"
        "from prefect_trio_server.serving import forked\n"
        "assert forked.can_fork()\n"
        "forked.call_in_child(__import__, 'xml.dom.minidom')\n"
        "print('xml.dom.minidom' in sys.modules)\n"
    )
    out = _fresh_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_started_child_works_while_this_process_goes_on() -> None:
    """``start_in_child`` returns at once: the child waits for a byte only the parent sends
    after it returned (at most 10 s, then the child fails and ``wait`` says so)."""
    code = (
        "import os, select\n"
        "from prefect_trio_server.serving import forked\n"
        "def wait_for_parent(fd):\n"
        "    ready, _, _ = select.select([fd], [], [], 10)\n"
        "    if not ready: raise TimeoutError('the parent never wrote')\n"
        "    assert os.read(fd, 1) == b'x'\n"
        "def fail():\n"
        "    raise ValueError('later')\n"
        "assert forked.can_fork()\n"
        "read_end, write_end = os.pipe()\n"
        "call = forked.start_in_child(wait_for_parent, read_end)\n"
        "os.write(write_end, b'x')\n"
        "call.wait()\n"
        "call.wait()\n"
        "failing = forked.start_in_child(fail)\n"
        "try:\n"
        "    failing.wait()\n"
        "except ValueError as exc:\n"
        "    print('raised', exc)\n"
    )
    out = _fresh_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "raised later"


def test_the_childs_exception_is_raised_here() -> None:
    with pytest.raises(ValueError, match="from the child"):
        forked.call_in_child(_fail, "from the child")


def test_an_exception_that_cannot_be_pickled_arrives_as_its_traceback() -> None:
    needs_fork()
    with pytest.raises(RuntimeError, match="_Unpicklable: not picklable"):
        forked.call_in_child(_fail_unpicklably)


def test_without_fork_the_call_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    with pytest.raises(ValueError, match="here"):
        forked.call_in_child(_fail, "here")


@pytest.mark.slow
def test_preflight_migrates_a_new_database_without_loading_alembic(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from prefect_trio_server.cli import preflight\n"
        "from prefect_trio_server.database import Database\n"
        "from prefect_trio_server.database.migrate import is_current\n"
        "from prefect_trio_server.settings import Settings\n"
        "settings = Settings()\n"
        "preflight(settings)\n"
        "database = Database(settings)\n"
        "print(is_current(database), 'alembic' in sys.modules)\n"
        "database.dispose()\n"
    )
    env = environment(tmp_path, PYTHONPATH=SRC)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["True", "False"]


# -- the health probe ----------------------------------------------------------------------
class _FakeChild:
    """Counts the probe's checks on it; exits at check number ``exits_at``, if given."""

    def __init__(self, exits_at: int | None = None, waiting_after: int = 2) -> None:
        self.checks = 0
        self.exits_at = exits_at
        self.waiting_after = waiting_after
        self.probe_waiting = threading.Event()

    def has_exited(self) -> bool:
        self.checks += 1
        if self.checks >= self.waiting_after:
            # The probe checks after sending its request, then once per wait for the answer.
            self.probe_waiting.set()
        return self.exits_at is not None and self.checks >= self.exits_at


def test_response_status() -> None:
    assert response_status(b"HTTP/1.1 200 \r\n") == 200
    assert response_status(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1") == 503
    assert response_status(b"garbage\r\n") is None
    assert response_status(b"") is None
    assert health_request(8123).startswith(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:8123")


def test_the_probe_waits_in_the_backlog_for_a_late_server() -> None:
    listener = listen(0)
    port = listener.getsockname()[1]
    requests: list[bytes] = []
    child = _FakeChild()

    def serve_late() -> None:
        # Accept only once the probe has sent its request and waited for an answer.
        assert child.probe_waiting.wait(timeout=30)
        connection, _ = listener.accept()
        with connection:
            requests.append(connection.recv(4096))
            connection.sendall(b"HTTP/1.1 200 \r\ncontent-length: 4\r\n\r\ntrue")

    server = threading.Thread(target=serve_late)
    server.start()
    try:
        status = probe_health(port, child, time.monotonic() + 30)  # type: ignore[arg-type]
    finally:
        server.join()
        listener.close()
    assert status == 200
    assert requests[0].startswith(b"GET /api/health HTTP/1.1\r\n")


def test_the_probe_gives_up_when_the_child_exits() -> None:
    listener = listen(0)  # never accepts
    port = listener.getsockname()[1]
    child = _FakeChild(exits_at=3)
    deadline = time.monotonic() + 60
    try:
        assert probe_health(port, child, deadline) is None  # type: ignore[arg-type]
        assert child.checks == 3  # it gave up on the exit, not on the deadline
    finally:
        listener.close()


def test_the_probe_reports_a_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        assert probe_health(port, _FakeChild(), time.monotonic() + 5) is None  # type: ignore[arg-type]
