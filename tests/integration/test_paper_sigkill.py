"""Kill the paper service with SIGKILL in the middle of a stream of orders, restart it, and check
that nothing acknowledged was lost and that the state equals the acknowledged history."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def _start(db: Path) -> tuple[subprocess.Popen, str]:
    """Start `python -m router.cli paper` on an ephemeral port; return the process and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.cli",
            "paper",
            "--config",
            "config/default.toml",
            "--db",
            str(db),
            "--port",
            "0",
            "--speed",
            "200",
            "--no-status",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # the service names its port on its first line
    assert "listening on" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split("listening on ")[1].split()[0]


async def _ready(session: aiohttp.ClientSession, url: str) -> dict:
    for _ in range(
        200
    ):  # readiness by polling, bounded by attempts; each attempt waits for a reply
        try:
            async with session.get(url + "/api/health") as response:
                if response.status == 200:
                    return await response.json()
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("service never became ready")


async def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "paper.db"
    proc, url = _start(db)
    acked: dict[str, dict] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url)

            async def stream(worker: int) -> None:
                for i in range(1000):
                    body = {
                        "client_id": f"w{worker}-{i}",
                        "account": "desk-a",
                        "symbol": "ETH/USDC",
                        "side": "buy" if (i + worker) % 2 else "sell",
                        "qty": "0.25",
                    }
                    async with session.post(url + "/api/orders", json=body) as response:
                        assert response.status == 200
                        acked[body["client_id"]] = await response.json()

            tasks = [asyncio.create_task(stream(w)) for w in range(4)]
            while len(acked) < 60:  # kill once a stream of acknowledgements is flowing
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(
                isinstance(r, (aiohttp.ClientError, AssertionError, ConnectionError))
                for r in results
            )
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    proc, url = _start(db)
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url)
            for client_id, doc in acked.items():
                async with session.get(f"{url}/api/orders/{client_id}") as response:
                    assert response.status == 200, client_id
                    assert await response.json() == doc
            async with session.get(url + "/api/fills?limit=1000") as response:
                fills = (await response.json())["fills"]
            acked_fills = sorted(i for doc in acked.values() for i in doc["fill_ids"])
            stored = {f["fill_id"]: f for f in fills}
            assert set(acked_fills) <= set(stored)
            # Every stored fill belongs to an order that exists after restart, ids dense from 1.
            assert sorted(stored) == list(range(1, len(stored) + 1))
            async with session.get(url + "/api/orders?limit=1000") as response:
                orders = {o["client_id"]: o for o in (await response.json())["orders"]}
            assert set(acked) <= set(orders)
            assert {f["client_id"] for f in fills} <= set(orders)
            async with session.get(url + "/api/accounts/desk-a") as response:
                balances = (await response.json())["subaccounts"][0]["balances"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    # The balances equal the starting balances plus the fills of the stored (acknowledged or
    # committed) orders, exactly.
    from decimal import Decimal

    eth = Decimal("100") + sum(Decimal(f["qty"]) * (1 if f["side"] == "buy" else -1) for f in fills)
    usdc = Decimal("1000000") + sum(
        Decimal(f["quote_amount"]) * (-1 if f["side"] == "buy" else 1) for f in fills
    )
    assert Decimal(balances["ETH"]) == eth and Decimal(balances["USDC"]) == usdc
