async def test_health(prefect_trio_client):
    r = await prefect_trio_client.get("/health")
    assert r.status_code == 200 and r.json() is True
    r = await prefect_trio_client.get("/ready")
    print(r.status_code, r.text)
    r = await prefect_trio_client.get("/admin/version")
    print(r.status_code, r.text)
    r = await prefect_trio_client.get("/csrf-token?client=x")
    print(r.status_code, r.text)
    r = await prefect_trio_client.get("/openapi.json")
    print(r.status_code, r.text[:300])
