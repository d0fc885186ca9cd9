"""Two paper services fed the same commands are byte-identical, venue-server trade times included."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from router.paper.api import attach_venue_server
from router.paper.service import PaperService

CONFIG = "config/default.toml"
DAY_MS = 86_400_000


def _service(tmp_path, name: str, wall_offset_ms: int):
    service = PaperService(
        CONFIG, db=tmp_path / f"{name}.db", snapshot_every=10**9, snapshot_every_ticks=10**9
    )
    server = attach_venue_server(web.Application(), service)
    wall = server.clock_ms
    # Each service sees another wall clock (a day apart): nothing the market records may depend on it.
    server.clock_ms = lambda: wall() + wall_offset_ms
    return service, server


async def _feed(service: PaperService, server) -> None:
    """Routed orders, venue-server orders (resting and taking) and ticks, as the HTTP handlers run them."""
    await service.open()
    await service.command("step", {"ticks": 3})
    book = service.market.venues["binance-book"]
    for round_no in range(3):
        price = book.ticks_to_price(
            book.best_bid() + 1
        )  # inside the makers' spread: rests at the top
        async with service.lock:  # as the venue middleware does
            server.engine.place(
                "desk-a",
                "spot",
                "ETHUSDC",
                "SELL",
                "LIMIT",
                qty=Decimal("0.25"),
                price=price,
                tif="GTC",
                client_order_id=f"rest-{round_no}",
                view="binance-book",
            )
        await service.tick(2)
        await service.command(
            "order",
            {
                "client_id": f"take-{round_no}",
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": "buy",
                "qty": "0.5",
                "venues": ["binance-book"],
            },
        )
        async with service.lock:
            server.engine.place(
                "desk-a",
                "spot",
                "ETHUSDC",
                "BUY",
                "MARKET",
                qty=Decimal("0.1"),
                price=None,
                tif="GTC",
                client_order_id=f"mkt-{round_no}",
                view="binance-book",
            )
        await service.command(
            "order",
            {
                "client_id": f"r-{round_no}",
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": "sell",
                "qty": "1.5",
            },
        )
        await service.tick(3)


def _trades_text(server) -> str:
    engine = server.engine
    orders = sorted(
        (r.order_id, r.time_ms, r.update_time_ms, r.status) for r in engine.orders.values()
    )
    return repr((engine.trades, engine.tape, orders))


async def test_two_services_fed_the_same_commands_have_byte_identical_venue_trades_and_journals(
    tmp_path,
):
    one, server_one = _service(tmp_path, "one", 0)
    two, server_two = _service(tmp_path, "two", DAY_MS)
    await _feed(one, server_one)
    await _feed(two, server_two)

    trades = server_one.engine.trades["desk-a"]
    assert (
        len(trades) >= 3 and any(t.is_maker for t in trades) and any(not t.is_maker for t in trades)
    )
    assert _trades_text(server_one) == _trades_text(server_two)
    # The trade times are the simulated clock's, not either wall clock's.
    assert {t.time_ms for t in trades} <= {
        (one.params.start_ns + k * one.params.tick_ns) // 1_000_000 for k in range(one.sim.tick + 1)
    }
    journal_one, journal_two = one.store.journal(limit=10**6), two.store.journal(limit=10**6)
    assert journal_one and journal_one == journal_two
    assert list(one.store.events()) == list(two.store.events())
    assert one.state_digest() == two.state_digest()
    one.close(), two.close()


async def test_a_restarted_service_replays_venue_trades_at_their_simulated_times(tmp_path):
    one, server_one = _service(tmp_path, "one", 0)
    await _feed(one, server_one)
    before = _trades_text(server_one)
    one.close()
    again, server_again = _service(tmp_path, "one", 3 * DAY_MS)
    await again.open()
    assert _trades_text(server_again) == before
    again.close()
