"""AMM and CLMM pools seeded around the replayed mid and kept in line by a gas-paying arbitrageur.

A pool is built at the first mid of its reference book (the venues' own exact math:
``venues.amm.ConstantProductPool`` and ``venues.clmm.ConcentratedLiquidityPool`` behind the
existing adapters). :class:`Arbitrageur` then trades each pool toward the reference mid: it buys
from the pool the base available up to marginal price ``mid`` (fees inside, the depth curve's
``qty_at_price``), or sells into it down to ``mid``, quantises the size to the pool's grid, re-quotes
it exactly and trades only when the exact profit against the mid, gas included (the adapter's
``leg_cost``), is positive. The arbitrageur is its own owner; its trades move the pool the router
later trades against. Complexity per check: one depth curve plus O(log) exact quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from adapters.amm import AmmAdapter
from adapters.clmm import ClmmAdapter, sqrt_price_x96_from_price, tick_at_price
from router.model.errors import RouteError
from router.model.orders import LegOrder, LegQuote
from router.sim.errors import BacktestError
from venues.amm import ConstantProductPool
from venues.clmm import ConcentratedLiquidityPool

__all__ = ["ArbTrade", "Arbitrageur", "build_amm", "build_clmm"]


def _units(value: Decimal, decimals: int) -> int:
    return int((value * (Decimal(10) ** decimals)).to_integral_value(rounding=ROUND_FLOOR))


def build_amm(
    name: str,
    symbol: str,
    mid: Decimal,
    *,
    base_reserve: Decimal,
    fee_pips: int,
    gas: Decimal,
    base_decimals: int,
    quote_decimals: int,
) -> AmmAdapter:
    """A v2 pool holding ``base_reserve`` base and ``base_reserve * mid`` quote (rounded down)."""
    if base_reserve <= 0:
        raise BacktestError(f"{name}.base_reserve", str(base_reserve), "a positive decimal")
    pool = ConstantProductPool(
        _units(base_reserve, base_decimals), _units(base_reserve * mid, quote_decimals), fee_pips
    )
    return AmmAdapter(
        name, symbol, pool, base_decimals=base_decimals, quote_decimals=quote_decimals, leg_cost=gas
    )


def build_clmm(
    name: str,
    symbol: str,
    mid: Decimal,
    *,
    liquidity: int,
    width_bps: int,
    fee_pips: int,
    tick_spacing: int,
    gas: Decimal,
    base_decimals: int,
    quote_decimals: int,
) -> ClmmAdapter:
    """A v3 pool at ``mid`` with one position of raw ``liquidity`` over mid * (1 -/+ width_bps)."""
    if not isinstance(liquidity, int) or liquidity <= 0:
        raise BacktestError(f"{name}.liquidity", liquidity, "a positive integer (Uniswap's raw L)")
    if not isinstance(width_bps, int) or not 1 <= width_bps < 10_000:
        raise BacktestError(f"{name}.width_bps", width_bps, "an integer in [1, 9999]")
    pool = ConcentratedLiquidityPool(
        fee_pips, tick_spacing, sqrt_price_x96_from_price(mid, base_decimals, quote_decimals)
    )
    width = Decimal(width_bps) / 10_000
    lower = tick_at_price(mid * (1 - width), base_decimals, quote_decimals, tick_spacing)
    upper = (
        tick_at_price(mid * (1 + width), base_decimals, quote_decimals, tick_spacing) + tick_spacing
    )
    pool.mint("lp", lower, upper, liquidity)
    return ClmmAdapter(
        name,
        symbol,
        pool,
        base_decimals=base_decimals,
        quote_decimals=quote_decimals,
        fee_pips=fee_pips,
        leg_cost=gas,
    )


@dataclass(frozen=True)
class ArbTrade:
    """One arbitrage: ``side`` is the arbitrageur's on the pool; profit in quote after gas."""

    ts_ns: int
    venue: str
    side: str
    qty: Decimal
    quote_amount: Decimal
    mid: Decimal
    profit: Decimal


_POOL_METHODS = ("mid_price", "depth_curve", "base_quantum", "quote", "execute")


def _require_pools(pools: Any) -> list[Any]:
    if not isinstance(pools, (list, tuple)):
        raise BacktestError("pools", pools, "a list of pool adapters")
    for index, pool in enumerate(pools):
        missing = [m for m in _POOL_METHODS if not callable(getattr(pool, m, None))]
        if missing or not isinstance(getattr(pool, "name", None), str):
            raise BacktestError(
                f"pools[{index}]",
                pool,
                f"a pool adapter with a name and {', '.join(_POOL_METHODS)}",
            )
    return list(pools)


def arbitrage_leg(adapter: Any, side: str, mid: Decimal, quantum: Decimal) -> LegQuote | None:
    """The exact leg that takes ``adapter`` on ``side`` up to marginal price ``mid``, or None when
    it would not profit after fees and gas (the leg cost is inside ``quote_amount``).

    The float depth curve only sizes the attempt (floored to ``quantum`` base, so it never
    overshoots); the decision is on the venue's exact re-quote. Read-only. O(curve segments).
    """
    qty_float = adapter.depth_curve(side).qty_at_price(float(mid))
    if not qty_float > 0:
        return None
    qty = (Decimal(repr(qty_float)) / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum
    if qty <= 0:
        return None
    try:
        leg = adapter.quote(side, qty)
    except RouteError:
        return None
    value = qty * mid
    profit = value - leg.quote_amount if side == "buy" else leg.quote_amount - value
    return leg if profit > 0 else None


class Arbitrageur:
    """Keeps pools in line with a reference mid, trading only when the exact profit beats gas.

    ``pools`` may be replaced between calls (the replay aligns one symbol's pools at a time);
    ``trades`` only grows, in time order. O(pools) exact quotes per :meth:`align`.
    """

    def __init__(self, pools: list[Any], *, owner: str = "arb") -> None:
        if not isinstance(owner, str) or not owner:
            raise BacktestError("owner", owner, "a non-empty string")
        self.pools = _require_pools(pools)
        self.owner = owner
        self.trades: list[ArbTrade] = []
        self._seq = 0
        self._last_ts_ns = 0

    async def align(self, mid: Decimal, ts_ns: int) -> list[ArbTrade]:
        """Trade every pool toward ``mid`` (quote per base, a Decimal > 0) at ``ts_ns`` (int ns, not
        before the previous call) when profitable; returns the trades made. Bad input changes nothing."""
        if not isinstance(mid, Decimal) or not mid.is_finite() or mid <= 0:
            raise BacktestError("mid", mid, "a finite Decimal > 0 (quote per base)")
        if type(ts_ns) is not int or ts_ns < self._last_ts_ns:
            raise BacktestError(
                "ts_ns", ts_ns, f"an integer >= {self._last_ts_ns} (ns, never going back)"
            )
        self.pools = _require_pools(self.pools)
        self._last_ts_ns = ts_ns
        done = []
        for pool in self.pools:
            trade = await self._align_one(pool, mid, ts_ns)
            if trade is not None:
                done.append(trade)
        self.trades.extend(done)
        return done

    async def _align_one(self, pool: Any, mid: Decimal, ts_ns: int) -> ArbTrade | None:
        side = "buy" if pool.mid_price() < mid else "sell"
        leg = arbitrage_leg(pool, side, mid, pool.base_quantum())
        if leg is None:
            return None
        self._seq += 1
        fill = await pool.execute(LegOrder(pool.name, side, leg.qty, f"{self.owner}-{self._seq}"))
        if fill.status == "rejected":
            return None
        got = (
            fill.filled_qty * mid - fill.quote_amount
            if side == "buy"
            else fill.quote_amount - fill.filled_qty * mid
        )
        return ArbTrade(ts_ns, pool.name, side, fill.filled_qty, fill.quote_amount, mid, got)

    def _check(self) -> None:
        """Invariants: trades in time order, each a positive size on a known side, each profitable
        after gas (the arbitrageur only trades on an exact positive profit), ids never reused."""
        assert self._seq >= len(self.trades)
        last = 0
        for trade in self.trades:
            assert isinstance(trade, ArbTrade) and trade.side in ("buy", "sell")
            assert trade.qty > 0 and trade.profit > 0 and trade.ts_ns >= last
            last = trade.ts_ns
        assert last <= self._last_ts_ns
