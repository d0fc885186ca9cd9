"""Borrow interest on spot liabilities, accrued on the simulated clock.

Every negative balance (a spot asset sold beyond holdings, or quote spent beyond cash) pays its
asset's yearly ``borrow_rate`` pro rata over ``elapsed_ns`` nanoseconds of the caller's clock
(paper, backtest and stress pass their simulated time; nothing here reads a clock):

    interest (units of the asset) = ceil(owed x rate x elapsed_ns / (1e12 x YEAR_NS))

rounded up, against the borrower, and added to what it owes. The lender is the market (the
counterparty of every trade), which is credited the same units, so the double entry holds
exactly. Subaccounts are visited in sorted order: the journal is deterministic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.margin.account import YEAR_NS
from router.margin.book import MarginBook
from router.margin.projection import MARKET
from router.margin.quantities import RATE_SCALE, SCALE, ceil_div, parse_int, to_decimal, to_text


def interest_units(owed_units: int, rate_units: int, elapsed_ns: int) -> int:
    """Interest on ``owed_units`` (> 0) at a yearly rate (1e-12 units) over ``elapsed_ns``,
    rounded up. O(1)."""
    return ceil_div(owed_units * rate_units * elapsed_ns, RATE_SCALE * YEAR_NS)


def accrue_interest(ledger: MarginBook, elapsed_ns: Any) -> Decimal:
    """Charge interest on every negative balance for ``elapsed_ns`` (an int >= 0); journal one
    ``borrow_interest`` per charge. Returns the total charged, valued in quote at the marks.
    O(holders of assets with a rate)."""
    elapsed = parse_int("elapsed_ns", elapsed_ns, minimum=0)
    total = 0
    for asset in sorted(ledger.assets):
        rate = ledger.assets[asset].borrow_rate_units
        if not rate or not elapsed:
            continue
        for sub_id in sorted(ledger.holders.get(asset, ())):
            owed = -ledger.subs[sub_id].balances.get(asset, 0)
            if owed <= 0:
                continue
            charge = interest_units(owed, rate, elapsed)
            proj = ledger.projection(sub_id)
            proj.add_balance(asset, -charge)
            proj.flow(MARKET, asset, charge)
            ledger.commit(proj)
            total += ceil_div(charge * ledger.mark_units(asset), SCALE)
            ledger.journal.append(
                "borrow_interest",
                subaccount=sub_id,
                asset=asset,
                owed=to_text(owed),
                interest=to_text(charge),
                elapsed_ns=elapsed,
            )
    return to_decimal(total)
