"""Run one blocking call in a forked child, so that what it imports never loads here.

The command line migrates a new database this way: Alembic, Mako and Pygments take about
9 MiB that the server would otherwise keep for its whole life, for a job done once. The child
is a copy of this process (nothing to import again) and reports back through a pipe: the
call's exception, re-raised here as it was (or as a RuntimeError carrying its traceback when
it cannot be pickled). Where ``fork`` is missing or unsafe (not Linux, or other threads
running), the call runs in this process. :func:`start_in_child` lets this process go on (say,
importing the server) while the child works, up to ``wait()``.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    return sys.platform.startswith("linux") and threading.active_count() == 1


def call_in_child(function: Callable[..., Any], *args: Any) -> None:
    """``function(*args)`` in a forked child; its exception, if any, is raised here."""
    start_in_child(function, *args).wait()


class ChildCall:
    """A call running in a forked child (or already done here, where forking is not safe)."""

    def __init__(self, pid: int | None, read_end: int | None) -> None:
        self._pid = pid
        self._read_end = read_end

    def wait(self) -> None:
        """Until the call has ended; its exception, if any, is raised here."""
        pid, read_end = self._pid, self._read_end
        if pid is None or read_end is None:
            return
        self._pid = self._read_end = None
        try:
            report = _read_all(read_end)
            _, status = os.waitpid(pid, 0)
        except BaseException:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            raise
        finally:
            os.close(read_end)
        if report:
            raise _unpickle(report)
        if status != 0:
            raise RuntimeError(f"the forked child ended with wait status {status} and no report")


def start_in_child(function: Callable[..., Any], *args: Any) -> ChildCall:
    """Start ``function(*args)`` in a forked child and return at once; ``wait()`` for it.

    Where forking is not safe the call runs here, before this returns.
    """
    if not can_fork():
        function(*args)
        return ChildCall(None, None)
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(write_end, function, args)
    os.close(write_end)
    return ChildCall(pid, read_end)


def _child(write_end: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    code = 0
    try:
        try:
            function(*args)
        except BaseException as exc:  # reported to the parent, whatever it is
            code = 1
            report = memoryview(_pickle(exc))
            while report:
                report = report[os.write(write_end, report) :]
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _pickle(exc: BaseException) -> bytes:
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
    except Exception:
        text = "".join(traceback.format_exception(exc)).rstrip()
        data = pickle.dumps(RuntimeError(text))
    return data


def _unpickle(data: bytes) -> BaseException:
    error = pickle.loads(data)
    assert isinstance(error, BaseException)
    return error


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
