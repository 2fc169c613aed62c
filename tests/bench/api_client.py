"""The load client of the API benchmark, run as its own process (so it does not share the
server's interpreter): `python -m tests.bench.api_client URL place|query|burst TOKEN` prints each
request's latency in ms as JSON (`burst`: each request's status and latency).
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time

import httpx

RATE = 100
SECONDS = 10
BURST_CLIENTS = 50
BURST_ORDERS = 200


def order_body(client_order_id: str) -> dict[str, str]:
    """Return a valid limit bid of the bench strategy with this client order id."""
    return {
        "strategy_id": "bench",
        "side": "bid",
        "order_type": "limit",
        "price_krw": "1000000",
        "volume_btc": "0.01",
        "client_order_id": client_order_id,
    }


def burst(url: str, token: str) -> list[tuple[int, float]]:
    """POST 200 valid orders on one strategy from 50 clients at once; return (status, ms)."""
    auth = {"Authorization": f"Bearer {token}"}
    barrier = threading.Barrier(BURST_CLIENTS)
    answers: list[tuple[int, float]] = []

    def client_sends(client_no: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/health")  # connected before the burst
            barrier.wait()
            for n in range(BURST_ORDERS // BURST_CLIENTS):
                body = order_body(f"burst-{client_no}-{n}")
                start = time.perf_counter()
                status = client.post("/orders", headers=auth, json=body).status_code
                answers.append((status, (time.perf_counter() - start) * 1000))

    threads = [threading.Thread(target=client_sends, args=(c,)) for c in range(BURST_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def main(url: str, mode: str, token: str) -> None:
    if mode == "burst":
        print(json.dumps(burst(url, token)))  # noqa: T201 - the result, read by the benchmark
        return
    auth = {"Authorization": f"Bearer {token}"}
    counter = itertools.count()
    with httpx.Client(base_url=url, timeout=5) as client:

        def place() -> httpx.Response:
            body = order_body(f"bench-{mode}-{next(counter)}")
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
