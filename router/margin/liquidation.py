"""Deterministic liquidation and liquidation prices.

Liquidation of a subaccount whose maintenance equity is below its total MM (or with an isolated
position below its own MM) closes everything it must, in a fixed order:

1. cancel its open orders;
2. close breached isolated positions in full;
3. reduce cross perp positions, largest MM first (ties by symbol);
4. buy back spot liabilities (assets sold on credit), largest MM first (ties by asset);
5. while the quote balance is negative (a quote borrow), sell spot collateral to repay it,
   largest value first (ties by asset).

Each step of 3-5 is the smallest size (bisection on ledger units, 1e-18) that restores maintenance equity
>= MM x (1 + buffer), or the whole exposure when that is not enough; it trades at the mark of
that moment (``MarginLedger.liquidate``; the stress engine moves the marks to the shocked venue
prices first and routes the same orders through the simulated venues) and charges a fee of
``liquidation_fee_bps`` of the closed notional to the insurance fund (never more than the equity
left, so the fee creates no bad debt). Every step lowers the total MM or repays debt: none adds
risk.

An isolated position risks only its posted margin: its close, fee and any loss beyond the bucket
are settled inside the bucket. The fee is capped at what the bucket holds after the close, what
is left goes back to the quote balance, and a negative bucket is bad debt taken by the insurance
fund: the cross balances and the other positions are never debited. A negative quote balance left
with no positions and no other collateral is bad debt too: the fund pays it. Every step and every
bad debt is journaled. A liquidation that is due and takes no step says why in
``LiquidationResult.reason`` and in the journal (``liquidation_blocked``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.margin.account import ISOLATED
from router.margin.book import MarginBook
from router.margin.errors import MarginInputError
from router.margin.projection import (
    C_MAINT,
    FUND,
    FUND_HOLDER,
    MM,
    UPNL,
    Projection,
    position_figures_at,
    requirements,
)
from router.margin.quantities import BPS, CENT_UNITS, SCALE, ceil_div, cents_text, to_text

PERP_STEP, SPOT_STEP = "perp", "spot"


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """One step: ``closed_units`` of ``symbol`` (a perp market, or a spot asset when ``kind`` is
    spot) traded at ``price_units``, signed as the trade (opposite sign of the exposure)."""

    symbol: str
    closed_units: int  # signed size closed (opposite sign of the position)
    price_units: int
    fee_units: int
    mm_before: int
    mm_after: int
    excess_after: int
    bad_debt_units: int = 0  # isolated only: the loss beyond the bucket, taken by the fund
    kind: str = PERP_STEP


@dataclass(slots=True)
class LiquidationResult:
    subaccount: str
    triggered: bool
    cancelled_orders: list[str] = field(default_factory=list)
    steps: list[LiquidationStep] = field(default_factory=list)
    bad_debt_units: int = 0
    reason: str | None = None  # why a due liquidation took no step


def _fee(ledger: MarginBook, closed_units: int, mark_units: int) -> int:
    return ceil_div(abs(closed_units) * mark_units * ledger.liquidation_fee_bps, SCALE * BPS)


def _close(
    ledger: MarginBook, scen: Projection, symbol: str, units: int
) -> tuple[Projection, int, int]:
    """Close ``units`` (signed like the position) of ``symbol`` at mark; returns the new scenario,
    the capped fee and the bad debt (quote units).

    Cross: the fee is capped at the maintenance equity left, no bad debt here. Isolated (always a
    full close): everything settles in the bucket, so the cross balance is never debited. O(tiers).
    """
    new = scen.copy()
    mark = ledger.mark_units(symbol)
    quote = ledger.quote_asset
    fee = _fee(ledger, units, mark)
    if new.open_position(symbol).mode == ISOLATED:
        left = new.trade_perp(symbol, -units, mark, 0, release_isolated=False)
        fee = max(0, min(fee, left))
        bad_debt = max(0, -left)
        # the remainder of a solvent bucket returns to the quote balance (a credit, never a debit)
        new.add_balance(quote, max(0, left - fee))
        new.flow(FUND_HOLDER, quote, fee - bad_debt)
        return new, fee, bad_debt
    new.trade_perp(symbol, -units, mark, 0)
    fee = max(0, min(fee, new.equity_maintenance))
    if fee:
        new.add_balance(quote, -fee)
        new.flow(FUND_HOLDER, quote, fee)
    return new, fee, 0


def _close_spot(
    ledger: MarginBook, scen: Projection, asset: str, units: int
) -> tuple[Projection, int, int]:
    """Trade ``units`` (signed like the balance) of ``asset`` back toward zero at its mark: buy
    back a liability, sell collateral. The fee is capped at the maintenance equity left. O(1)."""
    new = scen.copy()
    mark = ledger.mark_units(asset)
    new.trade_spot(asset, -units, mark, 0)
    fee = max(0, min(_fee(ledger, units, mark), new.equity_maintenance))
    if fee:
        new.add_balance(ledger.quote_asset, -fee)
        new.flow(FUND_HOLDER, ledger.quote_asset, fee)
    return new, fee, 0


def _exposures(ledger: MarginBook, scen: Projection, phase: int) -> list[tuple[str, int]]:
    """The (name, signed size) to reduce in ``phase`` (3 perps, 4 spot liabilities, 5 spot
    collateral while quote is owed), in the documented order. O(n log n)."""
    sub = scen.sub
    quote = ledger.quote_asset
    if phase == 3:
        names = [s for s, p in sub.positions.items() if p.mode != ISOLATED]
        names.sort(key=lambda s: (-sub.pos_vals[s][4], s))
        return [(s, sub.positions[s].size_units) for s in names]
    if phase == 4:
        owed = [a for a, u in sub.balances.items() if a != quote and u < 0]
        owed.sort(key=lambda a: (-sub.asset_vals[a][4], a))
        return [(a, sub.balances[a]) for a in owed]
    if scen.balance(quote) >= 0:
        return []
    held = [a for a, u in sub.balances.items() if a != quote and u > 0]
    held.sort(key=lambda a: (-sub.asset_vals[a][2], a))
    return [(a, sub.balances[a]) for a in held]


def liquidate(ledger: MarginBook, sub_id: Any) -> LiquidationResult:
    """Liquidate ``sub_id`` if it is below maintenance; see the module docstring. O(p log p + p x 55)."""
    sub = ledger.subaccount(sub_id)
    result = LiquidationResult(sub.name, sub.name in ledger.liquidatable())
    if not result.triggered:
        return result
    quote = ledger.quote_asset
    result.cancelled_orders = list(sub.open_orders)
    sub.open_orders.clear()
    for hook in ledger.order_cancel_hooks:
        hook(sub.name, list(result.cancelled_orders))
    ledger.journal.append(
        "liquidation_start", subaccount=sub.name, cancelled_orders=result.cancelled_orders
    )
    buffer = BPS + ledger.liquidation_buffer_bps

    def record(
        scen: Projection,
        symbol: str,
        closed: int,
        fee: int,
        mm_before: int,
        bad_debt: int = 0,
        kind: str = PERP_STEP,
    ) -> None:
        ledger.commit(scen)
        step = LiquidationStep(
            symbol,
            -closed,
            ledger.mark_units(symbol),
            fee,
            mm_before,
            scen.maintenance_margin,
            scen.maintenance_excess,
            bad_debt,
            kind,
        )
        result.steps.append(step)
        ledger.journal.append(
            "liquidation_step",
            subaccount=sub.name,
            kind=kind,
            symbol=symbol,
            closed=to_text(-closed),
            price=to_text(step.price_units),
            fee=to_text(fee),
            mm_before=to_text(mm_before),
            mm_after=to_text(step.mm_after),
            excess_after=to_text(step.excess_after),
        )
        if bad_debt:
            result.bad_debt_units += bad_debt
            ledger.journal.append(
                "bad_debt",
                subaccount=sub.name,
                symbol=symbol,
                mode=ISOLATED,
                amount=to_text(bad_debt),
            )

    for symbol in sorted(sub.positions):
        pos = sub.positions[symbol]
        if pos.mode == ISOLATED:
            figs = sub.pos_vals[symbol]
            if pos.isolated_margin_units + figs[1] + figs[2] < figs[4]:
                scen = ledger.projection(sub.name)
                new, fee, bad_debt = _close(ledger, scen, symbol, pos.size_units)
                record(new, symbol, pos.size_units, fee, scen.maintenance_margin, bad_debt)

    def healthy(scen: Projection) -> bool:
        return scen.equity_maintenance * BPS >= scen.maintenance_margin * buffer

    scen = ledger.projection(sub.name)
    for phase in (3, 4, 5):
        close = _close if phase == 3 else _close_spot
        kind = PERP_STEP if phase == 3 else SPOT_STEP
        for symbol, size in _exposures(ledger, scen, phase):
            if healthy(scen):
                break
            sign = 1 if size > 0 else -1
            full = close(ledger, scen, symbol, size)[0]
            if healthy(full):
                lo, hi = 0, abs(size)  # invariant: closing lo is not enough, closing hi is
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if healthy(close(ledger, scen, symbol, sign * mid)[0]):
                        hi = mid
                    else:
                        lo = mid
                closed = sign * hi
            else:
                closed = size
            new, fee, _ = close(ledger, scen, symbol, closed)
            record(new, symbol, closed, fee, scen.maintenance_margin, kind=kind)
            scen = ledger.projection(sub.name)

    scen = ledger.projection(sub.name)
    balance = scen.balance(quote)
    others = any(u > 0 for a, u in sub.balances.items() if a != quote)
    if not sub.positions and not others and balance < 0:
        scen.add_balance(quote, -balance)
        scen.flow(FUND_HOLDER, quote, balance)
        ledger.commit(scen)
        result.bad_debt_units += -balance
        ledger.journal.append("bad_debt", subaccount=sub.name, amount=to_text(-balance))
    if not result.steps and not result.bad_debt_units:
        result.reason = _why_no_step(ledger, sub.name)
        ledger.journal.append("liquidation_blocked", subaccount=sub.name, reason=result.reason)
    ledger.journal.append(
        "liquidation_end",
        subaccount=sub.name,
        steps=len(result.steps),
        bad_debt=to_text(result.bad_debt_units),
    )
    return result


def _why_no_step(ledger: MarginBook, sub_id: str) -> str:
    """The one-line reason a due liquidation closed nothing (every exposure is closable at a
    mark, so this names what is left: quote owed against no collateral is bad debt above)."""
    sub = ledger.subs[sub_id]
    held = sorted(sub.positions) + sorted(a for a in sub.balances if a != ledger.quote_asset)
    if not held:
        return "nothing to close: the subaccount holds only its quote balance"
    return f"no step restored maintenance and none was possible on: {', '.join(held)}"


def _excess_at(ledger: MarginBook, sub_id: str, symbol: str, price_units: int) -> int:
    """Maintenance excess (equity - MM) with ``symbol`` marked at ``price_units``, all else fixed.
    Cross: the whole subaccount; isolated: the position's own margin. O(tiers)."""
    sub = ledger.subs[sub_id]
    pos = sub.positions[symbol]
    market = ledger.markets[symbol]
    old = sub.pos_vals[symbol]
    new = position_figures_at(
        pos,
        price_units,
        ledger.funding_index[symbol],
        market.tiers,
        ledger.leverage_of(sub, market),
    )
    if pos.mode == ISOLATED:
        return pos.isolated_margin_units + new[1] + new[2] - new[4]
    totals = list(sub.totals)
    for index, at in ((UPNL, 1), (FUND, 2), (MM, 4)):
        totals[index] += new[at] - old[at]
    quote = ledger.quote_asset
    mm = requirements(totals, sub.balances.get(quote, 0), ledger.assets[quote])[1]
    return totals[C_MAINT] + totals[UPNL] + totals[FUND] - mm


def liquidation_price_units(ledger: MarginBook, sub_id: Any, symbol: Any) -> int | None:
    """The first cent price, moving from the mark against the position, at which maintenance
    equity < MM (long: the largest such cent; short: the smallest), other marks unchanged;
    None for a long that no positive price liquidates. Exact bisection over integer cents,
    O(log(price) x tiers)."""
    sub = ledger.subaccount(sub_id)
    market = ledger.market(symbol)
    if market.symbol not in sub.positions:
        raise MarginInputError(
            "symbol", symbol, f"a symbol with a position in {sub.name}: {sorted(sub.positions)}"
        )
    size = sub.positions[market.symbol].size_units

    def f(cents: int) -> int:
        return _excess_at(ledger, sub.name, market.symbol, cents * CENT_UNITS)

    mark_cents = ceil_div(ledger.mark_units(market.symbol), CENT_UNITS)
    if size > 0:
        if f(0) >= 0:
            return None
        hi = max(mark_cents, 1)
        while f(hi) < 0:
            hi *= 2
        lo = 0  # f(lo) < 0 <= f(hi): find the largest cent with f < 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if f(mid) < 0:
                lo = mid
            else:
                hi = mid
        return lo * CENT_UNITS
    if f(0) < 0:
        return 0
    hi = max(mark_cents, 1)
    while f(hi) >= 0:
        hi *= 2
    lo = 0  # f(lo) >= 0 > f(hi): find the smallest cent with f < 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid) < 0:
            hi = mid
        else:
            lo = mid
    return hi * CENT_UNITS


def liquidation_price(ledger: MarginBook, sub_id: Any, symbol: Any) -> Decimal | None:
    """:func:`liquidation_price_units` as a Decimal on the cent grid, or None."""
    units = liquidation_price_units(ledger, sub_id, symbol)
    return None if units is None else Decimal(cents_text(units))
