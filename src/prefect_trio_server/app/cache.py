"""The app caches behind ``create_api_app`` and ``create_app``.

The only module-level mutable state of the app layer: equal arguments give the same app
object, as Prefect's module promises. ``clear()`` empties it (tests).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import FastAPI

from ..settings import Settings

_apps: dict[Hashable, FastAPI] = {}


def key(kind: str, settings: Settings, *arguments: Any) -> Hashable:
    """A cache key from the settings' values and the build arguments."""
    return (kind, tuple(sorted(settings.to_environment().items())), repr(arguments))


def get_or_build(
    cache_key: Hashable, build: Callable[[], FastAPI], *, final: bool, ignore_cache: bool
) -> FastAPI:
    if not ignore_cache and cache_key in _apps:
        return _apps[cache_key]
    app = build()
    if final:
        # Nothing else will be built: hold no other app alive.
        _apps.clear()
    else:
        _apps[cache_key] = app
    return app


def clear() -> None:
    _apps.clear()
