"""Fuzz every route of openapi.json: no request answers 500, every answer fits its documented
schema, and a refused request changes nothing and never rolls the service back.

The values are the ones that broke parsers before (unicode digits, ``--1``, a 5,000-digit
integer, 10^28, lone surrogates, exponents, long strings, floats, nesting) mixed with valid
names and numbers so that requests also get past the first check.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from router.paper.api import create_paper_app
from router.paper.openapi import load_document, operations, response_schema, validate
from router.paper.service import PaperService

DOC = load_document()
MAX_LINE_BYTES = 8190  # aiohttp's request-line limit: longer lines are a plain-text 400
SKIP = {"/api/stream", "/", "/openapi.json", "/venue/api/v3/{endpoint}"}
ROUTES = [(m, t) for m, t in operations(DOC) if t not in SKIP]
BODY_KEYS = {
    "/api/market/step": ["ticks"],
    "/api/orders": [
        "client_id",
        "account",
        "subaccount",
        "symbol",
        "side",
        "qty",
        "quote_qty",
        "limit",
        "venues",
        "tif",
        "slippage_bps",
        "legs",
    ],
    "/api/orders/{client_id}": ["limit", "qty"],
    "/api/accounts/{account}/subaccounts": ["name"],
    "/api/transfers": ["account", "from", "to", "asset", "amount"],
}
NASTY = [
    "²",
    "١",
    "--1",
    "-1",
    "1_0",
    "1e3",
    "1E+30",
    "NaN",
    "Infinity",
    "-0",
    " 1",
    "0x10",
    "",
    "9" * 5000,
    "99999999999999",
    "1" + "0" * 28,
    "\ud800",
    "a\ud800b",
    "x" * 5000,
    "o1\n",
    "0.000000000000000000001",
]
VALID = [
    "ETH/USDC",
    "ETH/USDC:USDC",
    "buy",
    "sell",
    "desk-a",
    "main",
    "gtc",
    "ioc",
    "USDC",
    "2683",
    "1",
    "0.1",
    "o1",
    "book-a",
]
TEXT = st.sampled_from(NASTY + VALID) | st.text(max_size=12)
SCALAR = (
    TEXT
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.sampled_from([10**28, 10**4000, -1, 0, 1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def _query_values(template: str, method: str) -> list[str]:
    op = DOC["paths"][template][method.lower()]
    return [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]


@st.composite
def requests(draw):
    method, template = draw(st.sampled_from(ROUTES))
    path = re.sub(
        r"\{[^}]+\}",
        lambda _: quote(draw(TEXT), safe="", errors="surrogatepass") or "x",
        template,
    )
    names = _query_values(template, method) + ["junk"]
    query = draw(st.dictionaries(st.sampled_from(names), TEXT, max_size=4))
    pairs = "&".join(f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in query.items())
    body = None
    if method in ("POST", "PATCH"):
        keys = BODY_KEYS.get(template, []) + ["junk"]
        body = draw(st.dictionaries(st.sampled_from(keys), VALUE, max_size=8) | VALUE)
    return method, template, path + ("?" + pairs if pairs else ""), body


class _Harness:
    """A paper service behind a real HTTP server, on its own event loop (hypothesis drives it)."""

    def __init__(self, tmp_path) -> None:
        self.loop = asyncio.new_event_loop()
        self.service = PaperService("config/default.toml", db=tmp_path / "fuzz.db")
        self.run(self.service.open())
        self.server = TestServer(create_paper_app(self.service))
        self.run(self.server.start_server())
        self.session = self.run(self._session())
        order = {"client_id": "o1", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy"}
        self.run(self.service.command("order", {**order, "qty": "1"}))
        self.run(
            self.service.command(
                "order", {**order, "client_id": "g1", "qty": "1", "limit": "2000", "tif": "gtc"}
            )
        )

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    async def call(self, method: str, path: str, body) -> tuple[int, object]:
        url = URL(str(self.server.make_url("/")).rstrip("/") + path, encoded=True)
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        async with self.session.request(method, url, data=data, headers=headers) as response:
            if len(path) > MAX_LINE_BYTES:  # refused by aiohttp's HTTP parser, before any route
                return response.status, None
            return response.status, await response.json(content_type=None)

    def close(self) -> None:
        self.run(self.session.close())
        self.run(self.server.close())
        self.service.close()
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = _Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    h.close()


@settings(max_examples=400)
@given(request=requests())
def test_no_route_answers_500_and_refusals_change_nothing(harness, request):
    method, template, path, body = request
    service = harness.service
    before = (service.state_digest(), service.store.counts(), service.recoveries)
    status, data = harness.run(harness.call(method, path, body))
    assert status < 500, (method, path, body, data)
    if data is None:
        assert status == 400  # a request line over 8 KiB
        return
    schema = response_schema(DOC, method, template, status)
    assert schema is not None, f"{method} {template} answered {status}, not documented"
    assert not validate(DOC, schema, data), (method, path, data)
    assert service.recoveries == before[2], "a request forced a rollback"
    if status >= 400:
        assert (service.state_digest(), service.store.counts()) == before[:2], (path, body, data)


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/api/orders?limit=%C2%B2", None),  # ?limit=²
        ("GET", "/api/fills?after=--1", None),
        ("GET", "/api/journal?after=" + "9" * 5000, None),
        ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=99999999999999", None),
        ("GET", "/api/quote?symbol=ETH/USDC&side=buy&qty=%D9%A1", None),  # Arabic-Indic 1
        (
            "POST",
            "/api/orders",
            {"client_id": "q", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy"}
            | {"qty": "1" + "0" * 28},
        ),
        (
            "POST",
            "/api/orders",
            {"client_id": "\ud800", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy"}
            | {"qty": "1"},
        ),
        ("POST", "/api/market/step", b'{"ticks": ' + b"9" * 5000 + b"}"),  # 5,000 digits
        ("POST", "/api/orders", b"[" * 60_000),  # nesting that would overflow the parser
        ("PATCH", "/api/orders/g1", {"limit": "1e3"}),
    ],
)
def test_the_reported_requests_are_400_without_a_rollback(harness, method, path, body):
    before = (harness.service.state_digest(), harness.service.recoveries)
    status, data = harness.run(harness.call(method, path, body))
    assert status == 400, data
    assert data["error"]["field"] and data["error"]["allowed"]
    assert (harness.service.state_digest(), harness.service.recoveries) == before
