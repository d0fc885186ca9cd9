"""Paper trading with the scheduled venue faults of ``crossroute execute --faults``: a lost reply is
reconciled through the HTTP API, the schedule is stored and a restart continues it, and a hung
venue holds the service's lock no longer than the child timeout allows."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from router.execution.faults import Fault
from router.model.errors import ConfigError
from router.paper.api import create_paper_app
from router.paper.service import PaperService
from tests.integration.test_paper_api import Api

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/default.toml"
VENUE = "binance-book"


def _order(client_id: str, qty: str = "4") -> dict:
    return {
        "client_id": client_id,
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": qty,
        "venues": [VENUE],
    }


async def _serve(service: PaperService) -> tuple[Api, TestServer]:
    app = create_paper_app(service)
    await service.open()
    server = TestServer(app)
    await server.start_server()
    return Api(server, service), server


async def _stop(api: Api, server: TestServer) -> None:
    await api.session.close()
    await server.close()
    api.service.close()


async def _records(api: Api, client_id: str) -> list[dict]:
    _, journal = await api.call("GET", "/api/journal?limit=1000")
    return [r for r in journal["records"] if r.get("client_id") == client_id]


async def test_a_lost_reply_is_reconciled_through_the_http_api(tmp_path):
    service = PaperService(
        CONFIG,
        db=tmp_path / "p.db",
        faults=[Fault(VENUE, "lost_reply", 0)],
        child_timeout_secs=Decimal(2),
    )
    api, server = await _serve(service)
    try:
        eth_before = service.ledger.balance("desk-a/main", "ETH")
        status, doc = await api.call("POST", "/api/orders", _order("lost1"))
        assert status == 200, doc
        # the venue filled the child, its reply was lost; the executor asked the venue and booked
        assert doc["status"] == "filled", doc
        assert Decimal(doc["legs"][0]["filled_qty"]) == 4
        records = await _records(api, "lost1")
        assert any("reply lost" in json.dumps(r) for r in records), records
        assert service.ledger.balance("desk-a/main", "ETH") - eth_before == 4
        _, fills = await api.call("GET", "/api/fills?account=desk-a")
        assert [f["venue"] for f in fills["fills"] if f["client_id"] == "lost1"] == [VENUE]
        service._check()
    finally:
        await _stop(api, server)


async def test_the_schedule_is_stored_and_a_restart_continues_it(tmp_path):
    db = tmp_path / "p.db"
    service = PaperService(
        CONFIG, db=db, faults=[Fault(VENUE, "lost_reply", 1)], child_timeout_secs=Decimal(2)
    )
    api, server = await _serve(service)
    try:
        assert (await api.call("POST", "/api/orders", _order("r1")))[1]["status"] == "filled"
        assert not any("reply lost" in json.dumps(r) for r in await _records(api, "r1"))
    finally:
        await _stop(api, server)
    # a restart without --faults continues the stored schedule: the venue's second child is hit
    again = PaperService(CONFIG, db=db)
    assert again.faults == (Fault(VENUE, "lost_reply", 1),)
    assert again.child_timeout_secs == Decimal(2)
    api, server = await _serve(again)
    try:
        status, doc = await api.call("POST", "/api/orders", _order("r2"))
        assert status == 200 and doc["status"] == "filled", doc
        assert any("reply lost" in json.dumps(r) for r in await _records(api, "r2"))
    finally:
        await _stop(api, server)
    # another schedule (or timeout) for this database is refused: its log was acknowledged under it
    for kwargs in ({"faults": []}, {"child_timeout_secs": Decimal(3)}):
        with pytest.raises(ConfigError, match="created with"):
            PaperService(CONFIG, db=db, **kwargs).close()


async def test_a_hung_venue_releases_the_service_lock_within_the_child_timeout(tmp_path):
    service = PaperService(
        CONFIG,
        db=tmp_path / "p.db",
        faults=[Fault(VENUE, "hang", 0)],
        child_timeout_secs=Decimal("0.1"),
    )
    api, server = await _serve(service)
    try:
        status, doc = await api.call("POST", "/api/orders", _order("h1"))
        assert status == 200, doc
        assert doc["status"] == "unreconciled" and VENUE in doc["reason"], doc
        assert not service.lock.locked()
        # the service goes on: other venues trade, time moves, the silent venue is routed around
        other = {**_order("h2"), "venues": ["uni-v2", "uni-v3-5"]}
        assert (await api.call("POST", "/api/orders", other))[1]["status"] == "filled"
        assert (await api.call("POST", "/api/market/step", {"ticks": 2}))[0] == 200
        service._check()
        digest = service.state_digest()
    finally:
        await _stop(api, server)
    # a restart replays the hung order (waiting out the same timeouts) to the same state
    again = PaperService(CONFIG, db=tmp_path / "p.db")
    create_paper_app(again)
    assert await again.open() == 3
    assert again.state_digest() == digest
    again.close()


def _paper(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "paper", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "text,flag",
    [
        ('[[faults]]\nvenue = "nowhere"\nkind = "hang"\n', "venue"),
        ('[[faults]]\nvenue = "uni-v2"\nkind = "explode"\n', "kind"),
    ],
)
def test_a_bad_faults_file_is_one_line_and_exit_2(tmp_path, text, flag):
    faults = tmp_path / "faults.toml"
    faults.write_text(text)
    done = _paper("--db", str(tmp_path / "p.db"), "--port", "0", "--faults", str(faults))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert flag in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "p.db").exists()


def test_a_bad_child_timeout_is_one_line_and_exit_2(tmp_path):
    done = _paper("--db", str(tmp_path / "p.db"), "--port", "0", "--child-timeout", "-1")
    assert done.returncode == 2 and "--child-timeout" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_paper_starts_with_a_faults_file_and_keeps_its_schedule(tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text(f'[[faults]]\nvenue = "{VENUE}"\nkind = "lost_reply"\nafter = 3\n')
    db = str(tmp_path / "p.db")
    command = [sys.executable, "-m", "router.cli", "paper", "--db", db, "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--speed", "0", "--no-status", "--faults", str(faults), "--child-timeout", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, proc.stderr.read() if proc.poll() is not None else line
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    service = PaperService(CONFIG, db=db)  # the stored schedule, without --faults
    assert service.faults == (Fault(VENUE, "lost_reply", 3),)
    assert service.child_timeout_secs == 1
    service.close()
    done = _paper("--db", db, "--port", "0", "--child-timeout", "2")
    assert done.returncode == 2 and "--child-timeout" in done.stderr, done.stderr


async def test_a_working_order_is_not_retried_on_a_venue_that_is_down(tmp_path):
    service = PaperService(CONFIG, db=tmp_path / "p.db", faults=[Fault(VENUE, "down", 0)])
    api, server = await _serve(service)
    try:
        gtc = {**_order("g1", "2"), "limit": "2800", "tif": "gtc"}  # marketable, if it could reach
        status, doc = await api.call("POST", "/api/orders", gtc)
        assert status == 200 and doc["status"] == "open", doc
        assert (await api.call("POST", "/api/market/step", {"ticks": 3}))[0] == 200
        # the venue quotes within the limit, but the executor cannot reach it: no retry per tick
        _, after = await api.call("GET", "/api/orders/g1")
        assert after["attempts"] == 1 and after["status"] == "open", after
        service._check()
    finally:
        await _stop(api, server)
