"""Load benchmark of the venue server on loopback: requests per second, p50 and p99 latency.

Plain script (not collected by pytest). The server runs in a child process (the default market,
rate limits lifted) so the client's event loop does not share a core's time slice with it; the
client keeps ``concurrency`` requests in flight over one keep-alive session. Workloads:

- ``ping``: GET /api/v3/ping, the HTTP + routing baseline measured in the same run;
- ``depth-N``: GET /api/v3/depth?limit=N on the order book venue (N levels per side);
- ``order``: signed POST /api/v3/order, a 0.01 ETH MARKET order (alternating buy and sell) on the
  book: HMAC verification, timestamp window, replay cache, matching and exact settlement.

Each (workload, concurrency) runs ``--rounds`` times ``--requests`` requests; the round with the
median throughput is reported. Fixed inputs, no randomness.

Websocket fan-out (same server, after the REST table): ``--subscribers`` clients (100) hold
``ethusdc@depth`` and ``ethusdc@trade`` on the book venue while one client sends ``--ws-orders``
alternating 0.01 ETH MARKET orders, one at a time. Reported: depth diffs delivered per second
(summed over subscribers) against the order rate, and the delay from sending an order to the
arrival of its trade event at a subscriber (p50, p99), next to the signed order round trip of the
same run (the trade happens inside that round trip, so the delay is an upper bound).

    .venv/bin/python benchmarks/bench_server.py [--requests 2000] [--rounds 3] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _serve(port_queue: multiprocessing.Queue[int]) -> None:
    from router.app import DEFAULT_CONFIG, load_market
    from router.server.app import ServerLimits
    from router.server.build import build_server
    from router.server.runner import start

    async def main() -> None:
        server = build_server(
            load_market(DEFAULT_CONFIG),
            limits=ServerLimits(weight_per_minute=10**9, orders_per_10s=10**9),
        )
        _runner, port = await start(server.app)
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


async def _run(base: str, make_request, total: int, concurrency: int) -> tuple[float, list[float]]:
    import aiohttp

    latencies: list[float] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                method, url, headers, body = make_request(i)
                started = time.perf_counter()
                async with session.request(
                    method, base + url, headers=headers, data=body
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status} {await response.text()}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, latencies


def _workloads(key: str, secret: str) -> dict:
    from router.server.auth import sign

    def get(path: str):
        return lambda i: ("GET", path, None, None)

    def order(i: int):
        params = {
            "symbol": "ETHUSDC",
            "side": "BUY" if i % 2 == 0 else "SELL",
            "type": "MARKET",
            "quantity": "0.01",
            "newClientOrderId": f"bench-{os.getpid()}-{time.perf_counter_ns()}-{i}",
            "timestamp": time.time_ns() // 1_000_000,
        }
        query = urlencode(params)
        body = f"{query}&signature={sign(secret, query)}"
        return (
            "POST",
            "/v/binance-book/api/v3/order",
            {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
            body,
        )

    return {
        "ping": get("/api/v3/ping"),
        "depth-5": get("/v/binance-book/api/v3/depth?symbol=ETHUSDC&limit=5"),
        "depth-50": get("/v/binance-book/api/v3/depth?symbol=ETHUSDC&limit=50"),
        "depth-pool-20": get("/v/uni-v3-5/api/v3/depth?symbol=ETHUSDC&limit=20"),
        "order": order,
    }


async def _fan_out(base: str, make_order, subscribers: int, orders: int) -> dict[str, float]:
    import json

    import aiohttp

    ws_url = (
        base.replace("http", "ws", 1) + "/v/binance-book/stream?streams=ethusdc@depth/ethusdc@trade"
    )
    depth_events = 0
    trade_seen: dict[int, float] = {}  # trade id -> first arrival (perf_counter)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(ws_url) for _ in range(subscribers)]

        async def read(ws) -> None:
            nonlocal depth_events
            async for msg in ws:
                # the server writes the stream name first: count depth diffs without parsing
                # them, so the client's own work stays small next to the server's
                if msg.data.startswith('{"stream":"ethusdc@depth"'):
                    depth_events += 1
                else:
                    arrived = time.perf_counter()
                    trade_seen.setdefault(json.loads(msg.data)["data"]["t"], arrived)

        readers = [asyncio.ensure_future(read(ws)) for ws in sockets]
        await asyncio.sleep(0.5)
        sent: list[float] = []
        round_trips: list[float] = []
        started = time.perf_counter()
        for i in range(orders):
            method, url, headers, body = make_order(i)
            sent.append(time.perf_counter())
            async with session.request(method, base + url, headers=headers, data=body) as r:
                payload = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"order: HTTP {r.status} {payload}")
            round_trips.append(time.perf_counter() - sent[-1])
            trade_ids = [f["tradeId"] for f in payload["fills"]]
            while not all(t in trade_seen for t in trade_ids):  # bounded: the server sends each
                await asyncio.sleep(0.0005)
                if time.perf_counter() - sent[-1] > 10:
                    raise RuntimeError("trade event did not arrive within 10 s")
            sent[-1] = (sent[-1], max(trade_seen[t] for t in trade_ids))  # type: ignore[call-overload]
        await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        for reader in readers:
            reader.cancel()
        for ws in sockets:
            await ws.close()
    delays = [arrived - at for at, arrived in sent]  # type: ignore[misc]
    delay_q = statistics.quantiles(delays, n=100)
    trip_q = statistics.quantiles(round_trips, n=100)
    return {
        "orders_per_s": orders / elapsed,
        "diffs_per_s": depth_events / elapsed,
        "delay_p50_ms": delay_q[49] * 1e3,
        "delay_p99_ms": delay_q[98] * 1e3,
        "trip_p50_ms": trip_q[49] * 1e3,
        "trip_p99_ms": trip_q[98] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--ws-orders", type=int, default=500)
    args = parser.parse_args()

    from router.app import DEFAULT_CONFIG, load_market

    account = load_market(DEFAULT_CONFIG).config.accounts[0]
    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    child = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    child.start()
    try:
        base = f"http://127.0.0.1:{queue.get(timeout=60)}"
        print(
            f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; {args.requests} requests x {args.rounds} rounds, median round"
        )
        print(f"{'workload':<16}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        for name, make in _workloads(account.api_key, account.api_secret).items():
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                rounds = [
                    asyncio.run(_run(base, make, args.requests, concurrency))
                    for _ in range(args.rounds)
                ]
                rps, latencies = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
                quantiles = statistics.quantiles(latencies, n=100)
                print(
                    f"{name:<16}{concurrency:>5}{rps:>10.0f}{quantiles[49] * 1e3:>9.2f}{quantiles[98] * 1e3:>9.2f}"
                )
        order = _workloads(account.api_key, account.api_secret)["order"]
        fan = asyncio.run(_fan_out(base, order, args.subscribers, args.ws_orders))
        print(
            f"# websocket fan-out: {args.subscribers} subscribers to ethusdc@depth and @trade, "
            f"{args.ws_orders} sequential MARKET orders"
        )
        print(
            f"orders/s {fan['orders_per_s']:.0f}; depth diffs delivered/s {fan['diffs_per_s']:.0f}; "
            f"order sent -> trade event p50 {fan['delay_p50_ms']:.2f} ms, p99 "
            f"{fan['delay_p99_ms']:.2f} ms; order round trip p50 {fan['trip_p50_ms']:.2f} ms, "
            f"p99 {fan['trip_p99_ms']:.2f} ms"
        )
    finally:
        child.terminate()
        child.join()


if __name__ == "__main__":
    main()
