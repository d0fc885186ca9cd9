"""Deterministic liquidation and liquidation prices.

Liquidation of a subaccount whose maintenance equity is below its total MM (or with an isolated
position below its own MM) closes everything it must, in a fixed order:

1. cancel its open orders;
2. close breached isolated positions in full;
3. reduce cross perp positions, largest MM first (ties by symbol);
4. buy back spot liabilities (assets sold on credit), largest MM first (ties by asset);
5. while the quote balance is negative (a quote borrow), sell spot collateral to repay it,
   largest value first (ties by asset).

Each step of 3-5 is the smallest size (bisection on ledger units, to within 2^-32 of the
exposure, rounded up) that restores maintenance equity >= MM x (1 + buffer) at the marks, or the
whole exposure when that is not enough. The buffer is for sizing: it absorbs what a venue's price
is worse than the mark, so once a step has been taken the loop stops as soon as the account is
no longer below maintenance (without it, each step filled a hair worse than the mark left the
account a hair short of the buffer, and the loop went on in dust-sized steps). One loop
(:class:`Liquidation`) decides the steps and books them for every caller; what trades a step is
the caller's filler: the mark of that moment here (``MarginLedger.liquidate``, replays), the
simulated venues at the prices they then show in the execution layer
(router/execution/liquidation.py: ``crossroute execute``, paper) and in stress. The exact fill
(size and price) is booked, and a fee of ``liquidation_fee_bps`` of the filled notional goes to
the insurance fund (never more than the equity left, so the fee creates no bad debt). A fill
worse than the mark may leave the account short: the next step is sized again (after
MAX_PARTIAL_STEPS on one exposure, the rest of it is closed at once). Every step lowers the total MM or repays debt: none adds risk. The loop ends above
maintenance, flat, or blocked (an exposure no venue would take, named in the result).

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
# the documented order of the phases (module docstring)
ISOLATED_PHASE, PERP_PHASE, LIABILITY_PHASE, COLLATERAL_PHASE = (
    "isolated",
    "cross_perp",
    "spot_liability",
    "collateral",
)
ENDED_ABOVE, ENDED_FLAT, ENDED_BLOCKED = "above_maintenance", "flat", "blocked"
# partial steps on one exposure before the loop closes the rest of it in one order: a bound on the
# loop when every fill lands worse than the mark the step was sized at
MAX_PARTIAL_STEPS = 8
# A step's size is bisected to within 2^-BISECT_BITS of the exposure, rounded up (never less than
# enough): on the 1e-18 grid an exact bisection took ~60 what-if closes per step for a precision
# (1e-18 of a unit) no venue trades at; 32 bits is 2.3e-10 of a 1-unit exposure.
BISECT_BITS = 32


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """One step: ``closed_units`` of ``symbol`` (a perp market, or a spot asset when ``kind`` is
    spot) traded at ``price_units`` (the fill's price: the mark, or where the venues filled it),
    signed as the trade (opposite sign of the exposure)."""

    symbol: str
    closed_units: int  # signed size closed (opposite sign of the position)
    price_units: int
    fee_units: int
    mm_before: int
    mm_after: int
    excess_after: int
    bad_debt_units: int = 0  # isolated only: the loss beyond the bucket, taken by the fund
    kind: str = PERP_STEP
    mark_units: int = 0  # the mark when the step was decided
    asked_units: int = 0  # what the step asked for (signed like ``closed_units``)


@dataclass(frozen=True, slots=True)
class LiquidationOrder:
    """The next step the margin core asks for: trade ``signed_units`` of ``symbol`` (a perp
    market, or a spot asset when ``kind`` is spot) toward zero; ``mark_units`` is the mark the
    size was decided at, ``phase`` its place in the documented order."""

    subaccount: str
    kind: str
    symbol: str
    signed_units: int
    mark_units: int
    phase: str


@dataclass(frozen=True, slots=True)
class LiquidationFill:
    """What a filler did with a :class:`LiquidationOrder`: ``filled_units`` (signed like the order,
    0 to its size) at ``price_units`` (average, > 0 when anything filled); ``note`` says why less
    than asked filled (no venue, depth used up)."""

    filled_units: int
    price_units: int
    note: str = ""


@dataclass(slots=True)
class LiquidationResult:
    subaccount: str
    triggered: bool
    cancelled_orders: list[str] = field(default_factory=list)
    steps: list[LiquidationStep] = field(default_factory=list)
    bad_debt_units: int = 0
    reason: str | None = None  # why a due liquidation took no step
    ended: str | None = None  # above_maintenance | flat | blocked (None when not triggered)
    unfilled: list[str] = field(default_factory=list)  # exposures a filler could not trade


def mark_fill(ledger: MarginBook, order: LiquidationOrder) -> LiquidationFill:
    """The margin core's own filler: the whole order at the mark of the moment (no venues:
    ``MarginLedger.liquidate`` and replays)."""
    return LiquidationFill(order.signed_units, ledger.mark_units(order.symbol))


def _fee(ledger: MarginBook, closed_units: int, price_units: int) -> int:
    return ceil_div(abs(closed_units) * price_units * ledger.liquidation_fee_bps, SCALE * BPS)


def _close(
    ledger: MarginBook, scen: Projection, symbol: str, units: int, price: int | None = None
) -> tuple[Projection, int, int]:
    """Close ``units`` (signed like the position) of ``symbol`` at ``price`` (default the mark);
    returns the new scenario, the capped fee and the bad debt (quote units).

    Cross: the fee is capped at the maintenance equity left, no bad debt here. Isolated: everything
    settles in the bucket, so the cross balance is never debited; a full close releases what is
    left of the bucket, a partial one (a venue that filled less) keeps it. O(tiers).
    """
    new = scen.copy()
    price = ledger.mark_units(symbol) if price is None else price
    quote = ledger.quote_asset
    fee = _fee(ledger, units, price)
    if new.open_position(symbol).mode == ISOLATED:
        left = new.trade_perp(symbol, -units, price, 0, release_isolated=False)
        pos = new.position(symbol)
        if pos is not None:  # partial: the fee comes out of the bucket, never beyond it
            fee = max(0, min(fee, pos.isolated_margin_units))
            held = pos.copy()
            held.isolated_margin_units -= fee
            new.set_position(symbol, held)
            new.flow(FUND_HOLDER, quote, fee)
            return new, fee, 0
        fee = max(0, min(fee, left))
        bad_debt = max(0, -left)
        # the remainder of a solvent bucket returns to the quote balance (a credit, never a debit)
        new.add_balance(quote, max(0, left - fee))
        new.flow(FUND_HOLDER, quote, fee - bad_debt)
        return new, fee, bad_debt
    new.trade_perp(symbol, -units, price, 0)
    fee = max(0, min(fee, new.equity_maintenance))
    if fee:
        new.add_balance(quote, -fee)
        new.flow(FUND_HOLDER, quote, fee)
    return new, fee, 0


def _close_spot(
    ledger: MarginBook, scen: Projection, asset: str, units: int, price: int | None = None
) -> tuple[Projection, int, int]:
    """Trade ``units`` (signed like the balance) of ``asset`` back toward zero at ``price``
    (default its mark): buy back a liability, sell collateral. The fee is capped at the
    maintenance equity left. O(1)."""
    new = scen.copy()
    price = ledger.mark_units(asset) if price is None else price
    new.trade_spot(asset, -units, price, 0)
    fee = max(0, min(_fee(ledger, units, price), new.equity_maintenance))
    if fee:
        new.add_balance(ledger.quote_asset, -fee)
        new.flow(FUND_HOLDER, ledger.quote_asset, fee)
    return new, fee, 0


def _exposures(ledger: MarginBook, scen: Projection, phase: str) -> list[tuple[str, int]]:
    """The (name, signed size) to reduce in ``phase`` (cross perps, spot liabilities, spot
    collateral while quote is owed), in the documented order. O(n log n)."""
    sub = scen.sub
    quote = ledger.quote_asset
    if phase == PERP_PHASE:
        names = [s for s, p in sub.positions.items() if p.mode != ISOLATED]
        names.sort(key=lambda s: (-sub.pos_vals[s][4], s))
        return [(s, sub.positions[s].size_units) for s in names]
    if phase == LIABILITY_PHASE:
        owed = [a for a, u in sub.balances.items() if a != quote and u < 0]
        owed.sort(key=lambda a: (-sub.asset_vals[a][4], a))
        return [(a, sub.balances[a]) for a in owed]
    if scen.balance(quote) >= 0:
        return []
    held = [a for a, u in sub.balances.items() if a != quote and u > 0]
    held.sort(key=lambda a: (-sub.asset_vals[a][2], a))
    return [(a, sub.balances[a]) for a in held]


class Liquidation:
    """One subaccount's liquidation as a loop the caller drives: :meth:`next_order` decides the
    next step from the ledger's state now, the caller fills it (at the mark, or through the
    venues at the prices they then show) and :meth:`book` books the exact fill; :meth:`finish`
    books what is left negative as the insurance fund's bad debt and journals the end.

    Sizes are decided at the marks of the moment (a caller may refresh them between steps): the
    smallest size (bisection on ledger units, to within 2^-BISECT_BITS of the exposure, rounded
    up) that restores maintenance equity >= MM x (1 + buffer), or the whole exposure. After a
    step the loop ends once the account is not below maintenance (the buffer absorbs fills worse
    than the mark); a fill so much worse that it is still below: the next order is sized again, and
    after MAX_PARTIAL_STEPS on one exposure the rest of it is closed in one order, so the loop
    ends after at most MAX_PARTIAL_STEPS + 1 orders per exposure. An exposure the filler could
    not trade (nothing, or less than asked, filled) is skipped from then on and named in
    ``result.unfilled``. Synchronous and pure over the ledger, so an async caller (the venues)
    drives it the same way as :func:`liquidate`.
    """

    def __init__(self, ledger: MarginBook, sub_id: Any) -> None:
        sub = ledger.subaccount(sub_id)
        self.ledger = ledger
        self.sub = sub
        self.result = LiquidationResult(sub.name, ledger.below_maintenance(sub))
        self._buffer = BPS + ledger.liquidation_buffer_bps
        self._stepped: dict[str, int] = {}  # steps taken per exposure
        self._skipped: set[str] = set()  # exposures the filler could not trade
        self._done = not self.result.triggered
        if self._done:
            return
        self.result.cancelled_orders = list(sub.open_orders)
        sub.open_orders.clear()
        for hook in ledger.order_cancel_hooks:
            hook(sub.name, list(self.result.cancelled_orders))
        ledger.journal.append(
            "liquidation_start", subaccount=sub.name, cancelled_orders=self.result.cancelled_orders
        )

    def healthy(self, scen: Projection) -> bool:
        """Maintenance equity >= MM x (1 + buffer) and no isolated position in breach."""
        return scen.equity_maintenance * BPS >= scen.maintenance_margin * self._buffer

    def _breached_isolated(self) -> list[str]:
        sub = self.sub
        out = []
        for symbol in sorted(sub.positions):
            pos = sub.positions[symbol]
            if pos.mode == ISOLATED and symbol not in self._skipped:
                figs = sub.pos_vals[symbol]
                if pos.isolated_margin_units + figs[1] + figs[2] < figs[4]:
                    out.append(symbol)
        return out

    def next_order(self) -> LiquidationOrder | None:
        """The next step in the documented order, or None when the account is above maintenance
        (with the buffer), flat, or nothing left can be traded. O(p log p + log(size) x tiers)."""
        if self._done:
            return None
        ledger, name = self.ledger, self.sub.name
        for symbol in self._breached_isolated():
            size = self.sub.positions[symbol].size_units
            return self._order(PERP_STEP, symbol, -size, ISOLATED_PHASE)
        scen = ledger.projection(name)
        if self.healthy(scen) or (self.result.steps and scen.maintenance_excess >= 0):
            return None
        for phase in (PERP_PHASE, LIABILITY_PHASE, COLLATERAL_PHASE):
            close = _close if phase == PERP_PHASE else _close_spot
            kind = PERP_STEP if phase == PERP_PHASE else SPOT_STEP
            for symbol, size in _exposures(ledger, scen, phase):
                if symbol in self._skipped:
                    continue
                closed = size
                partial = self._stepped.get(symbol, 0) < MAX_PARTIAL_STEPS
                if partial and healthy_after(self, close, scen, symbol, size):
                    closed = self._smallest(close, scen, symbol, size)
                return self._order(kind, symbol, -closed, phase)
        return None

    def _smallest(self, close: Any, scen: Projection, symbol: str, size: int) -> int:
        """The smallest part of ``size`` whose close at the mark restores health, by bisection
        to within 2^-BISECT_BITS of ``size`` (the upper end: enough). O(BISECT_BITS x tiers)."""
        sign = 1 if size > 0 else -1
        lo, hi = 0, abs(size)  # invariant: closing lo is not enough, closing hi is
        tolerance = max(1, abs(size) >> BISECT_BITS)
        while hi - lo > tolerance:
            mid = (lo + hi) // 2
            if self.healthy(close(self.ledger, scen, symbol, sign * mid)[0]):
                hi = mid
            else:
                lo = mid
        return sign * hi

    def _order(self, kind: str, symbol: str, signed: int, phase: str) -> LiquidationOrder:
        return LiquidationOrder(
            self.sub.name, kind, symbol, signed, self.ledger.mark_units(symbol), phase
        )

    def book(self, order: LiquidationOrder, fill: LiquidationFill) -> LiquidationStep | None:
        """Book ``fill`` of ``order`` exactly (size and price as filled, fee to the fund); None and
        the exposure skipped from now on when nothing filled. A fill beyond the order or of the
        wrong sign is refused (MarginInputError) and changes nothing. O(tiers)."""
        filled = fill.filled_units
        if filled == 0:
            self._skipped.add(order.symbol)
            self.result.unfilled.append(f"{order.symbol}: {fill.note or 'nothing filled'}")
            self.ledger.journal.append(
                "liquidation_unfilled",
                subaccount=self.sub.name,
                symbol=order.symbol,
                asked=to_text(order.signed_units),
                note=fill.note or "nothing filled",
            )
            return None
        if (filled > 0) != (order.signed_units > 0) or abs(filled) > abs(order.signed_units):
            raise MarginInputError(
                "filled_units", to_text(filled), f"between 0 and {to_text(order.signed_units)}"
            )
        if fill.price_units <= 0:
            raise MarginInputError("price_units", fill.price_units, "> 0 when anything filled")
        ledger = self.ledger
        scen = ledger.projection(self.sub.name)
        close = _close if order.kind == PERP_STEP else _close_spot
        new, fee, bad_debt = close(ledger, scen, order.symbol, -filled, fill.price_units)
        ledger.commit(new)
        self._stepped[order.symbol] = self._stepped.get(order.symbol, 0) + 1
        if abs(filled) < abs(order.signed_units):
            # the venues took less: what is left of this exposure cannot be traded now
            self._skipped.add(order.symbol)
            self.result.unfilled.append(f"{order.symbol}: {fill.note or 'partly filled'}")
        step = LiquidationStep(
            order.symbol,
            filled,
            fill.price_units,
            fee,
            scen.maintenance_margin,
            new.maintenance_margin,
            new.maintenance_excess,
            bad_debt,
            order.kind,
            order.mark_units,
            order.signed_units,
        )
        self.result.steps.append(step)
        ledger.journal.append(
            "liquidation_step",
            subaccount=self.sub.name,
            kind=order.kind,
            phase=order.phase,
            symbol=order.symbol,
            asked=to_text(order.signed_units),
            closed=to_text(filled),
            price=to_text(fill.price_units),
            mark=to_text(order.mark_units),
            fee=to_text(fee),
            mm_before=to_text(step.mm_before),
            mm_after=to_text(step.mm_after),
            excess_after=to_text(step.excess_after),
        )
        if bad_debt:
            self.result.bad_debt_units += bad_debt
            ledger.journal.append(
                "bad_debt",
                subaccount=self.sub.name,
                symbol=order.symbol,
                mode=ISOLATED,
                amount=to_text(bad_debt),
            )
        return step

    def finish(self) -> LiquidationResult:
        """Book a quote balance left negative with nothing else held as the fund's bad debt, say
        how it ended (and why when no step was taken), journal the end. Idempotent."""
        result = self.result
        if self._done:
            return result
        self._done = True
        ledger, sub = self.ledger, self.sub
        quote = ledger.quote_asset
        scen = ledger.projection(sub.name)
        balance = scen.balance(quote)
        others = any(u != 0 for a, u in sub.balances.items() if a != quote)
        if not sub.positions and not others and balance < 0:
            scen.add_balance(quote, -balance)
            scen.flow(FUND_HOLDER, quote, balance)
            ledger.commit(scen)
            result.bad_debt_units += -balance
            ledger.journal.append("bad_debt", subaccount=sub.name, amount=to_text(-balance))
        flat = not sub.positions and not any(u != 0 for a, u in sub.balances.items() if a != quote)
        if not ledger.below_maintenance(sub):
            result.ended = ENDED_ABOVE
        elif flat:
            result.ended = ENDED_FLAT
        else:
            result.ended = ENDED_BLOCKED
        if not result.steps and not result.bad_debt_units:
            result.reason = _why_no_step(ledger, sub.name, result.unfilled)
            ledger.journal.append("liquidation_blocked", subaccount=sub.name, reason=result.reason)
        ledger.journal.append(
            "liquidation_end",
            subaccount=sub.name,
            steps=len(result.steps),
            ended=result.ended,
            bad_debt=to_text(result.bad_debt_units),
            unfilled=list(result.unfilled),
        )
        return result


def healthy_after(run: Liquidation, close: Any, scen: Projection, symbol: str, size: int) -> bool:
    """Whether closing all of ``size`` at the mark restores health (else the whole is closed)."""
    return run.healthy(close(run.ledger, scen, symbol, size)[0])


def liquidate(ledger: MarginBook, sub_id: Any, filler: Any = None) -> LiquidationResult:
    """Liquidate ``sub_id`` if it is below maintenance; see the module docstring. ``filler``
    (``(ledger, order) -> LiquidationFill``) trades each step, by default at the mark
    (:func:`mark_fill`). O(steps x (p log p + log(size) x tiers))."""
    fill = mark_fill if filler is None else filler
    run = Liquidation(ledger, sub_id)
    while (order := run.next_order()) is not None:
        run.book(order, fill(ledger, order))
    return run.finish()


def _why_no_step(ledger: MarginBook, sub_id: str, unfilled: list[str]) -> str:
    """The one-line reason a due liquidation closed nothing: what the filler could not trade,
    or what is left (quote owed against no collateral is bad debt, booked before this)."""
    if unfilled:
        return f"no venue filled a liquidation order: {'; '.join(unfilled)}"
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
