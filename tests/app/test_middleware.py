"""Auth, CSRF, body guards, CORS and gzip, seen from a client of the whole app."""

import base64
from pathlib import Path

import httpx
import pytest

from prefect_trio_server.server import create_app
from prefect_trio_server.settings import Settings


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


async def running(settings: Settings):
    app = create_app(settings, ignore_cache=True)
    return app, app.router.lifespan_context(app)


@pytest.fixture
def make_client(tmp_path: Path):
    async def make(**overrides):
        settings = Settings(home=tmp_path / "home", ui_enabled=False, **overrides)
        app = create_app(settings, ignore_cache=True)
        return app, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://server"
        )

    return make


async def test_auth_string_guards_everything_but_health_and_ready(make_client):
    app, http = await make_client(api_auth_string="s3cret")
    async with app.router.lifespan_context(app), http:
        assert (await http.get("/api/health")).status_code == 200
        assert (await http.get("/api/ready")).status_code == 200
        denied = await http.get("/api/admin/version")
        assert denied.status_code == 401
        assert denied.json() == {"exception_message": "Unauthorized"}
        assert (await http.get("/api/admin/version", headers=basic("wrong"))).status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert (await http.get("/api/admin/version", headers=bearer)).status_code == 401
        allowed = await http.get("/api/admin/version", headers=basic("s3cret"))
        assert allowed.status_code == 200
        # Exact paths only: a route that merely ends in /health is not public.
        assert (await http.get("/api/hello/health")).status_code == 401
        assert (await http.post("/api/health")).status_code == 401


async def test_csrf_tokens_when_enabled(make_client):
    app, http = await make_client(csrf_protection_enabled=True)
    async with app.router.lifespan_context(app), http:
        token = await http.get("/api/csrf-token", params={"client": "client-1"})
        assert token.status_code == 200
        body = token.json()
        assert body["client"] == "client-1"
        assert {"id", "created", "updated", "token", "expiration"} <= set(body)

        missing = await http.post("/api/no-such-write")
        assert missing.status_code == 403
        assert missing.json() == {"detail": "Missing CSRF token."}
        no_client = await http.post("/api/x", headers={"Prefect-Csrf-Token": body["token"]})
        assert no_client.json() == {"detail": "Missing client identifier."}
        wrong = await http.post(
            "/api/x", headers={"Prefect-Csrf-Token": "nope", "Prefect-Csrf-Client": "client-1"}
        )
        assert wrong.status_code == 403
        assert wrong.json() == {"detail": "Invalid CSRF token or client identifier."}
        good = await http.post(
            "/api/x",
            headers={"Prefect-Csrf-Token": body["token"], "Prefect-Csrf-Client": "client-1"},
        )
        assert good.status_code == 404  # past the CSRF check, no such route

        # A new token replaces the old one for the same client.
        renewed = (await http.get("/api/csrf-token", params={"client": "client-1"})).json()
        assert renewed["token"] != body["token"]
        assert renewed["id"] == body["id"]
        stale = await http.post(
            "/api/x",
            headers={"Prefect-Csrf-Token": body["token"], "Prefect-Csrf-Client": "client-1"},
        )
        assert stale.status_code == 403


async def test_expired_csrf_token_is_refused(make_client):
    app, http = await make_client(csrf_protection_enabled=True, csrf_token_expiration_seconds=1e-6)
    async with app.router.lifespan_context(app), http:
        body = (await http.get("/api/csrf-token", params={"client": "c"})).json()
        response = await http.post(
            "/api/x", headers={"Prefect-Csrf-Token": body["token"], "Prefect-Csrf-Client": "c"}
        )
        assert response.status_code == 403


async def test_oversized_body_is_413_before_reading(make_client):
    app, http = await make_client(max_request_body_bytes=1024)
    async with app.router.lifespan_context(app), http:
        response = await http.post("/api/hello", content=b"x" * 5000)
        assert response.status_code == 413
        assert "1024" in response.json()["detail"]


async def test_oversized_streamed_body_is_413_and_the_route_sees_a_disconnect():
    from fastapi import FastAPI, Request

    from prefect_trio_server.app.middleware.json_body import BodySizeLimitMiddleware

    inner = FastAPI()
    reads: list[str] = []

    @inner.post("/echo")
    async def echo(request: Request) -> int:
        body = await request.body()
        reads.append("finished")
        return len(body)

    app = BodySizeLimitMiddleware(inner, max_bytes=1024)

    async def chunks():
        for _ in range(10):
            yield b"y" * 500

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.post("/echo", content=chunks())
        assert response.status_code == 413
        assert "1024" in response.json()["detail"]
        assert reads == []
        small = await http.post("/echo", content=b"z" * 1000)
        assert small.json() == 1000


async def test_cors_preflight_answers_with_configured_origins(make_client):
    app, http = await make_client(cors_allowed_origins=["https://ui.example"])
    async with app.router.lifespan_context(app), http:
        response = await http.options(
            "/api/hello",
            headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"},
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://ui.example"
        other = await http.options(
            "/api/hello",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert other.status_code == 400


async def test_large_responses_are_gzipped(make_client):
    app, http = await make_client()
    async with app.router.lifespan_context(app), http:
        response = await http.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert response.headers.get("content-encoding") == "gzip"
        assert response.json()["info"]["title"] == "Prefect REST API"


async def test_metrics_when_enabled(make_client):
    app, http = await make_client(enable_metrics=True)
    async with app.router.lifespan_context(app), http:
        response = await http.get("/api/metrics/")
        assert response.status_code == 200
        assert "python_info" in response.text or "process_" in response.text


async def test_no_metrics_by_default(make_client):
    app, http = await make_client()
    async with app.router.lifespan_context(app), http:
        assert (await http.get("/api/metrics/")).status_code == 404


async def test_body_without_content_type_is_read_as_json():
    from prefect_trio_server.app.middleware.json_body import DefaultJSONContentTypeMiddleware

    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = DefaultJSONContentTypeMiddleware(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://t"
    ) as http:
        request = http.build_request("POST", "/x", content=b'{"a": 1}')
        assert "content-type" not in request.headers
        await http.send(request)
        assert seen["headers"][b"content-type"] == b"application/json"
        await http.post("/x", content=b"a=1", headers={"Content-Type": "text/plain"})
        assert seen["headers"][b"content-type"] == b"text/plain"
