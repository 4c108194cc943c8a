"""The web UI: the static bundle, its writable copy, and the app that serves it.

The bundle shipped with the package holds the literal placeholder
``/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER`` wherever a path must start with the UI's base
path. At start-up the bundle is copied into a writable cache folder, the placeholder is
rewritten to the configured base, and a small key file records what the copy was made from,
so a restart with the same package version, base path and bundle reuses it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import logging
import os
import shutil
import stat
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from prefect_trio_server.settings import Settings, env_name

__all__ = [
    "CACHE_KEY_FILENAME",
    "DEFAULT_ALLOWED_EXTENSIONS",
    "STATIC_DIRECTORY",
    "UI_BASE_PLACEHOLDER",
    "SPAStaticFiles",
    "build_ui_app",
    "copy_directory",
    "normalize_serve_base",
    "prepare_ui_directory",
    "replace_placeholder_string_in_files",
    "ui_bundle_directory",
]

logger = logging.getLogger("prefect_trio_server.ui")

UI_BASE_PLACEHOLDER = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER"
DEFAULT_ALLOWED_EXTENSIONS: tuple[str, ...] = (".txt", ".html", ".css", ".js", ".json")
CACHE_KEY_FILENAME = ".prefect-ui-cache-key"
# How long a worker waits for another worker that is preparing the same cache folder.
_LOCK_TIMEOUT_SECONDS = 60.0


# -- the shipped bundle -------------------------------------------------------------------


def ui_bundle_directory() -> Path:
    """Where the UI bundle shipped with this package lives.

    Installed from a wheel it is the package data folder ``prefect_trio_server/static``; in a
    source checkout (src layout) it is the repository's top-level ``static/`` folder.
    """
    try:
        candidate = importlib.resources.files("prefect_trio_server") / "static"
    except (ModuleNotFoundError, TypeError, ValueError):
        candidate = None
    if isinstance(candidate, Path) and candidate.is_dir():
        return candidate
    return Path(__file__).resolve().parents[3] / "static"


STATIC_DIRECTORY: Path = ui_bundle_directory()


# -- file helpers -------------------------------------------------------------------------


def _make_owner_writable(path: str) -> None:
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return
    if not mode & stat.S_IWUSR:
        os.chmod(path, stat.S_IMODE(mode) | stat.S_IWUSR)


def copy_directory(directory: str, path: str) -> None:
    """Copy the contents of ``directory`` into ``path``, creating ``path`` if missing.

    A sub-folder replaces an existing folder of the same name in ``path`` (symbolic links
    inside it are copied as links); a file is copied with its metadata and overwrites a file
    of the same name. Every copied file is left writable by its owner, so a later copy or the
    placeholder rewrite can change it even when the source was read-only.
    """
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(directory):
        source = os.path.join(directory, name)
        destination = os.path.join(path, name)
        if os.path.isdir(source) and not os.path.islink(source):
            if os.path.lexists(destination):
                if os.path.isdir(destination) and not os.path.islink(destination):
                    shutil.rmtree(destination)
                else:
                    os.remove(destination)
            shutil.copytree(source, destination, symlinks=True)
            for root, dirs, files in os.walk(destination):
                for entry in (*dirs, *files):
                    _make_owner_writable(os.path.join(root, entry))
            _make_owner_writable(destination)
        else:
            if os.path.isdir(destination) and not os.path.islink(destination):
                shutil.rmtree(destination)
            elif os.path.lexists(destination):
                # A read-only file, or a link that must not be written through.
                os.remove(destination)
            shutil.copy2(source, destination, follow_symlinks=False)
            _make_owner_writable(destination)


def replace_placeholder_string_in_files(
    directory: str,
    placeholder: str,
    replacement: str,
    allowed_extensions: list[str] | None = None,
) -> None:
    """Replace ``placeholder`` by ``replacement`` in the text files under ``directory``.

    Walks ``directory`` recursively; only files whose name ends with one of
    ``allowed_extensions`` (default ``.txt .html .css .js .json``) are read, as UTF-8 text,
    and rewritten when they contain the placeholder. Other files are left untouched, and
    symbolic links are not followed.
    """
    extensions = tuple(
        DEFAULT_ALLOWED_EXTENSIONS if allowed_extensions is None else allowed_extensions
    )
    if not extensions:
        return
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if not name.endswith(extensions):
                continue
            file_path = os.path.join(root, name)
            if os.path.islink(file_path):
                continue
            with open(file_path, encoding="utf-8", newline="") as handle:
                text = handle.read()
            if placeholder not in text:
                continue
            with open(file_path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text.replace(placeholder, replacement))


# -- the single-page app's static files ---------------------------------------------------


class SPAStaticFiles(StaticFiles):
    """Static files for a single-page app.

    A path that names no file is a client-side route: it is answered with ``index.html``
    (status 200), so deep links and reloads work. A missing file inside a folder that really
    exists in the bundle (``/assets/missing.js`` when ``assets/`` exists) stays a 404, so a
    stale asset reference fails loudly instead of getting HTML. Nothing outside the directory
    is ever served: dot segments, percent-encoded dots and slashes (decoded by the server
    before they get here) and symbolic links that leave the directory are all refused.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not _is_contained(path):
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
        else:
            if response.status_code != 404:
                return response
        if await anyio.to_thread.run_sync(self._in_existing_folder, path):
            raise HTTPException(status_code=404)
        full_path, stat_result = await anyio.to_thread.run_sync(self.lookup_path, "index.html")
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            raise HTTPException(status_code=404)
        response = self.file_response(full_path, stat_result, scope)
        response.headers.setdefault("cache-control", "no-cache")
        return response

    def _in_existing_folder(self, path: str) -> bool:
        """Is the parent folder of ``path`` a real folder of the bundle (not its root)?"""
        parent = os.path.dirname(path)
        if parent in ("", "."):
            return False
        try:
            _full_path, stat_result = self.lookup_path(parent)
        except (OSError, ValueError):
            return False
        return stat_result is not None and stat.S_ISDIR(stat_result.st_mode)


def _is_contained(path: str) -> bool:
    """Reject, before any file system access, paths that could leave the directory."""
    if "\x00" in path or os.path.isabs(path) or path.startswith(("/", "\\")):
        return False
    parts = path.replace("\\", "/").split("/")
    return ".." not in parts


# -- preparing the writable copy ----------------------------------------------------------


def normalize_serve_base(serve_base: str) -> str:
    """``"/"`` -> ``""``, ``"ui/"`` -> ``"/ui"``: the base path with no trailing slash."""
    stripped = serve_base.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def _package_version() -> str:
    try:
        return importlib.metadata.version("prefect-trio-server")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _bundle_fingerprint(bundle: Path) -> str:
    """A hash of the bundle's file list with each file's size and modification time."""
    digest = hashlib.sha256()
    entries: list[tuple[str, int, int]] = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        for name in files:
            file_path = os.path.join(root, name)
            info = os.lstat(file_path)
            relative = os.path.relpath(file_path, bundle).replace(os.sep, "/")
            entries.append((relative, info.st_size, info.st_mtime_ns))
    for relative, size, mtime_ns in sorted(entries):
        digest.update(f"{relative}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()


def _cache_key(bundle: Path, base: str) -> str:
    return "\n".join(
        [
            f"version={_package_version()}",
            f"base={base}",
            f"bundle={_bundle_fingerprint(bundle)}",
        ]
    )


def _read_key(cache_dir: Path) -> str | None:
    try:
        return (cache_dir / CACHE_KEY_FILENAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def prepare_ui_directory(bundle: Path, cache_dir: Path, base: str) -> bool:
    """Make ``cache_dir`` a copy of ``bundle`` with its base path rewritten to ``base``.

    Returns True when the copy was (re)made, False when a matching copy was already there.
    Concurrent callers (worker processes) are serialised by a lock file next to
    ``cache_dir``. Raises OSError when the copy cannot be made.
    """
    key = _cache_key(bundle, base) + "\n"
    if _read_key(cache_dir) == key:
        return False
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    import filelock  # only when a copy is made: keeps it out of most starts

    lock = filelock.FileLock(
        str(cache_dir.parent / f".{cache_dir.name}.lock"), timeout=_LOCK_TIMEOUT_SECONDS
    )
    with lock:
        if _read_key(cache_dir) == key:
            return False
        key_file = cache_dir / CACHE_KEY_FILENAME
        # Forget the old key first: a copy interrupted half-way must not look complete.
        if key_file.exists() or key_file.is_symlink():
            key_file.unlink()
        copy_directory(str(bundle), str(cache_dir))
        replace_placeholder_string_in_files(str(cache_dir), UI_BASE_PLACEHOLDER, base)
        temporary = cache_dir / f"{CACHE_KEY_FILENAME}.{os.getpid()}.tmp"
        temporary.write_text(key, encoding="utf-8")
        os.replace(temporary, key_file)
    return True


# -- the app ------------------------------------------------------------------------------


def build_ui_app(
    settings: Settings,
    ephemeral: bool,
    *,
    bundle_directory: Path | None = None,
) -> FastAPI:
    """The UI app: ``GET {base}/ui-settings`` plus, when enabled, the bundle at ``{base}``.

    The static files are left out when ``ephemeral`` is true, when the UI is disabled, or
    when the bundle cannot be copied into the cache folder (the error is logged; whatever
    else the server serves keeps working). ``bundle_directory`` overrides the shipped bundle.
    """
    base = normalize_serve_base(settings.ui_serve_base)
    app = FastAPI(title="Prefect UI", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=1000)

    auth_string = settings.api_auth_string
    ui_settings: dict[str, object] = {
        "api_url": settings.ui_api_url or settings.api_base_path,
        "csrf_enabled": settings.csrf_protection_enabled,
        "auth": "BASIC" if auth_string is not None and auth_string.get_secret_value() else None,
        "flags": [],
    }

    @app.get(f"{base}/ui-settings")
    async def ui_settings_route() -> dict[str, object]:
        return ui_settings

    if ephemeral or not settings.ui_enabled:
        return app

    bundle = STATIC_DIRECTORY if bundle_directory is None else bundle_directory
    if not (bundle / "index.html").is_file():
        logger.warning("UI bundle not found at %s; the UI is not served.", bundle)
        return app

    cache_dir = settings.ui_cache_directory
    try:
        prepare_ui_directory(bundle, cache_dir, base)
    except OSError as exc:
        logger.error(
            "Could not copy the UI bundle into %s (%s); the UI is not served. Set %s "
            "to a writable folder to serve it.",
            cache_dir,
            exc,
            env_name("ui_static_directory"),
        )
        return app

    app.mount(base or "/", SPAStaticFiles(directory=cache_dir, html=True), name="ui_root")
    return app
