"""``SubprocessASGIServer``: a server in a child process, for clients that need a real socket.

Synchronous API (Prefect's shape): ``start()``, ``stop()``, ``with SubprocessASGIServer() as
s:``. Trio API: ``async with SubprocessASGIServer() as s:``, ``await server.astart()`` /
``await server.astop()``, and ``api_url = await nursery.start(server.serve)``.

How a child is run (POSIX only):

* The parent binds and listens on ``127.0.0.1:port`` itself and hands the listening socket
  to the child (``start --fd N``), so no other process can take the port between choosing
  and serving it. An explicit port that cannot be bound fails at once.
* The parent keeps the write end of a pipe whose read end the child watches
  (``--parent-pipe M``). However the parent ends, even by SIGKILL, the kernel closes the
  write end and the child shuts down. Nothing else inherits the write end.
* The child leads its own session (process group); stopping sends SIGTERM to the group,
  waits ``_stop_grace_seconds``, sends SIGKILL to whatever is left of the group, and reaps
  the child: no zombie, no orphan.
* The child's stdout and stderr go to an unnamed temporary file, which can never fill up and
  block it; the last lines go into the error when the child fails to start.
* Startup is polled with ``GET {api_url}/health`` against a monotonic deadline
  (``timeout``, else ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``).

Children are plain ``subprocess.Popen`` objects in both APIs: the trio side waits for them
through a pidfd (``trio.lowlevel.wait_readable``), so that a child started from trio can still
be stopped from any thread or at interpreter exit.

Startup is noticed at once: the parent's health probe connects into the listening socket's
backlog before the child serves, and its answer arrives when the child does (a raw HTTP/1.1
request: the parent loads no HTTP client).

Importing this module is cheap: the settings and trio load only when a server starts.
"""

from __future__ import annotations

import atexit
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

if TYPE_CHECKING:
    import trio

    from .settings import Settings

from .serving.child_process import (
    HOST,
    OUTPUT_TAIL_LINES,
    Child,
    listen,
    probe_health,
    spawn,
)

__all__ = ["SubprocessASGIServer"]

_Outcome = Literal["healthy", "exited", "timeout"]

DEFAULT_STARTUP_TIMEOUT = 20.0  # Prefect's default for the same setting
# Pause between two health probes that got no 200 (the first probe usually waits for the
# answer itself: see ``probe_health``).
_FIRST_RETRY_DELAY = 0.01
_LAST_RETRY_DELAY = 0.1
PORT_RANGE = range(8000, 9000)
# Settings the child must not take from the parent: the contract serves plain HTTP on /api.
_DROPPED_VARIABLES = ("PREFECT_TRIO_SERVER_TLS_CERTFILE", "PREFECT_TRIO_SERVER_TLS_KEYFILE")

# The one place with module-level state: the instance per requested port (``None`` is the
# port-less instance). ``stop()`` removes an instance; ``_clear_instances()`` stops and
# removes them all (for tests).
_instances: dict[int | None, SubprocessASGIServer] = {}
_instances_lock = threading.Lock()


def _clear_instances() -> None:
    """Stop every cached server and forget them all."""
    with _instances_lock:
        servers = list(_instances.values())
        _instances.clear()
    for server in servers:
        server.stop()


def _environment_startup_timeout() -> float:
    """PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS from the environment (default 20)."""
    name = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_STARTUP_TIMEOUT
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None


def _in_trio_run() -> bool:
    trio_module = sys.modules.get("trio")
    return trio_module is not None and bool(trio_module.lowlevel.in_trio_run())


class _IgnoredStatus:
    """``task_status`` when ``serve`` is awaited directly (trio loads lazily)."""

    def started(self, value: object = None) -> None:
        pass


_STATUS_IGNORED = _IgnoredStatus()


class SubprocessASGIServer:
    """A prefect-trio-server in a child process on 127.0.0.1, one instance per port.

    ``SubprocessASGIServer(port)`` returns the existing instance for that port (the
    port-less instance is shared too) until ``stop()`` forgets it. ``settings`` (default:
    ``Settings()`` read from the environment at start) and ``environment`` (extra variables)
    configure the child; given again to an existing instance that is not running, they
    replace the previous ones, and they are ignored while it runs.
    """

    _port_range = PORT_RANGE
    # Seconds between SIGTERM and SIGKILL in stop().
    _stop_grace_seconds: float = 5.0
    _initialized: bool

    def __new__(
        cls,
        port: int | None = None,
        *,
        settings: Settings | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Self:
        with _instances_lock:
            instance = _instances.get(port)
            if not isinstance(instance, cls):
                instance = super().__new__(cls)
                instance._initialized = False
                _instances[port] = instance
            return instance

    def __init__(
        self,
        port: int | None = None,
        *,
        settings: Settings | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        if not self._initialized:
            self._initialized = True
            self._key = port
            self.port: int | None = port
            self._settings = settings
            self._environment = dict(environment or {})
            self._child: Child | None = None
            self._lock = threading.Lock()
            return
        if self._child is None:
            if settings is not None:
                self._settings = settings
            if environment is not None:
                self._environment = dict(environment)

    # -- the contract's synchronous API -----------------------------------------------------
    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.address}/api"

    @property
    def running(self) -> bool:
        """Whether a child is up (it may have died since the last look)."""
        return self._child is not None and not self._child.has_exited()

    @property
    def server_process(self) -> subprocess.Popen[bytes] | None:
        return None if self._child is None else self._child.popen

    @staticmethod
    def is_port_available(port: int) -> bool:
        """Whether 127.0.0.1:port can be bound (and listened on) right now."""
        try:
            listen(port).close()
        except OSError:
            return False
        return True

    def find_available_port(self) -> int:
        """A random port in 8000-8999 that is free now (10 tries, else RuntimeError).

        Only a probe: ``start()`` keeps the socket it binds instead.
        """
        for _ in range(10):
            port = random.choice(self._port_range)
            if self.is_port_available(port):
                return port
        raise RuntimeError(
            f"No free port found in {self._port_range.start}-{self._port_range.stop - 1}"
        )

    def start(self, timeout: float | None = None) -> None:
        """Start the child and wait until it is healthy; nothing if it already runs."""
        if _in_trio_run():
            raise RuntimeError(
                "SubprocessASGIServer.start() blocks and cannot run inside a trio event loop: "
                "use `async with SubprocessASGIServer() as server:`, "
                "`await server.astart()` or `await nursery.start(server.serve)`"
            )
        with self._lock:
            if self._reuse_running():
                return
            settings = self._resolve_settings()
            seconds = self._timeout(timeout, settings)
            deadline = time.monotonic() + seconds
            child = self._prepare(settings)()
            try:
                outcome = self._poll_health_blocking(child, deadline)
                if outcome != "healthy":
                    still_running = not child.has_exited()
                    code = child.terminate_blocking(self._stop_grace_seconds)
                    raise self._startup_error(outcome, child, code, seconds, still_running)
            except BaseException:
                child.terminate_blocking(self._stop_grace_seconds)  # no-op once reaped
                child.close()
                raise
            self._adopt(child)

    def stop(self) -> None:
        """Stop the child (if any) and forget this instance. Safe to call again."""
        if _in_trio_run():
            if not self._lock.acquire(blocking=False):
                raise RuntimeError(
                    "this server is being started or stopped by a trio task: "
                    "use `await server.astop()`"
                )
        else:
            self._lock.acquire()
        try:
            child, self._child = self._child, None
            if child is not None:
                try:
                    child.terminate_blocking(self._stop_grace_seconds)
                finally:
                    child.close()
            self._forget()
        finally:
            self._lock.release()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the trio API ---------------------------------------------------------------------
    async def astart(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """``start()`` for trio code: the deadline is ``trio.current_time() + timeout``."""
        import trio

        await self._acquire()
        try:
            if self._reuse_running():
                return
            settings = self._resolve_settings()
            seconds = self._timeout(timeout, settings)
            deadline = trio.current_time() + seconds
            child = await trio.to_thread.run_sync(self._prepare(settings))
            try:
                outcome = await self._poll_health(child, deadline)
                if outcome != "healthy":
                    still_running = not child.has_exited()
                    code = await child.terminate(self._stop_grace_seconds)
                    raise self._startup_error(outcome, child, code, seconds, still_running)
            except BaseException:
                await child.terminate(self._stop_grace_seconds)  # no-op once reaped
                child.close()
                raise
            self._adopt(child)
        finally:
            self._lock.release()

    async def astop(self) -> None:
        """``stop()`` for trio code; runs to the end even when cancelled."""
        import trio

        with trio.CancelScope(shield=True):
            await self._acquire()
            try:
                child, self._child = self._child, None
                if child is not None:
                    try:
                        await child.terminate(self._stop_grace_seconds)
                    finally:
                        child.close()
                self._forget()
            finally:
                self._lock.release()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    async def serve(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        task_status: trio.TaskStatus[str] = _STATUS_IGNORED,
    ) -> None:
        """Run the server until cancelled: ``api_url = await nursery.start(server.serve)``.

        Raises RuntimeError (with the child's output) if the child dies on its own.
        """
        await self.astart(timeout)
        try:
            child = self._child
            assert child is not None
            task_status.started(self.api_url)
            await child.wait_exited()
            if self._child is not child:
                return  # stop() was called (from another thread, say)
            code = await child.terminate(0)
            raise RuntimeError(
                f"The server at {self.address} (pid {child.pid}) exited on its own with exit "
                f"code {code}.{self._format_tail(child)}"
            )
        finally:
            await self.astop()

    # -- internals ------------------------------------------------------------------------
    async def _acquire(self) -> None:
        if not self._lock.acquire(blocking=False):
            import trio

            await trio.to_thread.run_sync(self._lock.acquire)

    def _reuse_running(self) -> bool:
        """True if a healthy child is already up; clears away a child that died."""
        child = self._child
        if child is None:
            return False
        if not child.has_exited():
            return True
        self._child = None
        try:
            child.terminate_blocking(0)  # reaps it and clears its group
        finally:
            child.close()
        return False

    def _resolve_settings(self) -> Settings | None:
        """The settings given to this instance; None means the environment's, as they are.

        The environment is handed to the child unparsed: the child reads it anyway, and
        parsing it here would delay the child's start by the cost of loading pydantic.
        """
        return self._settings

    @staticmethod
    def _timeout(timeout: float | None, settings: Settings | None) -> float:
        if timeout is not None:
            seconds = float(timeout)
        elif settings is not None:
            seconds = settings.ephemeral_startup_timeout_seconds
        else:
            seconds = _environment_startup_timeout()
        if seconds <= 0:
            raise ValueError(f"timeout must be positive, not {seconds!r}")
        return float(seconds)

    def _bind(self) -> socket.socket:
        if self._key is not None:
            try:
                return listen(self._key)
            except OSError as exc:
                raise RuntimeError(
                    f"Port {self._key} is already in use on {HOST} "
                    f"({exc.strerror or exc}); choose another port"
                ) from exc
        for _ in range(10):
            try:
                return listen(random.choice(self._port_range))
            except OSError:
                continue
        return listen(0)  # the range is crowded: let the kernel choose

    def _child_command(self) -> list[str]:
        """The child's command line, without ``--fd N --parent-pipe M`` (appended)."""
        return [sys.executable, "-m", "prefect_trio_server", "start"]

    def _child_environment(self, settings: Settings | None, port: int) -> dict[str, str]:
        env = dict(os.environ)
        if settings is not None:
            env.update(settings.to_environment())
        env.update(self._environment)
        for name in _DROPPED_VARIABLES:
            env.pop(name, None)
        env.update(
            {
                "PREFECT_UI_ENABLED": "false",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT_SERVER_API_HOST": HOST,
                "PREFECT_SERVER_API_PORT": str(port),
                "PREFECT_SERVER_API_BASE_PATH": "/api",
            }
        )
        return env

    def _prepare(self, settings: Settings | None) -> Callable[[], Child]:
        """Bind the socket now; return the spawn, ready to call."""
        listener = self._bind()
        try:
            port = listener.getsockname()[1]
            env = self._child_environment(settings, port)
        except BaseException:
            listener.close()
            raise
        self.port = port
        return partial(spawn, listener, self._child_command(), env)

    def _adopt(self, child: Child) -> None:
        self._child = child
        atexit.register(self.stop)

    def _forget(self) -> None:
        atexit.unregister(self.stop)
        with _instances_lock:
            if _instances.get(self._key) is self:
                del _instances[self._key]

    async def _poll_health(self, child: Child, deadline: float) -> _Outcome:
        import trio

        assert self.port is not None
        delay = _FIRST_RETRY_DELAY
        with trio.move_on_at(deadline):
            while not child.has_exited():
                # The blocking probe in a thread (it watches the child and its own time
                # limits); abandoned, not waited for, if the deadline comes first.
                probe_deadline = time.monotonic() + (deadline - trio.current_time())
                status = await trio.to_thread.run_sync(
                    probe_health, self.port, child, probe_deadline, abandon_on_cancel=True
                )
                if status == 200:
                    return "healthy"
                if child.has_exited():
                    break
                await trio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY_DELAY)
            return "exited"
        return "timeout"

    def _poll_health_blocking(self, child: Child, deadline: float) -> _Outcome:
        assert self.port is not None
        delay = _FIRST_RETRY_DELAY
        while not child.has_exited():
            if time.monotonic() >= deadline:
                return "timeout"
            if probe_health(self.port, child, deadline) == 200:
                return "healthy"
            if child.has_exited():
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _LAST_RETRY_DELAY)
        return "exited"

    def _startup_error(
        self, outcome: _Outcome, child: Child, code: int, seconds: float, still_running: bool
    ) -> RuntimeError:
        health = f"{self.api_url}/health"
        if outcome == "exited":
            message = (
                f"The server process (pid {child.pid}) exited with exit code {code} before "
                f"{health} answered."
            )
        else:
            reported = None if still_running else code
            message = (
                f"Timed out after {seconds:g} s waiting for {health} to answer 200 "
                f"(pid {child.pid}, exit code {reported}); the server process was stopped."
            )
        return RuntimeError(message + self._format_tail(child))

    @staticmethod
    def _format_tail(child: Child) -> str:
        tail = child.output_tail()
        if not tail:
            return " It wrote no output."
        return f"\nLast {OUTPUT_TAIL_LINES} lines of its output:\n{tail}"
