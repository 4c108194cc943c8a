"""The foundation's API, on SQLite and on PostgreSQL."""

import socket
import uuid

import httpx
import pytest
from sqlalchemy import create_engine


async def test_health_and_versions(prefect_trio_client: httpx.AsyncClient):
    assert (await prefect_trio_client.get("/health")).json() is True
    assert (await prefect_trio_client.get("/version")).json() == "0.8.4"
    server_version = (await prefect_trio_client.get("/admin/version")).json()
    assert isinstance(server_version, str)
    assert server_version.split(".")[0] == "3"
    assert (await prefect_trio_client.get("/hello")).json() == "👋"


async def test_ready_queries_the_database(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app, monkeypatch: pytest.MonkeyPatch
):
    response = await prefect_trio_client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"message": "OK"}

    # Point reads at a database that does not answer (a closed local port).
    database = prefect_trio_app.state.api_app.state.database
    unreachable = create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none",
        connect_args={"connect_timeout": 2},
    )
    monkeypatch.setattr(database, "read_engine", unreachable)
    response = await prefect_trio_client.get("/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"message": "Database is not available"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_admin_settings_in_prefect_shape(prefect_trio_client: httpx.AsyncClient):
    body = (await prefect_trio_client.get("/admin/settings")).json()
    assert body["server"]["api"]["base_path"] == "/api"
    assert body["server"]["database"]["connection_url"] in (None, "********")
    assert body["server"]["ui"]["enabled"] is False
    assert body["trio_server"]["PREFECT_TRIO_SERVER_REQUEST_LIMIT"] == 100
    assert {"api", "client", "logging", "home"} <= set(body)


async def test_default_result_storage(prefect_trio_client: httpx.AsyncClient):
    empty = await prefect_trio_client.get("/admin/storage")
    assert empty.json() == {"default_result_storage_block_id": None}
    unknown = await prefect_trio_client.put(
        "/admin/storage", json={"default_result_storage_block_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
    cleared = await prefect_trio_client.put(
        "/admin/storage", json={"default_result_storage_block_id": None}
    )
    assert cleared.json() == {"default_result_storage_block_id": None}
    assert (await prefect_trio_client.delete("/admin/storage")).status_code == 204
    assert (await prefect_trio_client.get("/admin/storage")).json() == {
        "default_result_storage_block_id": None
    }
    bad = await prefect_trio_client.put(
        "/admin/storage", json={"default_result_storage_block_id": "not-a-uuid"}
    )
    assert bad.status_code == 422


async def test_csrf_token_when_disabled_is_the_422_clients_expect(
    prefect_trio_client: httpx.AsyncClient,
):
    response = await prefect_trio_client.get("/csrf-token", params={"client": "abc"})
    assert response.status_code == 422
    assert response.json() == {"detail": "CSRF protection is disabled."}


async def test_openapi_and_docs(prefect_trio_client: httpx.AsyncClient):
    schema = (await prefect_trio_client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Prefect REST API"
    for path in (
        "/health",
        "/version",
        "/ready",
        "/hello",
        "/admin/version",
        "/admin/settings",
        "/csrf-token",
    ):
        assert path in schema["paths"], path
    docs = await prefect_trio_client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


@pytest.mark.parametrize(
    ("header", "status"),
    [("0.8.4", 200), ("0.8.0", 200), ("1.0.0", 200), ("0.7.9", 400), ("banana", 400)],
)
async def test_api_version_header(prefect_trio_client: httpx.AsyncClient, header, status):
    response = await prefect_trio_client.get("/hello", headers={"X-PREFECT-API-VERSION": header})
    assert response.status_code == status
    if status == 400:
        assert (
            "X-PREFECT-API-VERSION" in response.json()["detail"]
            or "version" in response.json()["detail"]
        )


async def test_unknown_route_is_404(prefect_trio_client: httpx.AsyncClient):
    response = await prefect_trio_client.get("/no/such/thing")
    assert response.status_code == 404


async def test_malformed_query_is_422_with_the_field(prefect_trio_client: httpx.AsyncClient):
    response = await prefect_trio_client.get("/csrf-token")
    assert response.status_code == 422
    body = response.json()
    assert body["exception_message"] == "Invalid request received."
    assert body["exception_detail"][0]["loc"] == ["query", "client"]
    assert "request_body" in body
