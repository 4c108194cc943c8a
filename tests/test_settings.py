from pathlib import Path

import pytest
from pydantic import ValidationError

from prefect_trio_server import settings_doc
from prefect_trio_server.settings import Settings, env_name

DOCS = Path(__file__).parents[1] / "docs" / "settings.md"


def test_docs_list_every_setting_as_generated():
    assert DOCS.read_text() == settings_doc.render(), "docs/settings.md is stale: run `make docs`"


def test_every_setting_has_a_description_and_an_environment_name():
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert env_name(name).startswith("PREFECT_"), name


def test_prefect_environment_names_are_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREFECT_HOME", "/srv/prefect")
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "4300")
    monkeypatch.setenv(
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example"
    )
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://u:p@h/db")
    monkeypatch.setenv("PREFECT_UI_ENABLED", "false")
    settings = Settings()
    assert settings.home == Path("/srv/prefect")
    assert settings.port == 4300
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.database_url == "postgresql+asyncpg://u:p@h/db"
    assert settings.ui_enabled is False


def test_plain_field_names_in_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", "/somewhere-else")
    monkeypatch.setenv("PORT", "1")
    settings = Settings()
    assert settings.home == Path("~/.prefect")
    assert settings.port == 4200


def test_sqlite_is_the_default_database_under_prefect_home(tmp_path: Path):
    settings = Settings(home=tmp_path)
    assert settings.is_sqlite
    assert settings.database_url == f"sqlite:///{tmp_path / 'prefect.db'}"


def test_environment_round_trip_reproduces_the_settings(monkeypatch: pytest.MonkeyPatch):
    original = Settings(
        home=Path("/x"), port=4321, api_auth_string="secret", cors_allowed_origins=["a", "b"]
    )
    for name, value in original.to_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == original


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "not-a-port")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert error.value.errors()[0]["loc"] == ("PREFECT_SERVER_API_PORT",)


def test_secrets_are_obfuscated_in_public_view():
    public = Settings(
        api_auth_string="hunter2", database_connection_url="sqlite:///x"
    ).public_dict()
    assert public["PREFECT_SERVER_API_AUTH_STRING"] == "********"
    assert public["PREFECT_API_DATABASE_CONNECTION_URL"] == "********"
    assert "hunter2" not in repr(public)


@pytest.mark.parametrize(("raw", "path"), [("api", "/api"), ("/v1/api/", "/v1/api")])
def test_api_base_path_is_normalised(raw: str, path: str) -> None:
    assert Settings(api_base_path=raw).api_base_path == path


def test_api_base_path_cannot_be_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_SERVER_API_BASE_PATH", "/")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert error.value.errors()[0]["loc"] == ("PREFECT_SERVER_API_BASE_PATH",)


async def test_api_served_under_a_custom_base_path(tmp_path: Path) -> None:
    import httpx

    from prefect_trio_server.server import create_app

    app = create_app(Settings(home=tmp_path, ui_enabled=False, api_base_path="/prefect/api"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/prefect/api/health")).json() is True
        assert (await client.get("/api/health")).status_code == 404
