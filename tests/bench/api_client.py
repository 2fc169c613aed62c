"""The load client of the API benchmark, run as its own process (so it does not share the
server's interpreter): `python -m tests.bench.api_client URL place|query TOKEN` prints each
request's latency in ms as JSON.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import httpx

RATE = 100
SECONDS = 10


def main(url: str, mode: str, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    counter = itertools.count()
    with httpx.Client(base_url=url, timeout=5) as client:

        def place() -> httpx.Response:
            body = {
                "strategy_id": "bench",
                "side": "bid",
                "order_type": "limit",
                "price_krw": "1000000",
                "volume_btc": "0.01",
                "client_order_id": f"bench-{mode}-{next(counter)}",
            }
            return client.post("/orders", headers=auth, json=body)

        def query() -> httpx.Response:
            return client.get("/orders", params={"limit": 50, "strategy_id": "bench"})

        call, expect = (place, 201) if mode == "place" else (query, 200)
        for _ in range(20):  # warm-up
            call()
        latencies = []
        start = time.perf_counter()
        for n in range(RATE * SECONDS):
            planned = start + n / RATE
            time.sleep(max(0.0, planned - time.perf_counter()))
            response = call()
            if response.status_code != expect:
                raise SystemExit(f"{response.status_code}: {response.text[:300]}")
            latencies.append((time.perf_counter() - planned) * 1000)
    print(json.dumps(latencies))  # noqa: T201 - the result, read by the benchmark


if __name__ == "__main__":
    main(*sys.argv[1:4])
