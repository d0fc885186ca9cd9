"""POST /api/ports and POST /api/transfers on the paper service: validated, journaled like every
command, and durable: a SIGKILL and a restart give back the same subaccounts."""

from __future__ import annotations

import os
import signal

import aiohttp

from router.paper.openapi import load_document

from .test_paper_sigkill import _ready, _start


async def _post(
    session: aiohttp.ClientSession, url: str, path: str, body: dict
) -> tuple[int, dict]:
    async with session.post(url + path, json=body) as response:
        return response.status, await response.json()


async def _account(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(url + "/api/accounts/desk-a") as response:
        assert response.status == 200
        return {s["id"]: s for s in (await response.json())["subaccounts"]}


def test_ports_and_transfers_are_in_openapi():
    paths = load_document()["paths"]
    assert "post" in paths["/api/ports"] and "post" in paths["/api/transfers"]
    body = paths["/api/ports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["account", "from", "to", "symbol", "size"]


async def test_a_port_keeps_the_entry_and_survives_sigkill(tmp_path):
    db = tmp_path / "paper.db"
    proc, url = _start(db)
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url)
            status, _ = await _post(
                session, url, "/api/accounts/desk-a/subaccounts", {"name": "hedge"}
            )
            assert status == 200
            transfer = {
                "account": "desk-a",
                "from": "main",
                "to": "hedge",
                "asset": "USDC",
                "amount": "20000",
            }
            assert (await _post(session, url, "/api/transfers", transfer))[0] == 200
            order = {
                "client_id": "p1",
                "account": "desk-a",
                "symbol": "ETH/USDC:USDC",
                "side": "buy",
                "qty": "4",
            }
            status, doc = await _post(session, url, "/api/orders", order)
            assert status == 200 and doc["status"] == "filled", doc
            port = {
                "account": "desk-a",
                "from": "main",
                "to": "hedge",
                "symbol": "ETH-PERP",
                "size": "1.5",
            }
            # refused input changes nothing and names the field
            for bad, field in (
                ({**port, "at_mark": "yes"}, "at_mark"),
                ({**port, "size": "99"}, "size"),
                ({**port, "symbol": "BTC-PERP"}, "symbol"),
                ({**port, "to": "main"}, "to"),
            ):
                status, error = await _post(session, url, "/api/ports", bad)
                assert status in (400, 422) and error["error"]["field"] == field, (bad, error)
            before = await _account(session, url)
            status, ported = await _post(session, url, "/api/ports", port)
            assert status == 200 and ported["at_mark"] is False, ported
            after = await _account(session, url)
            (moved,) = after["desk-a/hedge"]["positions"]
            (kept,) = after["desk-a/main"]["positions"]
            (original,) = before["desk-a/main"]["positions"]
            assert moved["entry"] == original["entry"] == kept["entry"]  # the entry is kept
            assert moved["size"] == "1.50000000" and kept["size"] == "2.50000000"
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    proc, url = _start(db)
    try:
        async with aiohttp.ClientSession() as session:
            await _ready(session, url)
            restored = await _account(session, url)
            for sub in ("desk-a/main", "desk-a/hedge"):
                # marks move with simulated time; what was booked does not
                def held(view: dict) -> list:
                    return [(p["symbol"], p["size"], p["entry"]) for p in view["positions"]]

                assert held(restored[sub]) == held(after[sub])
                assert restored[sub]["balances"] == after[sub]["balances"]
            events = []
            after_seq = -1
            while True:  # the whole journal, page by page
                async with session.get(f"{url}/api/journal?after={after_seq}&limit=1000") as r:
                    records = (await r.json())["records"]
                if not records:
                    break
                events += [(e["event"], e.get("symbol")) for e in records]
                after_seq = records[-1]["seq"]
            assert ("port_position", "ETH-PERP") in events
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
