"""The ledger's grain is the venues': every fill a venue of the default market can produce (v2
and v3 pool fills and partials to the wei, book lots, perp lots) is booked so that the margin
ledger holds exactly what the venue itself says the account holds, and what the pool paid out."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import DEFAULT_CONFIG, build_margin, load_market
from router.execution.faults import Fault, inject_faults
from router.execution.gate import MarginLeg
from router.model.orders import LegOrder

D = Decimal
SPOT_VENUES = ("uni-v2", "uni-v3-5", "uni-v3-30", "binance-book")
POOLS = ("uni-v2", "uni-v3-5", "uni-v3-30")
WEI = D("1e-18")


def _pool_base_wei(venue: object) -> int:
    """The pool's own count of base (ETH) wei it holds: v2 reserves, v3 token0 balance."""
    pool = venue.pool  # type: ignore[attr-defined]
    return pool.reserve0 if hasattr(pool, "reserve0") else pool.balance0


async def _trade(adapter: object, order: LegOrder) -> tuple[object, dict[str, Decimal]]:
    fill = await adapter.execute(order)  # type: ignore[attr-defined]
    return fill, await adapter.holdings()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(
    venue=st.sampled_from((*SPOT_VENUES, "perp-book")),
    side=st.sampled_from(["buy", "sell"]),
    wei=st.integers(1, 30 * 10**18),
    limit_bps=st.one_of(st.none(), st.integers(-30, 60)),
    share=st.one_of(st.none(), st.integers(1, 999).map(lambda k: D(k) / 1000)),
)
def test_every_venue_fill_is_booked_to_the_wei(venue, side, wei, limit_bps, share) -> None:
    market = load_market(DEFAULT_CONFIG)
    setup = build_margin(market, "desk-a")
    ledger, sub = setup.ledger, setup.sub_id
    faults = () if share is None else (Fault(venue, "partial", 0, share),)
    adapter = inject_faults(market.adapters, faults)[venue]
    inner = market.adapters[venue]
    quantum = inner.base_quantum()
    qty = max((D(wei) * WEI / quantum).to_integral_value("ROUND_FLOOR") * quantum, quantum)
    mid = inner.mid_price()
    limit = None
    if limit_bps is not None:  # a limit near the mid: a pool stops there (a partial to the wei)
        move = D(limit_bps) / 10_000
        limit = (mid * (1 + move) if side == "buy" else mid * (1 - move)).quantize(D("1e-8"))
    instrument = "perp" if venue == "perp-book" else "spot"
    symbol = "ETH/USDC:USDC" if instrument == "perp" else "ETH/USDC"
    eth_before = ledger.balance(sub, "ETH")
    usdc_before = ledger.balance(sub, "USDC")
    pool_before = _pool_base_wei(inner) if venue in POOLS else None
    held_before = asyncio.run(adapter.holdings()).get("ETH", D(0))
    fill, held = asyncio.run(_trade(adapter, LegOrder(venue, side, qty, "grain-1", limit)))
    if fill.filled_qty == 0:
        return
    setup.gate.apply(
        MarginLeg(instrument, symbol, side, fill.filled_qty, fill.quote_amount, fill.fee)
    )
    sign = 1 if side == "buy" else -1
    venue_delta = held.get("ETH", D(0)) - held_before
    assert venue_delta == sign * fill.filled_qty
    if instrument == "spot":
        assert ledger.balance(sub, "ETH") - eth_before == venue_delta
        paid = usdc_before - ledger.balance(sub, "USDC")
        assert paid == (fill.quote_amount if side == "buy" else -fill.quote_amount)
        if pool_before is not None:  # what the pool paid out (took in), to the wei
            pool_delta = pool_before - _pool_base_wei(inner)
            assert D(pool_delta) * WEI == venue_delta
    else:
        position = ledger.position(sub, "ETH-PERP")
        assert D(position.size_units) * WEI == venue_delta
    ledger._check()
