"""Bridge from the executor's :class:`~router.execution.gate.MarginGate` to the cross-margin core.

:class:`LedgerGate` answers the executor's questions for one subaccount of a
:class:`router.margin.ledger.MarginLedger`; it adds no margin math of its own, only unit mapping:

- a spot leg on ``BASE/QUOTE`` quoted in the margin asset is a ledger spot leg on asset
  ``BASE``; on any other pair (a multi-hop route's ETH/USDT, ETH/WBTC or USDC/USDT hop) it is a
  two-asset :class:`~router.margin.swap.SpotSwap` of exactly what the venue moved; a perp leg on
  ``BASE/QUOTE:SETTLE`` is a ledger perp leg on the market named in ``perp_markets``;
- the ledger counts on a 1e-18 grid (``QUANTUM``: the venues' grain, so every fill's size is
  booked as the venue filled it). A *check* uses the child's worst price (rounded to that grid
  against the account) with fees inside for spot, and fees charged again for perps
  (conservative). A *booking* of a spot fill is exact in quote cash: the price is the average
  rounded toward the account's advantage and the rounding difference is booked as fee, so that
  quote paid (received) equals the venue's figure to the 1e-18. A perp fill's entry price is
  rounded against the account (a long's up, a short's down): at most 1e-18 quote per base of
  dust.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from router.execution.gate import MaintenanceCheck, MarginCheck, MarginLeg
from router.execution.liquidation import (
    VenueFiller,
    liquidate_through_venues,
    liquidation_outcome,
)
from router.execution.order import base_asset
from router.margin.checks import LedgerLeg
from router.margin.ledger import MarginLedger
from router.margin.quantities import QUANTUM, SCALE, to_decimal, to_text
from router.margin.report import margin_report
from router.margin.swap import SpotSwap, book_swap
from router.model.errors import CrossrouteError, ExecutionError

__all__ = ["LedgerGate"]

ZERO = Decimal(0)


# Exact rationals as (numerator, denominator > 0) integer pairs: the same values as Fraction
# arithmetic without its gcd normalisation on every step (a paper ack books and checks a few
# legs; Fraction construction was ~2% of it). Floor and ceiling of n / d do not depend on n / d
# being in lowest terms, so every result is the one the Fraction form gave (property test:
# tests/unit/router/execution/test_margin_gate_grid.py).
_Ratio = tuple[int, int]


def _exact(value: Decimal | Fraction | int) -> _Ratio:
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator


def _on_grid(value: _Ratio, up: bool) -> Decimal:
    """``value`` on the ledger's grid, rounded up or down. Exact for any magnitude and any
    number of places: integers, not a decimal context's 28 digits (a 1e-18 grid needs more)."""
    scaled, denominator = value[0] * SCALE, value[1]
    units = -((-scaled) // denominator) if up else scaled // denominator
    return to_decimal(units)


def _up(value: Decimal | Fraction | _Ratio) -> Decimal:
    return _on_grid(value if isinstance(value, tuple) else _exact(value), True)


def _down(value: Decimal | Fraction | _Ratio) -> Decimal:
    return _on_grid(value if isinstance(value, tuple) else _exact(value), False)


def _ratio(numerator: Decimal | _Ratio, denominator: Decimal) -> _Ratio:
    """numerator / denominator exactly (ZeroDivisionError for a zero denominator)."""
    a, b = numerator if isinstance(numerator, tuple) else _exact(numerator)
    c, d = _exact(denominator)
    if c == 0:
        raise ZeroDivisionError(f"{numerator} / {denominator}")
    top, bottom = a * d, b * c
    return (-top, -bottom) if bottom < 0 else (top, bottom)


def _product(x: Decimal, y: Decimal) -> _Ratio:
    a, b = _exact(x)
    c, d = _exact(y)
    return a * c, b * d


def _difference(x: Decimal | _Ratio, y: Decimal | _Ratio) -> _Ratio:
    a, b = x if isinstance(x, tuple) else _exact(x)
    c, d = y if isinstance(y, tuple) else _exact(y)
    return a * d - c * b, b * d


def _sum(x: Decimal, y: Decimal) -> _Ratio:
    a, b = _exact(x)
    c, d = _exact(y)
    return a * d + c * b, b * d


def booking_price_and_fee(
    instrument: str, side: str, qty: Decimal, quote_amount: Decimal, fee: Decimal
) -> tuple[Decimal, Decimal]:
    """The (price, fee) at which an actual fill of ``qty`` for an all-in ``quote_amount`` (and the
    venue's ``fee`` inside it) is booked in the ledger's quanta, rounded against the account (see
    the module docstring). One rule for the executor and for replaying its journal. Exact."""
    if instrument == "spot":
        if side == "buy":
            price = _down(_ratio(quote_amount, qty))
            booked_fee = _difference(quote_amount, _up(_product(qty, price)))
        else:
            price = _up(_ratio(quote_amount, qty))
            booked_fee = _difference(_down(_product(qty, price)), quote_amount)
        return price, _up(booked_fee if booked_fee[0] > 0 else (0, 1))
    notional = _difference(quote_amount, fee) if side == "buy" else _sum(quote_amount, fee)
    per_base = _ratio(notional, qty)
    price = _up(per_base) if side == "buy" else _down(per_base)
    return price, _up(fee)


class LedgerGate:
    """The executor's margin gate on subaccount ``sub_id`` of ``ledger``.

    ``perp_markets`` maps a perp symbol (``ETH/USDC:USDC``) to the ledger's market name
    (``ETH-PERP``). ``isolated`` (optional) maps perp markets to isolated positions: the
    capital-efficiency figure then compares against requirements posted per position.
    Checks are O(legs) ledger steps (plus the ledger's own order search when a given order fails).
    """

    def __init__(
        self, ledger: MarginLedger, sub_id: str, perp_markets: Mapping[str, str] | None = None
    ) -> None:
        if not isinstance(ledger, MarginLedger):
            raise ExecutionError(
                f"ledger={ledger!r} is invalid; allowed: a MarginLedger",
                field="ledger",
                value=repr(ledger),
                allowed="a MarginLedger",
            )
        if sub_id not in ledger.subs:
            raise ExecutionError(
                f"sub_id={sub_id!r} is invalid; allowed: one of {sorted(ledger.subs)}",
                field="sub_id",
                value=sub_id,
                allowed=str(sorted(ledger.subs)),
            )
        markets = dict(perp_markets or {})
        for symbol, market in markets.items():
            if market not in ledger.markets:
                raise ExecutionError(
                    f"perp_markets[{symbol!r}]={market!r} is invalid; allowed: one of "
                    f"{sorted(ledger.markets)}",
                    field=f"perp_markets[{symbol}]",
                    value=market,
                    allowed=str(sorted(ledger.markets)),
                )
        self.ledger = ledger
        self.sub_id = sub_id
        self.perp_markets = markets

    # -- unit mapping ------------------------------------------------------------------------

    def _symbol(self, leg: MarginLeg) -> str:
        if leg.instrument == "spot":
            return base_asset(leg.symbol)
        try:
            return self.perp_markets[leg.symbol]
        except KeyError:
            raise ExecutionError(
                f"perp symbol {leg.symbol!r} has no margin market; allowed: "
                f"{sorted(self.perp_markets)}",
                field="symbol",
                value=leg.symbol,
                allowed=str(sorted(self.perp_markets)),
            ) from None

    def _worst(self, leg: MarginLeg) -> LedgerLeg:
        """A check leg: worst price (all-in) per base, rounded against the account."""
        price = _ratio(leg.quote_amount, leg.qty)
        price_on_grid = _up(price) if leg.side == "buy" else _down(price)
        fee = _up(leg.fee) if leg.instrument == "perp" else ZERO
        return LedgerLeg(
            leg.instrument,
            self._symbol(leg),
            leg.side,
            _down(leg.qty) or QUANTUM,
            max(price_on_grid, QUANTUM),
            fee,
        )

    def _booked(self, fill: MarginLeg) -> LedgerLeg:
        """A booking leg for an actual fill (see the module docstring for the rounding)."""
        price, fee = booking_price_and_fee(
            fill.instrument, fill.side, fill.qty, fill.quote_amount, fill.fee
        )
        return LedgerLeg(fill.instrument, self._symbol(fill), fill.side, fill.qty, price, fee)

    def _swap(self, leg: MarginLeg) -> SpotSwap | None:
        """A spot leg on a pair not quoted in the margin asset (ETH/USDT, ETH/WBTC, USDC/USDT)
        as the two-asset swap it is, or None for any other leg. Amounts on the ledger grid,
        rounded against the account (given up, received down); a booking uses the fill's
        figures, a check the worst-case ones: the same rounding serves both."""
        if leg.instrument != "spot":
            return None
        base, _, quote = leg.symbol.partition("/")
        if quote == self.ledger.quote_asset:
            return None
        qty, amount = leg.qty, leg.quote_amount
        if leg.side == "buy":
            give, give_qty, get, get_qty = quote, amount, base, qty
        else:
            give, give_qty, get, get_qty = base, qty, quote, amount
        return SpotSwap(
            give,
            _up(give_qty),
            get,
            _down(get_qty),
        )

    # -- MarginGate --------------------------------------------------------------------------

    def check(self, legs: Sequence[MarginLeg]) -> MarginCheck:
        """Check every prefix of ``legs`` in the given order (the ledger's own check). Read-only
        for balances; the ledger journals the check."""
        quote = self.ledger.quote_asset
        before = self.ledger.headroom(self.sub_id)
        if not legs:
            return MarginCheck(True, before, (), None, "", quote)
        try:
            swaps = [self._swap(leg) for leg in legs]
            ledger_legs: list[LedgerLeg | SpotSwap] = [
                self._worst(leg) if swap is None else swap for leg, swap in zip(legs, swaps)
            ]
            if any(swaps):
                result = self.ledger.check_swaps(self.sub_id, ledger_legs)
            else:
                result = self.ledger.check_legs(self.sub_id, ledger_legs)
        except CrossrouteError as exc:
            return MarginCheck(False, before, (), 0, f"margin input refused: {exc}", quote)
        failure = result.given_failure
        if failure is None:
            return MarginCheck(
                True, before, tuple(s.headroom_after for s in result.steps), None, "", quote
            )
        index = failure.leg_index if failure.leg_index is not None else 0
        after: tuple[Decimal, ...] = ()
        if index > 0:
            prefix = (
                self.ledger.check_swaps(self.sub_id, ledger_legs[:index])
                if any(swaps)
                else self.ledger.check_legs(self.sub_id, ledger_legs[:index])
            )
            after = (
                tuple(s.headroom_after for s in prefix.steps)
                if prefix.given_failure is None
                else ()
            )
        after += (failure.headroom_after,)
        reason = (
            f"{failure.limit} limit: required {failure.required} {failure.asset}, available "
            f"{failure.available}, short by {failure.shortfall} (headroom after "
            f"{failure.headroom_after})"
        )
        return MarginCheck(False, before, after, index, reason, failure.asset or quote)

    def set_marks(self, marks: Mapping[str, Decimal]) -> None:
        """Move the ledger's marks (asset or market name -> price) to fresh readings of their
        sources; the next check and maintenance test use them."""
        for name, price in marks.items():
            self.ledger.set_mark(name, price)

    def apply(self, fill: MarginLeg) -> None:
        """Book an actual fill. The ledger re-checks it; a refusal means the venue filled outside
        the checked worst case, which the executor journals as an invariant violation."""
        swap = self._swap(fill)
        if swap is not None:
            self.ledger.apply_swap(self.sub_id, swap)
            return
        self.ledger.apply_leg(self.sub_id, self._booked(fill))

    def maintenance(self, pending: Sequence[MarginLeg] = ()) -> MaintenanceCheck:
        """Maintenance excess now, and with ``pending`` legs booked at their prices (a what-if on a
        scenario: nothing changes). ``breached`` judges the state with the pending legs when any
        are given. O(legs) ledger steps."""
        ledger = self.ledger
        sub = ledger.subs[self.sub_id]
        scen = ledger.projection(self.sub_id)
        excess = scen.maintenance_excess
        breached_now = excess < 0 or ledger.isolated_breach(sub)
        if not pending:
            return MaintenanceCheck(to_decimal(excess), to_decimal(excess), breached_now)
        what_if = scen.copy()
        for leg in pending:
            if not isinstance(leg, MarginLeg):
                raise ExecutionError(
                    f"pending leg {leg!r} is invalid; allowed: a MarginLeg",
                    field="pending",
                    value=repr(leg),
                    allowed="MarginLeg",
                )
            swap = self._swap(leg)
            if swap is not None:
                book_swap(what_if, swap)
                continue
            booked = self._worst(leg)
            if booked.kind == "perp":
                what_if.trade_perp(
                    booked.symbol, booked.signed_units, booked.price_units, booked.fee_units
                )
            else:
                what_if.trade_spot(
                    booked.symbol, booked.signed_units, booked.price_units, booked.fee_units
                )
        with_pending = what_if.maintenance_excess
        # an isolated bucket is its own: a pending hedge elsewhere cannot save it
        return MaintenanceCheck(
            to_decimal(excess),
            to_decimal(with_pending),
            with_pending < 0 or ledger.isolated_breach(sub),
        )

    async def liquidate_through(
        self,
        adapters: Mapping[str, Any],
        client_prefix: str,
        refresh_marks: Callable[[], None] | None = None,
    ) -> tuple[dict[str, object], list[Any]]:
        """Run the margin core's liquidation loop on this subaccount with every step routed
        through ``adapters`` at the prices they show (router/execution/liquidation.py); what it
        did, and the venues' child fills (client ids ``<client_prefix>-<n>``)."""
        names = {market: symbol for symbol, market in self.perp_markets.items()}
        filler = VenueFiller(adapters, names, self.ledger.quote_asset, client_prefix)
        result = await liquidate_through_venues(self.ledger, self.sub_id, filler, refresh_marks)
        return liquidation_outcome(result), list(filler.sent)

    def liquidate(self) -> dict[str, object]:
        """Run the margin core's deterministic liquidation on this subaccount at the marks (no
        venues); what it did."""
        result = self.ledger.liquidate(self.sub_id)
        return {
            "triggered": result.triggered,
            "cancelled_orders": list(result.cancelled_orders),
            "steps": [
                {
                    "symbol": st.symbol,
                    "closed": to_text(st.closed_units),
                    "price": to_text(st.price_units),
                    "fee": to_text(st.fee_units),
                }
                for st in result.steps
            ],
            "bad_debt": to_text(result.bad_debt_units),
        }

    def summary(self) -> dict[str, Decimal]:
        full = self.ledger.summary(self.sub_id)
        return {k: full[k] for k in ("equity", "initial_margin", "maintenance_margin", "headroom")}

    def capital_efficiency(self) -> dict[str, Decimal]:
        """Cross requirement against the sum of isolated requirements, from the margin core."""
        return _capital_efficiency(self.ledger, self.sub_id)


def _capital_efficiency(ledger: MarginLedger, sub_id: str) -> dict[str, Decimal]:
    figures = margin_report(ledger, sub_id)["capital_efficiency"]
    cross = Decimal(figures["cross_requirement"])
    isolated = Decimal(figures["isolated_requirement"])
    return {"cross_requirement": cross, "isolated_requirement": isolated, "saved": isolated - cross}
