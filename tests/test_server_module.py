"""The server module keeps the public shape of Prefect's: names, parameters, defaults."""

import inspect
import subprocess
import sys

import pytest

from prefect_trio_server import server

CONTRACT = {
    "create_api_app": "(dependencies=None, health_check_path='/health', "
    "version_check_path='/version', fast_api_app_kwargs=None, final=False, ignore_cache=False)",
    "create_ui_app": "(ephemeral)",
    "create_app": "(settings=None, ephemeral=False, webserver_only=False, final=False, "
    "ignore_cache=False)",
    "is_client_retryable_exception": "(exc)",
    "replace_placeholder_string_in_files": "(directory, placeholder, replacement, "
    "allowed_extensions=None)",
    "copy_directory": "(directory, path)",
}


def _plain(signature: inspect.Signature) -> str:
    parameters = [
        p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
    ]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_function_signatures_match_the_contract(name: str):
    assert _plain(inspect.signature(getattr(server, name))) == CONTRACT[name]


def test_classes_exist_with_the_contract_methods():
    assert {"find_available_port", "is_port_available", "start", "stop"} <= set(
        dir(server.SubprocessASGIServer)
    )
    assert isinstance(server.SubprocessASGIServer.__dict__["is_port_available"], staticmethod)
    for prop in ("address", "api_url"):
        assert isinstance(inspect.getattr_static(server.SubprocessASGIServer, prop), property)
    assert _plain(inspect.signature(server.SubprocessASGIServer.start)) == "(self, timeout=None)"
    assert "limit" in inspect.signature(server.RequestLimitMiddleware).parameters
    from starlette.staticfiles import StaticFiles

    assert issubclass(server.SPAStaticFiles, StaticFiles)


def test_every_name_is_reexported_from_the_package():
    import prefect_trio_server

    for name in server.__all__:
        assert getattr(prefect_trio_server, name) is getattr(server, name)


def test_importing_the_package_loads_no_web_framework():
    code = (
        "import sys, prefect_trio_server, prefect_trio_server.subprocess_server;"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'hypercorn', 'alembic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_api_apps_are_cached_by_settings_and_arguments(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    first = server.create_api_app()
    assert server.create_api_app() is first
    assert server.create_api_app(ignore_cache=True) is not first
    assert server.create_api_app(fast_api_app_kwargs={"title": "x"}) is not first
    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "other")
    assert server.create_api_app() is not first
    assert first.title == "Prefect REST API"


def test_create_app_is_cached_and_mounts_api_and_ui(tmp_path):
    from prefect_trio_server.settings import Settings

    settings = Settings(home=tmp_path)
    app = server.create_app(settings)
    assert server.create_app(settings) is app
    assert server.create_app(settings, ignore_cache=True) is not app
    mounts = {route.path for route in app.routes}
    assert "/api" in mounts
    assert "" in mounts or "/" in mounts


def test_ephemeral_app_has_no_ui(tmp_path):
    from prefect_trio_server.settings import Settings

    app = server.create_app(Settings(home=tmp_path), ephemeral=True)
    assert {route.path for route in app.routes} == {"/api"}
