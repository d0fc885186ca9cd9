"""Default price protection in paper trading (router/protection.py): an order without a limit is
limited to the band around its arrival mid, says so in its response and in the route preview, and
``no_limit: true`` lifts it explicitly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer

from router.paper.api import create_paper_app
from router.paper.service import PaperService
from router.protection import DEFAULT_BAND_BPS, arrival_mid, band_limit
from tests.integration.test_paper_api import Api

# Larger than the ETH/USDC venues hold within 1% of the mid at tick 0, within desk-a's margin.
BIG = "1000"


@pytest.fixture
async def fresh(tmp_path):
    """A factory of services at tick 0 (each its own database): equal market states."""
    made = []

    async def make():
        service = PaperService("config/default.toml", db=tmp_path / f"p{len(made)}.db")
        await service.open()
        server = TestServer(create_paper_app(service))
        await server.start_server()
        client = Api(server, service)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.session.close()
        await client.server.close()
        client.service.close()


def _order(qty: str, **extra):
    return {
        "client_id": "o1",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": qty,
        **extra,
    }


def _mid(service: PaperService) -> Decimal:
    mid = arrival_mid(service.market.adapters_for("ETH/USDC", None))
    assert mid is not None
    return mid


@pytest.mark.parametrize("side", ["buy", "sell"])
async def test_an_order_without_a_limit_trades_within_the_default_band_and_says_so(fresh, side):
    api = await fresh()
    mid = _mid(api.service)
    status, doc = await api.call("POST", "/api/orders", _order(BIG, side=side))
    assert status == 200, doc
    limit = band_limit(mid, side, DEFAULT_BAND_BPS)
    assert doc["protection"] == {
        "leg": {
            "mode": "band",
            "limit_price": format(limit, "f"),
            "arrival_mid": format(mid, "f"),
            "band_bps": DEFAULT_BAND_BPS,
        }
    }
    leg = doc["legs"][0]
    filled = Decimal(leg["filled_qty"])
    # Partly filled: the band stopped it before the whole size, at an all-in price inside it.
    assert doc["status"] == "partial" and 0 < filled < Decimal(BIG), doc
    assert "within the limit" in doc["reason"]
    average = Decimal(leg["quote_amount"]) / filled
    assert average <= limit if side == "buy" else average >= limit
    assert (await api.call("GET", "/api/orders/o1"))[1]["protection"] == doc["protection"]

    # The same order on the same market with no_limit: true trades beyond the band.
    other = await fresh()
    status, free = await other.call("POST", "/api/orders", _order(BIG, side=side, no_limit=True))
    assert status == 200, free
    assert free["protection"]["leg"] == {
        "mode": "none",
        "limit_price": None,
        "arrival_mid": format(mid, "f"),
        "band_bps": None,
    }
    assert Decimal(free["legs"][0]["filled_qty"]) > filled


async def test_an_order_with_a_limit_keeps_it(fresh):
    api = await fresh()
    status, doc = await api.call("POST", "/api/orders", _order("1", limit="4000"))
    assert status == 200 and doc["status"] == "filled", doc
    assert doc["protection"]["leg"]["mode"] == "limit"
    assert doc["protection"]["leg"]["limit_price"] == "4000"


async def test_the_route_preview_states_the_protection_it_was_planned_under(fresh):
    api = await fresh()
    mid = _mid(api.service)
    query = f"/api/quote?symbol=ETH/USDC&side=buy&qty={BIG}"
    status, banded = await api.call("GET", query)
    assert status == 200, banded
    limit = band_limit(mid, "buy", DEFAULT_BAND_BPS)
    assert banded["protection"] == {
        "mode": "band",
        "limit_price": format(limit, "f"),
        "arrival_mid": format(mid, "f"),
        "band_bps": DEFAULT_BAND_BPS,
    }
    assert Decimal(banded["qty"]) < Decimal(BIG)  # the plan stops at the band
    status, free = await api.call("GET", query + "&no_limit=true")
    assert status == 200 and free["protection"]["mode"] == "none", free
    assert Decimal(free["qty"]) == Decimal(BIG)
    status, limited = await api.call("GET", query + "&limit=2700")
    assert limited["protection"] == {
        "mode": "limit",
        "limit_price": "2700",
        "arrival_mid": None,
        "band_bps": None,
    }


BAD = [
    ("POST", "/api/orders", _order("1", no_limit=True, limit="4000"), "no_limit"),
    ("POST", "/api/orders", _order("1", no_limit="true"), "no_limit"),
    ("POST", "/api/orders", _order("1", no_limit=1), "no_limit"),
    ("POST", "/api/orders", _order("1", no_limit=None), "no_limit"),
    (
        "POST",
        "/api/orders",
        {
            "client_id": "m1",
            "account": "desk-a",
            "no_limit": "yes",
            "legs": [{"id": "a", "symbol": "ETH/USDC", "side": "buy", "qty": "1"}],
        },
        "no_limit",
    ),
    ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=1&no_limit=yes", None, "no_limit"),
    ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=1&no_limit=true&limit=1", None, "no_limit"),
]


@pytest.mark.parametrize("method,path,body,field", BAD, ids=[f"{m} {p} {b}" for m, p, b, _ in BAD])
async def test_a_bad_no_limit_is_a_clear_400_and_changes_nothing(fresh, method, path, body, field):
    api = await fresh()
    before = api.service.state_digest(), api.service.store.counts()
    status, data = await api.call(method, path, body)
    assert status == 400, data
    assert data["error"]["field"] == field and data["error"]["allowed"], data
    assert (api.service.state_digest(), api.service.store.counts()) == before


async def test_a_multi_leg_order_with_no_limit_lifts_the_band_of_legs_without_a_limit(fresh):
    api = await fresh()
    order = {
        "client_id": "m1",
        "account": "desk-a",
        "no_limit": True,
        "legs": [
            {"id": "spot", "symbol": "ETH/USDC", "side": "buy", "qty": "1"},
            {
                "id": "hedge",
                "instrument": "perp",
                "symbol": "ETH/USDC:USDC",
                "side": "sell",
                "qty": "1",
                "limit": "1",
            },
        ],
    }
    status, doc = await api.call("POST", "/api/orders", order)
    assert status == 200, doc
    assert doc["protection"]["spot"]["mode"] == "none"
    assert doc["protection"]["hedge"] == {
        "mode": "limit",
        "limit_price": "1",
        "arrival_mid": doc["protection"]["hedge"]["arrival_mid"],
        "band_bps": None,
    }
