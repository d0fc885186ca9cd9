"""Spot swaps between two assets, neither of which need be the margin quote asset.

A hop of a multi-hop route trades ETH for USDT, ETH for WBTC or USDC for USDT. The ledger's spot
leg (:class:`~router.margin.checks.LedgerLeg`) is an asset against the margin quote at a price:
booking ETH/USDT through it would pay USDC for USDT's figure. A :class:`SpotSwap` books what the
venue really moved instead: ``give`` units of one asset out of the subaccount, ``get`` units of
another in, both exact in ledger quanta (fees are inside the amounts, as the venue charged them).
The market holder takes the opposite of both, so assets are conserved.

Acceptance is the spot leg's rule (:meth:`router.margin.ledger.MarginLedger.check_leg`): headroom
after the swap must stay >= 0 unless the swap only reduces risk and does not lower headroom; a
risk-increasing swap needs valid marks on the non-quote assets it touches; a borrow (a balance
driven below zero) must stay within the asset's borrow limit. O(1) projection steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.margin.book import MarginBook
from router.margin.checks import CheckResult
from router.margin.errors import MarginInputError, MarginRejected, OraclePriceError
from router.margin.oracle import MISSING
from router.margin.projection import MARKET, Projection
from router.margin.quantities import parse_name, parse_units, to_decimal

__all__ = ["SpotSwap", "apply_swap", "book_swap", "swap_step", "validate_swap"]


@dataclass(frozen=True)
class SpotSwap:
    """Give ``give`` (> 0) of ``give_asset``, get ``get`` (>= 0) of ``get_asset`` (two different
    assets; decimal strings, ints or Decimals on the ledger's grid, floats refused). Validated on
    construction; ``give_units``/``get_units`` are the ledger quanta."""

    give_asset: str
    give: Any
    get_asset: str
    get: Any
    _units: tuple[int, int] = field(init=False, repr=False, compare=False, default=(0, 0))

    def __post_init__(self) -> None:
        parse_name("give_asset", self.give_asset)
        parse_name("get_asset", self.get_asset)
        if self.give_asset == self.get_asset:
            raise MarginInputError(
                "get_asset", self.get_asset, f"an asset other than {self.give_asset}"
            )
        units = (
            parse_units("give", self.give, positive=True),
            # a fill worth less than one ledger quantum receives nothing the ledger can count
            parse_units("get", self.get, minimum=0),
        )
        object.__setattr__(self, "_units", units)

    @property
    def give_units(self) -> int:
        return self._units[0]

    @property
    def get_units(self) -> int:
        return self._units[1]

    def to_json(self) -> dict[str, str]:
        return {
            "kind": "swap",
            "give_asset": self.give_asset,
            "give": str(self.give),
            "get_asset": self.get_asset,
            "get": str(self.get),
        }


def validate_swap(ledger: MarginBook, swap: Any) -> None:
    """Both assets registered, and every non-quote one marked; else MarginInputError /
    OraclePriceError naming it. Changes nothing."""
    if not isinstance(swap, SpotSwap):
        raise MarginInputError("swap", swap, "a SpotSwap")
    for asset in (swap.give_asset, swap.get_asset):
        ledger.known_asset(asset)
        if asset != ledger.quote_asset and asset not in ledger.marks:
            raise OraclePriceError(asset, MISSING)


def book_swap(scen: Projection, swap: SpotSwap) -> None:
    """Move both assets of ``swap`` on ``scen`` (no check); the market holder takes the other
    side of both, so each asset's total is unchanged. O(1)."""
    scen.add_balance(swap.give_asset, -swap.give_units)
    scen.add_balance(swap.get_asset, swap.get_units)
    scen.flow(MARKET, swap.give_asset, swap.give_units)
    scen.flow(MARKET, swap.get_asset, -swap.get_units)


def _moves_away_from_zero(held: int, delta: int) -> bool:
    new = held + delta
    return not (held != 0 and abs(new) < abs(held) and (new == 0 or (new > 0) == (held > 0)))


def swap_step(
    ledger: MarginBook, scen: Projection, swap: SpotSwap, index: int | None
) -> tuple[Projection, CheckResult]:
    """The swap on a copy of ``scen``: (the new projection, or ``scen`` itself when refused; the
    result). The rules are the spot leg's (see the module docstring)."""
    quote = ledger.quote_asset
    before = scen.headroom
    new = scen.copy()
    book_swap(new, swap)
    after = new.headroom
    # the spot leg's rule, asset by asset: exposure grows when a non-quote balance moves away
    # from zero (a quote borrow is priced by the headroom test itself), so a swap against the
    # quote is judged exactly as the equivalent spot leg (tested)
    increasing = any(
        asset != quote and _moves_away_from_zero(scen.balance(asset), delta)
        for asset, delta in ((swap.give_asset, -swap.give_units), (swap.get_asset, swap.get_units))
    )

    def refused(
        limit: str, asset: str, required: int, available: int
    ) -> tuple[Projection, CheckResult]:
        return scen, CheckResult(
            False,
            to_decimal(before),
            to_decimal(after),
            increasing,
            limit,
            asset,
            to_decimal(required),
            to_decimal(available),
            to_decimal(required - available),
            index,
        )

    if increasing:
        for asset in (swap.give_asset, swap.get_asset):
            mark = ledger.marks.get(asset)
            if asset != quote and (mark is None or not mark.valid):
                return refused("price_invalid", asset, 0, 0)
    if after < 0 and (increasing or after < before):
        return refused("headroom", quote, new.initial_margin, new.equity_initial)
    limit = ledger.assets[swap.give_asset].borrow_limit_units
    owed = -new.balance(swap.give_asset)
    if limit is not None and owed > limit and owed > -scen.balance(swap.give_asset):
        return refused("borrow_limit", swap.give_asset, owed, limit)
    return new, CheckResult(
        True, to_decimal(before), to_decimal(after), increasing, leg_index=index
    )


def apply_swap(ledger: MarginBook, sub_id: Any, swap: Any) -> CheckResult:
    """Check ``swap`` and, if accepted, book it exactly; else raise MarginRejected (nothing
    changes)."""
    sub = ledger.subaccount(sub_id)
    validate_swap(ledger, swap)
    scen, result = swap_step(ledger, Projection(ledger, sub), swap, None)
    if not result.accepted:
        ledger.journal.append(
            "reject_swap", subaccount=sub.name, swap=swap.to_json(), result=result.to_json()
        )
        raise MarginRejected.from_check(result, sub.name, ledger.quote_asset)
    ledger.commit(scen)
    ledger.journal.append(
        "apply_swap", subaccount=sub.name, swap=swap.to_json(), result=result.to_json()
    )
    return result
