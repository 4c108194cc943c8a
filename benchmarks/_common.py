"""Shared helpers of the benchmark scripts (not a script: imported by the others).

What lives here: the loopback check, free ports, Prefect's own virtual environment, starting
and stopping either server on a fresh ``PREFECT_HOME`` (optionally with TLS), health polling
with a deadline, HTTP clients per protocol, latency percentiles, the resident memory of a
process tree (read from ``/proc``) and a description of the machine.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

HERE = Path(__file__).resolve().parent
PREFECT_VENV = HERE / ".venv-prefect"
PREFECT_REQUIREMENT = "prefect==3.9.1"
PREFECT_LABEL = "Prefect 3.9.1"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
HOST = "127.0.0.1"

ServerKind = Literal["ours", "prefect"]
Protocol = Literal["http1", "h2-tls", "h2c"]
PROTOCOLS: tuple[Protocol, ...] = ("http1", "h2-tls", "h2c")

START_TIMEOUT = 120.0
"""Seconds a server has to answer its first 200 on /api/health."""
STOP_TIMEOUT = 30.0
"""Seconds a server has to exit after SIGTERM before it is killed."""


# -- addresses -------------------------------------------------------------------------------


def is_loopback_url(url: str) -> bool:
    """True for ``http(s)://127.0.0.1|localhost|[::1]:PORT...`` only."""
    for scheme in ("http://", "https://", "ws://", "wss://"):
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            return any(rest.startswith(f"{host}:") for host in LOOPBACK_HOSTS)
    return False


def require_loopback(url: str) -> None:
    if not is_loopback_url(url):
        raise SystemExit(f"refusing {url!r}: only 127.0.0.1, localhost or [::1] with a port")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- environments ----------------------------------------------------------------------------


def prefect_python(explicit: str | None = None) -> str:
    """An interpreter with Prefect 3.9.1: ``explicit``, or benchmarks/.venv-prefect (made once)."""
    if explicit:
        return explicit
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {PREFECT_REQUIREMENT} into {PREFECT_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PREFECT_REQUIREMENT], check=True
        )
    return str(python)


def ours_cli() -> str:
    """The ``prefect-trio-server`` script installed beside this interpreter."""
    return str(Path(sys.executable).parent / "prefect-trio-server")


def clean_environment(home: Path) -> dict[str, str]:
    """The parent's environment without any PREFECT_* variable, on a private PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_UI_ENABLED"] = "false"
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


def server_command(kind: ServerKind, port: int, python: str | None = None) -> list[str]:
    """The command a user types to start ``kind`` on 127.0.0.1:``port``."""
    if kind == "ours":
        return [ours_cli(), "start", "--host", HOST, "--port", str(port)]
    prefect = str(Path(prefect_python(python)).parent / "prefect")
    return [prefect, "server", "start", "--host", HOST, "--port", str(port)]


# -- TLS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    certfile: Path
    keyfile: Path
    cafile: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))


def make_tls_files(directory: Path) -> TLSFiles:
    """A throwaway CA and a certificate for 127.0.0.1/localhost, written under ``directory``."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "localhost")
    files = TLSFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    files.certfile.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    ca.cert_pem.write_to_path(str(files.cafile))
    return files


# -- servers ---------------------------------------------------------------------------------


@dataclass
class RunningServer:
    """A server started by the harness: its process (a session leader), URL and home."""

    kind: ServerKind
    process: subprocess.Popen[bytes]
    api_url: str
    home: Path
    log_path: Path
    startup_seconds: float
    tls: TLSFiles | None = None

    def verify(self) -> ssl.SSLContext | bool:
        return self.tls.client_context() if self.tls else True

    def rss_bytes(self) -> int:
        return tree_rss_bytes(self.process.pid)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def peak_rss_bytes(self) -> int:
        return tree_rss_bytes(self.process.pid, field_name="VmHWM")

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes] | None,
    timeout: float = START_TIMEOUT,
    verify: ssl.SSLContext | bool = True,
) -> float:
    """Poll ``url`` until it answers 2xx; seconds waited. Raises on exit or deadline."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    with httpx.Client(verify=verify) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before healthy")
            try:
                if client.get(url, timeout=1).is_success:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            # The next try is the wait: a refused connection returns at once, so pace it.
            _pause_briefly(deadline)
    raise RuntimeError(f"{url} not healthy within {timeout:.0f} s")


def _pause_briefly(deadline: float, seconds: float = 0.01) -> None:
    """Wait ``seconds`` (or to the deadline) between two polls of a condition."""
    time.sleep(max(0.0, min(seconds, deadline - time.monotonic())))


def start_server(
    kind: ServerKind,
    *,
    python: str | None = None,
    tls: TLSFiles | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningServer:
    """Start ``kind`` the way users do, on a free port and a fresh PREFECT_HOME."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    port = free_port()
    argv = server_command(kind, port, python)
    if tls is not None:
        if kind != "ours":
            raise ValueError("only our server is benchmarked with TLS")
        argv += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
    scheme = "https" if tls else "http"
    log_path = home / "server.log"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            env=clean_environment(home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api_url = f"{scheme}://{HOST}:{port}/api"
    server = RunningServer(kind, process, api_url, home, log_path, 0.0, tls)
    try:
        wait_healthy(f"{api_url}/health", process, timeout, server.verify())
    except Exception as exc:
        tail = server.log_tail()
        stop_server(server)
        raise RuntimeError(f"{kind} did not start ({exc}): {tail}") from None
    except BaseException:
        stop_server(server)
        raise
    server.startup_seconds = time.perf_counter() - started
    return server


def stop_server(server: RunningServer, keep_home: bool = False) -> None:
    """SIGTERM the server's process group, SIGKILL it after STOP_TIMEOUT; remove its home."""
    stop_process_group(server.process)
    if not keep_home:
        shutil.rmtree(server.home, ignore_errors=True)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """End the session started for ``process`` (it and its children), by its group id."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children the leader left behind, if any
    process.wait()


@contextlib.contextmanager
def running_server(
    kind: ServerKind, *, python: str | None = None, tls: TLSFiles | None = None
) -> Iterator[RunningServer]:
    server = start_server(kind, python=python, tls=tls)
    try:
        yield server
    finally:
        stop_server(server)


# -- HTTP clients ----------------------------------------------------------------------------

REQUEST_TIMEOUT = 30.0
"""Seconds any one benchmark request may take; past that it is counted as failed."""


def http_client(
    url: str,
    clients: int,
    protocol: Protocol = "http1",
    verify: ssl.SSLContext | bool = True,
    timeout: float = REQUEST_TIMEOUT,
) -> httpx.AsyncClient:
    """An AsyncClient for ``clients`` concurrent users of ``url`` over ``protocol``.

    ``h2-tls`` negotiates HTTP/2 through ALPN on https; ``h2c`` speaks HTTP/2 with prior
    knowledge on http. With HTTP/2 one connection carries every stream.
    """
    require_loopback(url)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    http1, http2 = {"http1": (True, False), "h2-tls": (False, True), "h2c": (False, True)}[protocol]
    return httpx.AsyncClient(
        base_url=url, limits=limits, timeout=timeout, verify=verify, http1=http1, http2=http2
    )


def verify_for(cafile: str | None) -> ssl.SSLContext | bool:
    """What httpx should verify a server with: the CA in ``cafile``, else the system's."""
    return ssl.create_default_context(cafile=cafile) if cafile else True


def failure_label(what: str, error: BaseException | httpx.Response) -> str:
    if isinstance(error, httpx.Response):
        return f"{what}: HTTP {error.status_code}"
    return f"{what}: {type(error).__name__}"


@dataclass
class Failures:
    """Failed requests by label, with the first answer (or error) seen for each label."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, what: str, error: BaseException | httpx.Response | str) -> None:
        if isinstance(error, str):
            label, example = f"{what}: {error}", error
        else:
            label = failure_label(what, error)
            example = error.text if isinstance(error, httpx.Response) else repr(error)
        self.counts[label] += 1
        self.examples.setdefault(label, example[:300])

    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {"failures": dict(self.counts), "failure_examples": self.examples}


SETUP_ATTEMPTS = 3


async def setup_post(
    client: httpx.AsyncClient, what: str, path: str, body: object, failures: Failures
) -> httpx.Response | None:
    """POST for a workload's setup (not measured): up to SETUP_ATTEMPTS tries on 5xx or no
    answer, each failed try counted in ``failures``; the 2xx answer, or None."""
    for _ in range(SETUP_ATTEMPTS):
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            failures.add(what, exc)
            continue
        if response.is_success:
            return response
        failures.add(what, response)
        if response.status_code < 500:
            return None
    return None


# -- statistics ------------------------------------------------------------------------------


def percentile_ms(sorted_seconds: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..1) of sorted seconds, in milliseconds."""
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))
    return round(sorted_seconds[index] * 1000, 2)


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def summary(self) -> dict[str, float | None]:
        ordered = sorted(self.samples)
        return {"p50_ms": percentile_ms(ordered, 0.5), "p99_ms": percentile_ms(ordered, 0.99)}


# -- memory ----------------------------------------------------------------------------------


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, found through the ppid field of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def status_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A ``kB`` field of /proc/<pid>/status (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time so far of ``root``'s process tree (all threads of every process)."""
    return sum(cpu_seconds(pid) for pid in process_tree(root))


def tree_rss_bytes(root: int, field_name: str = "VmRSS") -> int:
    """Resident memory summed over ``root``'s process tree (``VmHWM``: peaks, summed)."""
    return sum(status_kib(pid, field_name) for pid in process_tree(root)) * 1024


def mib(value: int) -> float:
    return round(value / 2**20, 1)


# -- the machine -----------------------------------------------------------------------------


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return 0.0


def machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "os": _os_release(),
        "kernel": platform.release(),
    }


def prefect_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import prefect; print(prefect.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return out.stdout.strip() or "unknown"


@contextlib.contextmanager
def running_server_for(protocol: Protocol) -> Iterator[RunningServer]:
    """Our server, with a throwaway certificate when ``protocol`` is ``h2-tls``."""
    if protocol != "h2-tls":
        with running_server("ours") as server:
            yield server
        return
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-tls-")))
        yield stack.enter_context(running_server("ours", tls=make_tls_files(directory)))
