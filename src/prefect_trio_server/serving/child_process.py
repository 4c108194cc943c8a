"""The child process behind ``SubprocessASGIServer``: socket, launch, supervision, reaping.

``listen`` binds the port in the parent; ``spawn`` starts the server with that socket and
the read end of a pipe the parent keeps open (the child exits when it reaches end of file,
so it never outlives the parent); ``Child`` waits for, signals and reaps the child and its
process group, and keeps the tail of its output for error messages. Only the standard
library is imported here, so the manager stays cheap to import.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import tempfile
import time
from typing import IO

HOST = "127.0.0.1"
LISTEN_BACKLOG = 1024
OUTPUT_TAIL_LINES = 40
HEALTH_PATH = "/api/health"
# A health probe waits this long for its answer before it tries a new connection...
PROBE_ATTEMPT_SECONDS = 5.0
# ... and meanwhile looks this often whether the child is still alive.
PROBE_WATCH_SECONDS = 0.05


def listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:port, or OSError."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def health_request(port: int) -> bytes:
    """``GET /api/health`` for a server on 127.0.0.1:port, one request per connection."""
    return (
        f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def response_status(head: bytes) -> int | None:
    """The status code of an HTTP/1.1 response that starts with ``head`` (None if garbled)."""
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def probe_health(port: int, child: Child, deadline: float) -> int | None:
    """One ``GET /api/health`` on a new connection: the status code, or None.

    The listening socket exists before the child starts, so the connection is taken at once
    (into the kernel's backlog) and the answer comes as soon as the server serves: no
    polling interval to wait out. None when the connection is refused or reset, when the
    child exits, or when neither answer nor exit came in ``PROBE_ATTEMPT_SECONDS`` or by
    ``deadline`` (``time.monotonic()``).
    """
    give_up = min(deadline, time.monotonic() + PROBE_ATTEMPT_SECONDS)
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(health_request(port))
            head = b""
            while b"\r\n" not in head:
                remaining = give_up - time.monotonic()
                if remaining <= 0 or child.has_exited():
                    return None
                readable, _, _ = select.select([sock], [], [], min(remaining, PROBE_WATCH_SECONDS))
                if readable:
                    data = sock.recv(4096)
                    if not data:
                        return None
                    head += data
    except OSError:
        return None
    return response_status(head)


class Child:
    """One launched child and what the parent holds for it: the pipe's write end, the output.

    "Exited" below means exited but not yet reaped: the pid (and so the process group id)
    stays reserved until ``_reap``, so signalling the group can never hit another process.
    """

    def __init__(self, popen: subprocess.Popen[bytes], output: IO[bytes], pipe_write: int):
        self.popen = popen
        self.output = output
        self.pipe_write: int | None = pipe_write

    @property
    def pid(self) -> int:
        return self.popen.pid

    def has_exited(self) -> bool:
        if self.popen.returncode is not None:
            return True
        if not hasattr(os, "waitid"):  # macOS: reap now, and lose the group's leftovers
            return self.popen.poll() is not None
        try:
            status = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped behind our back
            self.popen.poll()
            return True
        return status is not None

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.popen.returncode is not None:
            return  # reaped: the group id is no longer ours to signal
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _reap(self) -> int:
        self._signal_group(signal.SIGKILL)  # anything the child left in its group
        return self.popen.wait()

    def wait_exited_blocking(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            pidfd = None
        try:
            delay = 0.005
            while not self.has_exited():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if pidfd is not None:
                    select.select([pidfd], [], [], remaining)
                else:
                    time.sleep(min(delay, remaining))
                    delay = min(delay * 2, 0.05)
            return True
        finally:
            if pidfd is not None:
                os.close(pidfd)

    async def wait_exited(self) -> None:
        import trio

        if self.has_exited():
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        except (AttributeError, OSError):
            delay = 0.005
            while not self.has_exited():
                await trio.sleep(delay)
                delay = min(delay * 2, 0.05)
            return
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            trio.lowlevel.notify_closing(pidfd)
            os.close(pidfd)

    def terminate_blocking(self, grace: float) -> int:
        """SIGTERM the group, wait ``grace`` seconds, SIGKILL the group; reap. Exit code."""
        if not self.has_exited():
            self._signal_group(signal.SIGTERM)
            if not self.wait_exited_blocking(grace):
                self._signal_group(signal.SIGKILL)
                self.wait_exited_blocking(60.0)
        return self._reap()

    async def terminate(self, grace: float) -> int:
        """``terminate_blocking`` for trio; shielded from cancellation."""
        import trio

        with trio.CancelScope(shield=True):
            if not self.has_exited():
                self._signal_group(signal.SIGTERM)
                with trio.move_on_after(grace):
                    await self.wait_exited()
                if not self.has_exited():
                    self._signal_group(signal.SIGKILL)
                    await self.wait_exited()
        return self._reap()

    def output_tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        if self.output.closed:
            return ""
        fd = self.output.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 64 * 1024)
        text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        if self.pipe_write is not None:
            os.close(self.pipe_write)
            self.pipe_write = None
        self.output.close()


def spawn(listener: socket.socket, command: list[str], env: dict[str, str]) -> Child:
    """Start the child with the listening socket and a pipe's read end; close the parent's
    copies of both (whatever happens). The pipe's write end and the output file go to the
    returned ``Child``; if the spawn fails they are closed."""
    pipe_read = pipe_write = -1
    output: IO[bytes] | None = None
    try:
        pipe_read, pipe_write = os.pipe()  # both non-inheritable; pass_fds hands one on
        output = tempfile.TemporaryFile(prefix="prefect-trio-server-")  # noqa: SIM115
        fd = listener.fileno()
        popen = subprocess.Popen(
            [*command, "--fd", str(fd), "--parent-pipe", str(pipe_read)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(fd, pipe_read),
            start_new_session=True,
        )
    except BaseException:
        if pipe_write >= 0:
            os.close(pipe_write)
        if output is not None:
            output.close()
        raise
    finally:
        listener.close()
        if pipe_read >= 0:
            os.close(pipe_read)
    return Child(popen, output, pipe_write)
