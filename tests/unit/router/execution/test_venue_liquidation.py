"""Liquidation through the simulated venues: each step of the margin core's loop is routed to the
venues of its instrument at the prices they show then, and booked as they filled it."""

import asyncio
from decimal import Decimal

from router.app import build_margin, load_market
from router.execution.liquidation import VenueFiller, liquidate_through_venues, liquidation_outcome
from router.margin import LedgerLeg
from router.margin.liquidation import ENDED_ABOVE, ENDED_BLOCKED, ENDED_FLAT
from router.margin.quantities import SCALE, to_decimal


def _setup(usdc: str, size: str):
    market = load_market()
    setup = build_margin(market)
    ledger = setup.ledger
    sub = ledger.open_subaccount("trader", "main")
    ledger.deposit(sub, "USDC", usdc)
    mark = to_decimal(ledger.mark_units("ETH-PERP"))
    ledger.apply_leg(sub, LedgerLeg("perp", "ETH-PERP", "buy", size, str(mark)))
    symbols = {name: symbol for symbol, name in setup.perp_markets.items()}
    return market, ledger, sub, VenueFiller(market.adapters, symbols, ledger.quote_asset, "t")


def test_a_perp_long_is_sold_on_the_perp_book_at_the_prices_it_shows():
    market, ledger, sub, filler = _setup("10000", "60")
    book = market.adapters["perp-book"]
    best_bid = book.depth_curve("sell").marginal_price(0.0)
    ledger.set_mark("ETH-PERP", "2560")  # the mark fell; the book still bids about 2,684
    ledger.set_mark("ETH", "2560")
    assert sub in ledger.liquidatable()
    result = asyncio.run(liquidate_through_venues(ledger, sub, filler))
    ledger._check()
    assert result.triggered and result.steps
    step = result.steps[0]
    assert step.closed_units < 0 and step.mark_units == 2560 * SCALE
    # booked at the venue's all-in average (fees inside), below its best bid, far above the mark
    assert 2560 * SCALE < step.price_units < int(Decimal(str(best_bid)) * SCALE)
    sold = sum(f.filled_qty for f in filler.sent)
    assert to_decimal(-sum(s.closed_units for s in result.steps)) == sold
    assert book.depth_curve("sell").marginal_price(0.0) < best_bid  # the sale moved the book
    assert result.ended in (ENDED_ABOVE, ENDED_FLAT)
    outcome = liquidation_outcome(result)
    assert outcome["steps"][0]["price"] != outcome["steps"][0]["mark"]


def test_an_instrument_no_venue_trades_blocks_and_is_named():
    _market, ledger, sub, _ = _setup("10000", "60")
    filler = VenueFiller({}, {"ETH-PERP": "ETH/USDC:USDC"}, "USDC")
    ledger.set_mark("ETH-PERP", "2560")
    ledger.set_mark("ETH", "2560")
    result = asyncio.run(liquidate_through_venues(ledger, sub, filler))
    assert result.ended == ENDED_BLOCKED and not result.steps
    assert "no venue trades ETH/USDC:USDC" in (result.reason or "")
    ledger._check()


def test_a_step_larger_than_the_book_fills_what_the_depth_takes_and_names_the_rest():
    _market, ledger, sub, filler = _setup("150000", "700")  # the book bids about 490 ETH
    ledger.set_mark("ETH-PERP", "2450")
    ledger.set_mark("ETH", "2450")
    result = asyncio.run(liquidate_through_venues(ledger, sub, filler))
    ledger._check()
    assert result.steps and result.unfilled
    assert "took" in result.unfilled[0]
    filled = -sum(s.closed_units for s in result.steps)
    assert 0 < filled < 700 * SCALE
