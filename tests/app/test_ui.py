"""The UI app: the bundle's writable copy, SPA static files and /ui-settings."""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from prefect_trio_server.app.ui import (
    CACHE_KEY_FILENAME,
    STATIC_DIRECTORY,
    UI_BASE_PLACEHOLDER,
    SPAStaticFiles,
    build_ui_app,
    copy_directory,
    normalize_serve_base,
    prepare_ui_directory,
    replace_placeholder_string_in_files,
    ui_bundle_directory,
)
from prefect_trio_server.settings import Settings

SECRET = "TOP-SECRET-OUTSIDE-THE-UI"


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def raw_get(app: Any, path: str) -> tuple[int, bytes]:
    """Send ``path`` to the app verbatim (no client-side dot-segment clean-up)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "server": ("test", 80),
        "client": ("127.0.0.1", 1234),
    }
    status = 0
    body = bytearray()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # The client stays connected until the response is complete.
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)


def make_bundle(root: Path) -> Path:
    """A small bundle shaped like the real one, with the placeholder in its text files."""
    bundle = root / "bundle"
    (bundle / "assets").mkdir(parents=True)
    (bundle / "index.html").write_text(
        f'<html><script src="{UI_BASE_PLACEHOLDER}/assets/app.js"></script>INDEX</html>',
        encoding="utf-8",
    )
    (bundle / "assets" / "app.js").write_text(
        f'const BASE = "{UI_BASE_PLACEHOLDER}";', encoding="utf-8"
    )
    (bundle / "assets" / "app.css").write_text("body { color: red; }", encoding="utf-8")
    return bundle


def settings_for(tmp_path: Path, **kwargs: Any) -> Settings:
    return Settings(home=tmp_path / "home", **kwargs)


# -- the shipped bundle ---------------------------------------------------------------------


def test_shipped_bundle_is_found_and_uses_the_placeholder() -> None:
    bundle = ui_bundle_directory()
    assert bundle == STATIC_DIRECTORY
    index = (bundle / "index.html").read_text(encoding="utf-8")
    assert f"{UI_BASE_PLACEHOLDER}/assets/app.js" in index
    assert f"{UI_BASE_PLACEHOLDER}/assets/app.css" in index
    assert "prefect-trio-server" in index
    script = (bundle / "assets" / "app.js").read_text(encoding="utf-8")
    assert f"{UI_BASE_PLACEHOLDER}" in script
    for endpoint in ("/ui-settings", "/health", "/version", "/admin/version", "/ready"):
        assert endpoint in script
    for text in (index, script, (bundle / "assets" / "app.css").read_text(encoding="utf-8")):
        assert "http://" not in text
        assert "https://" not in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/", ""), ("", ""), ("/ui", "/ui"), ("/ui/", "/ui"), ("ui", "/ui"), ("/a/b/", "/a/b")],
)
def test_normalize_serve_base(given: str, expected: str) -> None:
    assert normalize_serve_base(given) == expected


# -- serving the shipped bundle ----------------------------------------------------------------


@pytest.mark.parametrize(("serve_base", "prefix"), [("/", ""), ("/ui", "/ui"), ("/ui/", "/ui")])
async def test_index_and_assets_with_base_path_rewritten(
    tmp_path: Path, serve_base: str, prefix: str
) -> None:
    app = build_ui_app(settings_for(tmp_path, ui_serve_base=serve_base), ephemeral=False)
    async with client_for(app) as client:
        response = await client.get(f"{prefix}/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "prefect-trio-server" in response.text
        assert UI_BASE_PLACEHOLDER not in response.text
        assert f'src="{prefix}/assets/app.js"' in response.text
        assert f'href="{prefix}/assets/app.css"' in response.text

        script = await client.get(f"{prefix}/assets/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert script.headers.get("content-encoding") == "gzip"
        assert UI_BASE_PLACEHOLDER not in script.text
        assert f'var UI_BASE = "{prefix}";' in script.text

        css = await client.get(f"{prefix}/assets/app.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")

        settings = await client.get(f"{prefix}/ui-settings")
        assert settings.status_code == 200


async def test_base_without_trailing_slash_redirects_to_index(tmp_path: Path) -> None:
    app = build_ui_app(settings_for(tmp_path, ui_serve_base="/ui"), ephemeral=False)
    async with client_for(app) as client:
        response = await client.get("/ui", follow_redirects=True)
        assert response.status_code == 200
        assert "prefect-trio-server" in response.text
        # Outside the base path nothing is served.
        assert (await client.get("/other/thing")).status_code == 404


async def test_spa_fallback_and_real_asset_404(tmp_path: Path) -> None:
    app = build_ui_app(settings_for(tmp_path, ui_serve_base="/ui"), ephemeral=False)
    async with client_for(app) as client:
        index = (await client.get("/ui/")).text
        for route in ("/ui/flow-runs", "/ui/flow-runs/flow-run/1234", "/ui/settings?x=1"):
            response = await client.get(route)
            assert response.status_code == 200, route
            assert response.text == index
            assert response.headers["content-type"].startswith("text/html")

        missing = await client.get("/ui/assets/missing.js")
        assert missing.status_code == 404
        assert "prefect-trio-server" not in missing.text

        assert (await client.post("/ui/flow-runs")).status_code == 405
        head = await client.head("/ui/assets/app.js")
        assert head.status_code == 200
        assert head.content == b""


async def test_index_conditional_get_is_not_modified(tmp_path: Path) -> None:
    app = build_ui_app(settings_for(tmp_path), ephemeral=False)
    async with client_for(app) as client:
        first = await client.get("/some/route")
        assert first.status_code == 200
        again = await client.get("/some/route", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304


# -- never serving anything outside the directory ---------------------------------------------


async def test_traversal_never_leaks_a_file_outside(tmp_path: Path) -> None:
    # The secret sits next to the cache folder, one level above the served directory.
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text(SECRET, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    app = build_ui_app(Settings(home=home, ui_serve_base="/ui"), ephemeral=False)
    cache_dir = home / "ui_build"
    assert (cache_dir / "index.html").is_file()

    # Symbolic links inside the served directory that point out of it.
    (cache_dir / "leak.txt").symlink_to(home / "secret.txt")
    (cache_dir / "outside").symlink_to(tmp_path, target_is_directory=True)
    (cache_dir / "assets" / "leak.txt").symlink_to(home / "secret.txt")

    encoded = [
        "/ui/%2e%2e/secret.txt",
        "/ui/%2E%2E/%2e%2e/secret.txt",
        "/ui/..%2fsecret.txt",
        "/ui/%2e%2e%2fsecret.txt",
        "/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/ui/assets%2f..%2f..%2fsecret.txt",
        "/ui/%2fetc%2fpasswd",
        "/ui/leak.txt",
        "/ui/outside/secret.txt",
        "/ui/outside/home/secret.txt",
        "/ui/assets/leak.txt",
        "/ui/%00/secret.txt",
    ]
    async with client_for(app) as client:
        for path in encoded:
            response = await client.get(path)
            assert SECRET not in response.text, path
            assert "root:" not in response.text, path
            assert response.status_code in (200, 404), path
            if response.status_code == 200:
                # Only ever the SPA's own index.
                assert "prefect-trio-server" in response.text, path

        # Paths that still hold ".." after decoding are refused outright.
        assert (await client.get("/ui/%2e%2e/secret.txt")).status_code == 404
        assert (await client.get("/ui/..%2fsecret.txt")).status_code == 404
        # A link out of an asset folder is a missing asset, not the index.
        assert (await client.get("/ui/assets/leak.txt")).status_code == 404

    # Literal dot segments, sent as-is (an HTTP client would clean them up itself).
    for path in ("/ui/../secret.txt", "/ui/assets/../../secret.txt", "/ui/../../etc/passwd"):
        status, body = await raw_get(app, path)
        assert SECRET.encode() not in body, path
        assert b"root:" not in body, path
        assert status in (200, 404), path


async def test_spa_static_files_alone_refuse_parent_paths(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "index.html").write_text("INDEX", encoding="utf-8")
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    static = Starlette(routes=[Mount("/", SPAStaticFiles(directory=served, html=True))])
    for path in ("/../secret.txt", "/a/../../secret.txt", "/..", "/../"):
        status, body = await raw_get(static, path)
        assert status == 404, path
        assert SECRET.encode() not in body
    status, body = await raw_get(static, "/some/route")
    assert (status, body) == (200, b"INDEX")


async def test_missing_index_is_a_plain_404(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    static = Starlette(routes=[Mount("/", SPAStaticFiles(directory=served, html=True))])
    status, _body = await raw_get(static, "/some/route")
    assert status == 404


# -- /ui-settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [True, False])
@pytest.mark.parametrize("auth", [None, "admin:pass"])
async def test_ui_settings(tmp_path: Path, csrf: bool, auth: str | None) -> None:
    settings = settings_for(
        tmp_path, ui_serve_base="/ui", csrf_protection_enabled=csrf, api_auth_string=auth
    )
    async with client_for(build_ui_app(settings, ephemeral=False)) as client:
        response = await client.get("/ui/ui-settings")
    assert response.status_code == 200
    assert response.json() == {
        "api_url": "/api",
        "csrf_enabled": csrf,
        "auth": "BASIC" if auth else None,
        "flags": [],
    }


async def test_ui_settings_api_url(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ui_api_url="https://example.invalid/api")
    async with client_for(build_ui_app(settings, ephemeral=False)) as client:
        assert (await client.get("/ui-settings")).json()["api_url"] == "https://example.invalid/api"
    settings = settings_for(tmp_path, api_base_path="/prefect/api")
    async with client_for(build_ui_app(settings, ephemeral=False)) as client:
        assert (await client.get("/ui-settings")).json()["api_url"] == "/prefect/api"


# -- disabled UI --------------------------------------------------------------------------------


@pytest.mark.parametrize(("ephemeral", "enabled"), [(True, True), (False, False), (True, False)])
async def test_no_static_files_when_ephemeral_or_disabled(
    tmp_path: Path, ephemeral: bool, enabled: bool
) -> None:
    settings = settings_for(tmp_path, ui_enabled=enabled)
    app = build_ui_app(settings, ephemeral=ephemeral)
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/assets/app.js")).status_code == 404
        assert (await client.get("/ui-settings")).status_code == 200
    assert not settings.ui_cache_directory.exists()


# -- the writable copy and its cache key ------------------------------------------------------


async def test_cache_is_reused_with_the_same_key(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ui_serve_base="/ui")
    build_ui_app(settings, ephemeral=False)
    cache_dir = settings.ui_cache_directory
    key = (cache_dir / CACHE_KEY_FILENAME).read_text(encoding="utf-8")
    assert "base=/ui" in key
    assert "version=" in key

    # Edits made to the copy survive a restart with the same key: nothing was copied again.
    (cache_dir / "marker.txt").write_text("still here", encoding="utf-8")
    (cache_dir / "assets" / "app.js").write_text("EDITED", encoding="utf-8")
    app = build_ui_app(settings, ephemeral=False)
    assert (cache_dir / "marker.txt").read_text(encoding="utf-8") == "still here"
    async with client_for(app) as client:
        assert (await client.get("/ui/assets/app.js")).text == "EDITED"
    assert prepare_ui_directory(STATIC_DIRECTORY, cache_dir, "/ui") is False


async def test_changed_base_path_copies_again(tmp_path: Path) -> None:
    first = settings_for(tmp_path, ui_serve_base="/ui")
    build_ui_app(first, ephemeral=False)
    (first.ui_cache_directory / "assets" / "app.js").write_text("EDITED", encoding="utf-8")

    second = settings_for(tmp_path, ui_serve_base="/dashboard")
    assert second.ui_cache_directory == first.ui_cache_directory
    app = build_ui_app(second, ephemeral=False)
    async with client_for(app) as client:
        index = await client.get("/dashboard/")
        assert 'src="/dashboard/assets/app.js"' in index.text
        script = await client.get("/dashboard/assets/app.js")
        assert 'var UI_BASE = "/dashboard";' in script.text
        assert "/ui/" not in index.text


async def test_changed_bundle_copies_again(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    cache_dir = tmp_path / "cache" / "ui"
    assert prepare_ui_directory(bundle, cache_dir, "/ui") is True
    assert prepare_ui_directory(bundle, cache_dir, "/ui") is False
    assert (cache_dir / "assets" / "app.js").read_text(encoding="utf-8") == 'const BASE = "/ui";'

    (bundle / "assets" / "app.js").write_text(
        f'const BASE = "{UI_BASE_PLACEHOLDER}"; // v2', encoding="utf-8"
    )
    assert prepare_ui_directory(bundle, cache_dir, "/ui") is True
    text = (cache_dir / "assets" / "app.js").read_text(encoding="utf-8")
    assert text == 'const BASE = "/ui"; // v2'

    (bundle / "assets" / "new.js").write_text("new", encoding="utf-8")
    assert prepare_ui_directory(bundle, cache_dir, "/ui") is True
    assert (cache_dir / "assets" / "new.js").is_file()


async def test_build_with_a_custom_bundle(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    settings = settings_for(tmp_path, ui_static_directory=tmp_path / "elsewhere" / "ui")
    app = build_ui_app(settings, ephemeral=False, bundle_directory=bundle)
    assert (tmp_path / "elsewhere" / "ui" / CACHE_KEY_FILENAME).is_file()
    async with client_for(app) as client:
        response = await client.get("/")
        assert response.text == '<html><script src="/assets/app.js"></script>INDEX</html>'


def test_concurrent_preparations_copy_once(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    cache_dir = tmp_path / "cache" / "ui"
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(prepare_ui_directory(bundle, cache_dir, "/ui"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert (cache_dir / "index.html").read_text(encoding="utf-8").count("/ui/assets/app.js") == 1


async def test_unwritable_cache_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A folder below a regular file cannot be created, even by root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    settings = settings_for(tmp_path, ui_static_directory=blocker / "ui_build")
    with caplog.at_level(logging.ERROR, logger="prefect_trio_server.ui"):
        app = build_ui_app(settings, ephemeral=False)
    assert any("UI is not served" in record.getMessage() for record in caplog.records)
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 404
        response = await client.get("/ui-settings")
        assert response.status_code == 200
        assert response.json()["api_url"] == "/api"


async def test_disk_full_is_logged_and_a_later_start_copies_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_trio_server.app import ui

    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    settings = settings_for(tmp_path)
    with monkeypatch.context() as patch:
        # Fails after the files were copied: the copy is incomplete and has no key.
        patch.setattr(ui, "replace_placeholder_string_in_files", disk_full)
        with caplog.at_level(logging.ERROR, logger="prefect_trio_server.ui"):
            app = build_ui_app(settings, ephemeral=False)
    assert any("No space left" in record.getMessage() for record in caplog.records)
    assert not (settings.ui_cache_directory / CACHE_KEY_FILENAME).exists()
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/ui-settings")).status_code == 200

    app = build_ui_app(settings, ephemeral=False)
    async with client_for(app) as client:
        index = await client.get("/")
        assert index.status_code == 200
        assert UI_BASE_PLACEHOLDER not in index.text


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root ignores file permissions",
)
async def test_read_only_cache_parent_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        settings = settings_for(tmp_path, ui_static_directory=parent / "ui_build")
        with caplog.at_level(logging.ERROR, logger="prefect_trio_server.ui"):
            app = build_ui_app(settings, ephemeral=False)
        assert any("UI is not served" in record.getMessage() for record in caplog.records)
        async with client_for(app) as client:
            assert (await client.get("/")).status_code == 404
            assert (await client.get("/ui-settings")).status_code == 200
    finally:
        parent.chmod(0o755)


async def test_missing_bundle_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="prefect_trio_server.ui"):
        app = build_ui_app(
            settings_for(tmp_path), ephemeral=False, bundle_directory=tmp_path / "nothing"
        )
    assert any("bundle not found" in record.getMessage() for record in caplog.records)
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/ui-settings")).status_code == 200


# -- copy_directory -----------------------------------------------------------------------------


def test_copy_directory(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "top.txt").write_text("top", encoding="utf-8")
    (source / "sub" / "a.txt").write_text("a", encoding="utf-8")
    (source / "sub" / "deeper" / "b.txt").write_text("b", encoding="utf-8")
    (source / "sub" / "link.txt").symlink_to("a.txt")
    (source / "top-link").symlink_to("sub", target_is_directory=True)
    read_only = source / "sub" / "read-only.txt"
    read_only.write_text("ro", encoding="utf-8")
    os.utime(read_only, (1_000_000_000, 1_000_000_000))
    read_only.chmod(0o444)
    (source / "top.txt").chmod(0o444)

    destination = tmp_path / "destination"
    (destination / "sub").mkdir(parents=True)
    (destination / "sub" / "stale.txt").write_text("stale", encoding="utf-8")
    (destination / "kept.txt").write_text("kept", encoding="utf-8")

    copy_directory(str(source), str(destination))

    # The sub-folder replaced the old one; other top-level entries are left alone.
    assert not (destination / "sub" / "stale.txt").exists()
    assert (destination / "kept.txt").read_text(encoding="utf-8") == "kept"
    assert (destination / "sub" / "a.txt").read_text(encoding="utf-8") == "a"
    assert (destination / "sub" / "deeper" / "b.txt").read_text(encoding="utf-8") == "b"
    # Links stay links.
    assert (destination / "sub" / "link.txt").is_symlink()
    assert os.readlink(destination / "sub" / "link.txt") == "a.txt"
    assert (destination / "top-link").is_symlink()
    # Metadata copied, and everything writable by its owner.
    copied = destination / "sub" / "read-only.txt"
    assert copied.stat().st_mtime == pytest.approx(1_000_000_000)
    for path in (copied, destination / "top.txt"):
        assert path.stat().st_mode & stat.S_IWUSR
    for root, dirs, files in os.walk(destination):
        for name in (*dirs, *files):
            entry = Path(root) / name
            if not entry.is_symlink():
                assert entry.lstat().st_mode & stat.S_IWUSR, entry

    # Copying again over the (now writable) copy works and is idempotent.
    copy_directory(str(source), str(destination))
    assert (destination / "top.txt").read_text(encoding="utf-8") == "top"


def test_copy_directory_creates_the_destination(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "f.txt").write_text("f", encoding="utf-8")
    copy_directory(str(source), str(tmp_path / "a" / "b" / "c"))
    assert (tmp_path / "a" / "b" / "c" / "f.txt").read_text(encoding="utf-8") == "f"


def test_copy_directory_replaces_a_file_with_a_folder_and_back(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "thing").mkdir(parents=True)
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "thing").write_text("file", encoding="utf-8")
    copy_directory(str(source), str(destination))
    assert (destination / "thing").is_dir()

    other = tmp_path / "other"
    other.mkdir()
    (other / "thing").write_text("file again", encoding="utf-8")
    copy_directory(str(other), str(destination))
    assert (destination / "thing").read_text(encoding="utf-8") == "file again"


# -- replace_placeholder_string_in_files -------------------------------------------------------


def test_replace_placeholder_default_extensions(tmp_path: Path) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    texts = {
        "index.html": "<a href='PH/x'>PH</a>",
        "nested/app.js": "const a = 'PH';",
        "nested/deeper/style.css": "url(PH/img.png)",
        "nested/data.json": '{"a": "PH"}',
        "notes.txt": "PH é ü",
        "README.md": "PH",
        "script.jsx": "PH",
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    png = b"\x89PNG\r\n\x1a\n" + b"PH" + bytes(range(256))
    (tmp_path / "nested" / "image.png").write_bytes(png)
    png_mtime = (tmp_path / "nested" / "image.png").stat().st_mtime_ns

    replace_placeholder_string_in_files(str(tmp_path), "PH", "/base")

    def read(name: str) -> str:
        return (tmp_path / name).read_text(encoding="utf-8")

    assert read("index.html") == "<a href='/base/x'>/base</a>"
    assert read("nested/app.js") == "const a = '/base';"
    assert read("nested/deeper/style.css") == "url(/base/img.png)"
    assert read("nested/data.json") == '{"a": "/base"}'
    assert read("notes.txt") == "/base é ü"
    assert read("README.md") == "PH"
    assert read("script.jsx") == "PH"
    assert (tmp_path / "nested" / "image.png").read_bytes() == png
    assert (tmp_path / "nested" / "image.png").stat().st_mtime_ns == png_mtime


def test_replace_placeholder_custom_extensions_and_empty_replacement(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x/PH/y", encoding="utf-8")
    (tmp_path / "b.js").write_text("x/PH/y", encoding="utf-8")
    replace_placeholder_string_in_files(str(tmp_path), "/PH", "", allowed_extensions=[".md"])
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == "x/y"
    assert (tmp_path / "b.js").read_text(encoding="utf-8") == "x/PH/y"

    replace_placeholder_string_in_files(str(tmp_path), "/PH", "", allowed_extensions=[])
    assert (tmp_path / "b.js").read_text(encoding="utf-8") == "x/PH/y"
