"""prefect-trio-server: a trio-native server for the Prefect 3 REST API.

The names of Prefect's server module are importable from here as from
``prefect_trio_server.server``; they load on first use, so importing the package (for
``SubprocessASGIServer``, say) stays cheap. ``app`` is the whole server as an ASGI app, built
from the environment's settings on its first call: ``hypercorn prefect_trio_server:app
--worker-class trio``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import PREFECT_VERSION, SERVER_API_VERSION, __version__
from .lazy_app import LazyApp

if TYPE_CHECKING:
    from .server import (
        RequestLimitMiddleware,
        SPAStaticFiles,
        SubprocessASGIServer,
        copy_directory,
        create_api_app,
        create_app,
        create_ui_app,
        is_client_retryable_exception,
        replace_placeholder_string_in_files,
    )

_SERVER_NAMES = frozenset(
    {
        "RequestLimitMiddleware",
        "SPAStaticFiles",
        "SubprocessASGIServer",
        "copy_directory",
        "create_api_app",
        "create_app",
        "create_ui_app",
        "is_client_retryable_exception",
        "replace_placeholder_string_in_files",
    }
)

app = LazyApp()

__all__ = [
    "PREFECT_VERSION",
    "SERVER_API_VERSION",
    "RequestLimitMiddleware",
    "SPAStaticFiles",
    "SubprocessASGIServer",
    "__version__",
    "app",
    "copy_directory",
    "create_api_app",
    "create_app",
    "create_ui_app",
    "is_client_retryable_exception",
    "replace_placeholder_string_in_files",
]


def __getattr__(name: str) -> Any:
    if name == "SubprocessASGIServer":
        # The manager is light; do not load the server's heavy modules for it.
        from .subprocess_server import SubprocessASGIServer

        return SubprocessASGIServer
    if name in _SERVER_NAMES:
        return getattr(importlib.import_module(".server", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
