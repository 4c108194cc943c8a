"""Hypercorn configuration from our settings, checked before anything starts."""

from __future__ import annotations

import logging
import ssl
import sys
from pathlib import Path

from hypercorn.config import Config

from ..errors import ConfigurationError
from ..settings import Settings, env_name

APPLICATION_PATH = "prefect_trio_server:app"


def _check_tls(settings: Settings) -> None:
    cert, key = settings.tls_certfile, settings.tls_keyfile
    if (cert is None) != (key is None):
        missing = "tls_keyfile" if key is None else "tls_certfile"
        raise ConfigurationError(f"TLS needs both a certificate and a key: set {env_name(missing)}")
    if cert is None or key is None:
        return
    for field, path in (("tls_certfile", cert), ("tls_keyfile", key)):
        if not Path(path).is_file():
            raise ConfigurationError(f"{env_name(field)}: no such file {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"cannot load the TLS certificate and key ({exc}): check "
            f"{env_name('tls_certfile')} and {env_name('tls_keyfile')}"
        ) from exc


def access_logger() -> logging.Logger:
    """One line per request on stderr, whatever the server's own log level."""
    logger = logging.getLogger("prefect_trio_server.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def hypercorn_config(settings: Settings, *, fd: int | None = None) -> Config:
    """A Hypercorn ``Config`` for these settings, binding ``fd://fd`` when given."""
    _check_tls(settings)
    config = Config()
    config.application_path = APPLICATION_PATH
    config.worker_class = "trio"
    config.workers = settings.workers
    if fd is not None:
        config.bind = [f"fd://{fd}"]
    else:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        config.bind = [f"{host}:{settings.port}"]
    if settings.tls_enabled:
        config.certfile = str(settings.tls_certfile)
        config.keyfile = str(settings.tls_keyfile)
        config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = settings.http2_max_concurrent_streams
    config.h2_max_inbound_frame_size = settings.http2_max_inbound_frame_size
    config.keep_alive_timeout = settings.keep_alive_timeout
    # Hypercorn closes a connection after 1000 requests unless told otherwise; on HTTP/2 its
    # GOAWAY fails the requests a client (httpx) has in flight on it.
    config.keep_alive_max_requests = settings.keep_alive_max_requests or sys.maxsize
    config.graceful_timeout = settings.graceful_timeout
    config.accesslog = access_logger() if settings.access_log else None
    config.errorlog = "-"
    config.loglevel = settings.log_level
    # Our own BodySizeLimitMiddleware answers 413 with a JSON body; let it.
    config.max_app_queue_size = 10
    return config
