"""Adapter for a constant-product pool (``venues.amm.ConstantProductPool``), and the pool skeleton.

Token0 is the base asset and token1 the quote asset. A taker buy is quote in, base out
(``zero_for_one=False``); a taker sell is base in, quote out (``zero_for_one=True``).
:class:`PoolAdapter` holds what both pool kinds share (units, leg cost, quoting in quote, execution);
a pool kind only supplies four exact integer hooks and two swaps.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.account import VenueAccount
from adapters.units import (
    CurveCache,
    check_amount,
    check_decimals,
    check_identity,
    check_leg_order,
    check_side,
    from_units,
    invalid,
    quote_or_reject,
    rejected_fill,
    to_float,
    to_units,
    to_units_exact,
)
from router.model.depth import DepthCurve, HyperbolicSegment
from router.model.errors import RouteError
from router.model.orders import LegFill, LegOrder, LegQuote
from venues.amm import ConstantProductPool
from venues.errors import VenueError

PIPS = 1_000_000
# A buy may take all but this share of a pool's base reserve on the curve: the last wei would cost
# an unbounded amount of quote, and the float curve must stay finite.
BUY_DUST_SHARE = 1e-9
# Selling into a pool never runs out of liquidity; the curve is cut at this multiple of the base
# reserve, far beyond any price a router would accept.
SELL_CAP_RESERVE_MULTIPLE = 1e6


class PoolAdapter:
    """Skeleton of an adapter over a pool that trades base (token0) against quote (token1).

    Units: base in 10^-base_decimals, quote in 10^-quote_decimals (the pool's own integers).
    Quote amounts include the pool fee and the leg cost; the leg cost is rounded up to the quote
    asset's decimals (against the trader). Read methods never change the pool.
    """

    kind = "pool"

    def __init__(
        self,
        name: str,
        symbol: str,
        *,
        base_decimals: int,
        quote_decimals: int,
        fee_pips: int,
        leg_cost: Decimal = Decimal(0),
    ) -> None:
        check_identity(name, symbol)
        check_decimals("base_decimals", base_decimals, name)
        check_decimals("quote_decimals", quote_decimals, name)
        check_amount("leg_cost", leg_cost, name, allow_zero=True)
        self.name = name
        self.symbol = symbol
        self.base_decimals = base_decimals
        self.quote_decimals = quote_decimals
        self.fee_pips = fee_pips
        self.leg_cost = leg_cost
        self._leg_units = to_units_exact("leg_cost", leg_cost, quote_decimals, name)
        self._base_scale = 10**base_decimals  # token base units per whole base
        self._quote_scale = 10**quote_decimals
        # One base unit as a float: int / int is correctly rounded, as float(Fraction(1, scale)) is.
        self._base_unit_float = 1 / self._base_scale
        self._base_quantum = from_units(1, base_decimals)
        self._curves: CurveCache[DepthCurve] = CurveCache()
        self.account = VenueAccount(symbol.split("/", 1)[0])

    # -- hooks a pool kind supplies (integers in token units; raise RouteError when impossible) --

    def _quote_in_for_base_out(self, base_units: int) -> int:
        raise NotImplementedError

    def _quote_out_for_base_in(self, base_units: int) -> int:
        raise NotImplementedError

    def _base_out_for_quote_in(self, quote_units: int) -> int:
        raise NotImplementedError

    def _base_in_for_quote_out(self, quote_units: int) -> int:
        raise NotImplementedError

    def _swap_buy(self, base_units: int, max_quote_in: int) -> int:
        raise NotImplementedError

    def _swap_sell(self, base_units: int, min_quote_out: int) -> int:
        raise NotImplementedError

    # -- the VenueAdapter protocol --

    def base_quantum(self) -> Decimal:
        """One base unit of the pool's token0 (1e-18 ETH)."""
        return self._base_quantum

    def min_qty(self) -> Decimal:
        """Pools take any positive amount: one base unit."""
        return self._base_quantum

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        """Exact quote of ``qty`` base: a buy is an exact-output swap, a sell an exact-input swap.

        Units: ``qty`` whole base units, a multiple of ``base_quantum()``. Rounding: the pool's own
        (in its favour); the leg cost rounded up. Raises RouteError when the pool cannot fill.
        Read-only. Complexity: one pool quote.
        """
        check_side(side, self.name)
        check_amount("qty", qty, self.name)
        base_units = to_units_exact("qty", qty, self.base_decimals, self.name)
        if side == "buy":
            pool_quote = self._quote_in_for_base_out(base_units)
        else:
            pool_quote = self._quote_out_for_base_in(base_units)
        return self._leg_quote(side, base_units, pool_quote)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        """Exact quote of a leg sized in quote, all-in (pool fee and leg cost included).

        Buy: the base that an exact input of ``quote_amount - leg_cost`` buys; the returned quote is
        the exact re-quote of that base, which is at most ``quote_amount`` (exact input rounds the
        output down). Sell: the base to sell so that at least ``quote_amount`` is received after the
        leg cost. Either way ``execute`` of the returned ``qty`` gives exactly the returned amounts.
        Raises RouteError when the amount does not cover the leg cost or the pool cannot deliver it.
        """
        check_side(side, self.name)
        check_amount("quote_amount", quote_amount, self.name)
        if side == "buy":
            # The budget is spent, so only whole quote units count: round the budget down.
            budget_units = (
                to_units(quote_amount, self.quote_decimals, round_up=False) - self._leg_units
            )
            if budget_units <= 0:
                raise invalid(
                    "quote_amount",
                    quote_amount,
                    f"more than the leg cost {self.leg_cost}",
                    self.name,
                )
            base_units = self._base_out_for_quote_in(budget_units)
        else:
            wanted_units = (
                to_units(quote_amount, self.quote_decimals, round_up=True) + self._leg_units
            )
            base_units = self._base_in_for_quote_out(wanted_units)
        if base_units <= 0:
            raise RouteError(
                f"{self.name}: quote_amount={quote_amount} buys no base unit",
                venue=self.name,
                quote_amount=quote_amount,
            )
        return self.quote(side, from_units(base_units, self.base_decimals))

    async def execute(self, order: LegOrder) -> LegFill:
        """Trade ``order`` on the pool exactly as :meth:`quote` priced it, or reject it.

        The order is quoted first; a leg that cannot be filled or whose all-in average price is
        beyond ``order.limit_price`` is rejected without touching the pool. A venue refusal is a
        rejected ``LegFill``, never an exception. Invalid arguments raise RouteError.
        """
        check_leg_order(order, self.name)
        base_units = to_units_exact("order.qty", order.qty, self.base_decimals, self.name)
        leg = quote_or_reject(self, order)
        if isinstance(leg, LegFill):
            return self.account.book(leg)
        pool_quote = self._pool_units(leg)
        try:
            if order.side == "buy":
                paid = self._swap_buy(base_units, pool_quote)
                done = self._leg_quote("buy", base_units, paid)
            else:
                received = self._swap_sell(base_units, pool_quote)
                done = self._leg_quote("sell", base_units, received)
        except VenueError as exc:
            return self.account.book(rejected_fill(order, str(exc)))
        fill = LegFill(
            venue=self.name,
            side=order.side,
            client_order_id=order.client_order_id,
            requested_qty=order.qty,
            filled_qty=order.qty,
            quote_amount=done.quote_amount,
            fee=done.fee,
            leg_cost=done.leg_cost,
            status="filled",
        )
        return self.account.book(fill)

    async def order_status(self, client_order_id: str) -> LegFill | None:
        """The venue's answer to ``client_order_id`` from its own books (None: never received)."""
        return self.account.order(client_order_id)

    async def holdings(self) -> dict[str, Decimal]:
        """The account's signed base holding on this venue, as the venue booked it."""
        return self.account.holdings()

    # -- helpers --

    def _pool_units(self, leg: LegQuote) -> int:
        """The pool-side quote units inside an exact leg quote (without the leg cost)."""
        units = to_units_exact("quote_amount", leg.quote_amount, self.quote_decimals, self.name)
        return units - self._leg_units if leg.side == "buy" else units + self._leg_units

    def _leg_quote(self, side: str, base_units: int, pool_quote_units: int) -> LegQuote:
        """Assemble a LegQuote from the pool's integers.

        The fee is the fee share of the input valued in quote: for a buy ``ceil(in * fee / 1e6)``
        (the fee is taken from the quote input), for a sell ``ceil(out * fee / (1e6 - fee))`` (the
        fee is taken from the base input, so the proceeds are ``(1 - fee)`` of the fee-free ones).
        """
        if side == "buy":
            total = pool_quote_units + self._leg_units
            fee_units = -((-pool_quote_units * self.fee_pips) // PIPS)
        else:
            total = pool_quote_units - self._leg_units
            fee_units = -((-pool_quote_units * self.fee_pips) // (PIPS - self.fee_pips))
        return LegQuote(
            venue=self.name,
            side=side,
            qty=from_units(base_units, self.base_decimals),
            quote_amount=from_units(total, self.quote_decimals),
            fee=from_units(fee_units, self.quote_decimals),
            leg_cost=self.leg_cost,
        )


class AmmAdapter(PoolAdapter):
    """Adapter over a Uniswap-v2 style :class:`venues.amm.ConstantProductPool`.

    Depth: the whole pool is one hyperbolic segment with the reserves as virtual reserves.
    Quotes use ``get_amount_in`` / ``get_amount_out`` (exact, rounded in the pool's favour).
    """

    kind = "amm"

    def __init__(
        self,
        name: str,
        symbol: str,
        pool: ConstantProductPool,
        *,
        base_decimals: int,
        quote_decimals: int,
        leg_cost: Decimal = Decimal(0),
    ) -> None:
        super().__init__(
            name,
            symbol,
            base_decimals=base_decimals,
            quote_decimals=quote_decimals,
            fee_pips=pool.fee_pips,
            leg_cost=leg_cost,
        )
        self.pool = pool

    def depth_curve(self, side: str) -> DepthCurve:
        """One hyperbolic segment: reserves in whole units, fee = fee_pips / 1e6.

        Cached per side, keyed by (reserve0, reserve1, leg_cost): the whole input of the build, so
        any swap, mint, burn or sync rebuilds. O(1).
        """
        check_side(side, self.name)
        pool = self.pool
        return self._curves.get(
            side, (pool.reserve0, pool.reserve1, self.leg_cost), self._build_curve
        )

    def _build_curve(self, side: str, key: tuple[int, int, Decimal]) -> DepthCurve:
        """The curve of a pool holding ``key = (reserve0, reserve1, leg_cost)``; reads nothing else.

        Floats: each reserve is one correctly rounded int / int division (the same float as the
        exact Fraction route, at a fraction of the cost). O(1).
        """
        reserve0, reserve1, leg_cost = key
        x = reserve0 / self._base_scale
        y = reserve1 / self._quote_scale
        unit = self._base_unit_float
        if side == "buy":
            qty = x - max(x * BUY_DUST_SHARE, unit)
        else:
            qty = x * SELL_CAP_RESERVE_MULTIPLE
        segment = HyperbolicSegment(
            qty=max(qty, 0.0), base_reserve=x, quote_reserve=y, fee=self.fee_pips / PIPS
        )
        return DepthCurve(
            venue=self.name,
            side=side,
            segments=(segment,),
            fixed_cost=to_float(leg_cost),
            lot=unit,
            min_qty=unit,
        )

    def mid_price(self) -> Decimal:
        """Pool price reserve1/reserve0 in quote per base (whole units), 18 significant digits."""
        return from_units(self.pool.reserve1, self.quote_decimals) / from_units(
            self.pool.reserve0, self.base_decimals
        )

    def _cannot(self, exc: VenueError, what: str) -> RouteError:
        return RouteError(f"{self.name}: cannot {what}: {exc}", venue=self.name, code=exc.code)

    def _quote_in_for_base_out(self, base_units: int) -> int:
        if base_units >= self.pool.reserve0:
            raise RouteError(
                f"{self.name}: cannot buy {from_units(base_units, self.base_decimals)}"
                f" base: the pool holds {from_units(self.pool.reserve0, self.base_decimals)}",
                venue=self.name,
            )
        try:
            return self.pool.get_amount_in(base_units, False)
        except VenueError as exc:
            raise self._cannot(exc, "buy") from exc

    def _quote_out_for_base_in(self, base_units: int) -> int:
        try:
            out = self.pool.get_amount_out(base_units, True)
        except VenueError as exc:
            raise self._cannot(exc, "sell") from exc
        if out <= 0:
            raise RouteError(
                f"{self.name}: selling {from_units(base_units, self.base_decimals)}"
                " base yields no quote unit",
                venue=self.name,
            )
        return out

    def _base_out_for_quote_in(self, quote_units: int) -> int:
        try:
            return self.pool.get_amount_out(quote_units, False)
        except VenueError as exc:
            raise self._cannot(exc, "buy") from exc

    def _base_in_for_quote_out(self, quote_units: int) -> int:
        if quote_units >= self.pool.reserve1:
            raise RouteError(
                f"{self.name}: cannot pay out {from_units(quote_units, self.quote_decimals)}"
                f" quote: the pool holds {from_units(self.pool.reserve1, self.quote_decimals)}",
                venue=self.name,
            )
        try:
            return self.pool.get_amount_in(quote_units, True)
        except VenueError as exc:
            raise self._cannot(exc, "sell") from exc

    def _swap_buy(self, base_units: int, max_quote_in: int) -> int:
        return self.pool.swap_exact_out(base_units, False, max_amount_in=max_quote_in)

    def _swap_sell(self, base_units: int, min_quote_out: int) -> int:
        return self.pool.swap(base_units, True, min_amount_out=min_quote_out)
