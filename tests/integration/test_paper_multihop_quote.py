"""``GET /api/quote?from=A&to=B`` answers the multi-hop plan of router/routing: on a fresh market
(tick 0: the config's state) it equals ``crossroute route --from A --to B --json``."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from router.paper.api import create_paper_app
from router.paper.service import PaperService
from tests.integration.test_paper_api import Api

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def api(tmp_path):
    service = PaperService("config/default.toml", db=tmp_path / "paper.db")
    await service.open()
    server = TestServer(create_paper_app(service))
    await server.start_server()
    client = Api(server, service)
    yield client
    await client.session.close()
    await server.close()
    service.close()


def _route_json(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "route", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check(plan: dict) -> None:
    """Each path's hops chain (step k's output feeds step k+1) and the paths add up."""
    total_in = total_out = Decimal(0)
    for path in plan["paths"]:
        hops = path["hops"]
        assert [h["from"] for h in hops if h["step"] == 1] and hops[0]["from"] == plan["from"]
        assert path["assets"][0] == plan["from"] and path["assets"][-1] == plan["to"]
        for step in range(1, len(path["assets"])):
            at = [h for h in hops if h["step"] == step]
            assert {(h["from"], h["to"]) for h in at} == {
                (path["assets"][step - 1], path["assets"][step])
            }
        total_in += Decimal(path["amount_in"])
        total_out += Decimal(path["amount_out"])
    assert total_in == Decimal(plan["amount_in"]) and total_out == Decimal(plan["amount_out"])


@pytest.mark.parametrize(
    "query,args",
    [
        ("from=ETH&to=USDC&qty=40", ("--from", "ETH", "--to", "USDC", "--qty", "40")),
        ("from=USDC&to=ETH&to_qty=3", ("--from", "USDC", "--to", "ETH", "--to-qty", "3")),
        (
            "from=ETH&to=USDC&qty=40&max_hops=1",
            ("--from", "ETH", "--to", "USDC", "--qty", "40", "--max-hops", "1"),
        ),
    ],
)
async def test_a_conversion_quote_is_the_multihop_plan_of_crossroute_route(api, query, args):
    before = api.service.state_digest()
    status, plan = await api.call("GET", "/api/quote?" + query)
    assert status == 200, plan
    assert plan == _route_json(*args)
    _check(plan)
    assert api.service.state_digest() == before  # a quote changes nothing


async def test_a_large_conversion_goes_through_more_than_one_path(api):
    status, plan = await api.call("GET", "/api/quote?from=ETH&to=USDC&qty=40")
    assert status == 200, plan
    assert len(plan["paths"]) >= 2 and any(len(p["assets"]) == 3 for p in plan["paths"]), plan


BAD = [
    ("from=ETH&to=USDC", "qty"),
    ("from=ETH&to=USDC&qty=1&to_qty=1", "qty"),
    ("from=ETH&to=DOGE&qty=1", "to"),
    ("from=ETH&qty=1", "to"),
    ("to=USDC&qty=1", "from"),
    ("from=ETH&to=ETH&qty=1", "to"),
    ("from=ETH&to=USDC&qty=1e3", "qty"),
    ("from=ETH&to=USDC&qty=-1", "qty"),
    ("from=ETH&to=USDC&qty=1&max_hops=0", "max_hops"),
    ("from=ETH&to=USDC&qty=1&max_hops=9", "max_hops"),
    ("from=ETH&to=USDC&qty=1&side=buy", "side"),
    ("from=ETH&to=USDC&qty=1&symbol=ETH/USDC", "symbol"),
    ("from=ETH&to=USDC&qty=1&limit=1", "limit"),
    ("from=ETH&to=USDC&qty=99999999999999", "qty"),
]


@pytest.mark.parametrize("query,field", BAD, ids=[q for q, _ in BAD])
async def test_a_bad_conversion_quote_is_a_clear_400_and_changes_nothing(api, query, field):
    before = api.service.state_digest(), api.service.store.counts()
    status, data = await api.call("GET", "/api/quote?" + query)
    assert status == 400, data
    assert data["error"]["field"] == field and data["error"]["allowed"], data
    assert (api.service.state_digest(), api.service.store.counts()) == before
