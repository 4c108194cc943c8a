"""The real Prefect 3.9.1 client emits events over the websocket and reads them back in pages."""

from __future__ import annotations

import json

import pytest

from interop_client import Client

pytestmark = pytest.mark.slow


def test_the_client_reads_back_the_events_it_emits(prefect_client: Client) -> None:
    result = prefect_client.run(
        """
        import asyncio, json, time
        from datetime import datetime, timedelta, timezone
        from prefect.client.orchestration import get_client
        from prefect.events import Event, RelatedResource, Resource
        from prefect.events.clients import get_events_client
        from prefect.events.filters import (
            EventFilter, EventNameFilter, EventRelatedFilter, EventResourceFilter,
        )

        async def main():
            start = datetime.now(timezone.utc) - timedelta(minutes=1)
            async with get_events_client() as events:
                for n in range(7):
                    await events.emit(Event(
                        event=f"interop.tick.{n % 2}",
                        occurred=start + timedelta(milliseconds=n),
                        resource=Resource({"prefect.resource.id": f"interop.clock.{n}"}),
                        related=[RelatedResource({
                            "prefect.resource.id": "interop.owner",
                            "prefect.resource.role": "owner",
                        })],
                        payload={"n": n},
                    ))
            criteria = EventFilter(
                event=EventNameFilter(prefix=["interop.tick."]),
                resource=EventResourceFilter(id_prefix=["interop.clock."]),
                related=EventRelatedFilter(role=["owner"]),
            )
            async with get_client() as client:
                deadline = time.monotonic() + 30
                while True:  # the websocket stores asynchronously
                    page = await client.read_events(filter=criteria, limit=3)
                    if page.total == 7 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                pages = [page]
                while pages[-1].next_page is not None:
                    pages.append(await client.read_events_page(pages[-1].next_page))
            print(json.dumps({
                "totals": [p.total for p in pages],
                "payloads": [e.payload["n"] for p in pages for e in p.events],
            }))

        asyncio.run(main())
        """
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"totals": [7, 7, 7], "payloads": [6, 5, 4, 3, 2, 1, 0]}
