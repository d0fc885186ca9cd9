"""Served markets: a venue object with its Binance symbol, filters, units and depth.

Two kinds of market stand behind one face:

- :class:`BookMarket` wraps a ``venues.orderbook.OrderBook`` (spot or perpetual): prices are the
  book's ticks, quantities its lots; LIMIT and MARKET orders.
- :class:`PoolMarket` wraps a constant-product pool (``venues.amm``) or a concentrated-liquidity
  pool (``venues.clmm``) as a spot market that accepts MARKET orders only: a buy of ``qty`` base
  is an exact-output swap, a sell an exact-input swap. Its depth is a synthetic ladder: level k
  holds ``depth_step`` base at the average price of that slice of the curve, quoted with the
  pool's own integer math (asks rounded up, bids down, against the reader).

Symbols are Binance's: base and quote asset names concatenated ("ETHUSDC"). Every conversion
between Decimal strings and integers is exact; a value off the grid is a -1013 filter failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any, Protocol

from router.server.common import plain
from router.server.errors import filter_failure
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from venues.errors import InvalidArgument, VenueError

MAX_QTY = Decimal("92141578")  # Binance's usual LOT_SIZE maxQty
MAX_PRICE = Decimal("1000000000")


# The default 28-digit context would round "999999999.00000000000000000001" / 0.01 to a whole
# number of ticks and accept an off-grid price; 120 digits hold any request value exactly.
_EXACT = Context(prec=120)


def _integral(value: Decimal) -> bool:
    return value == value.to_integral_value(context=_EXACT)


def _qty_steps(qty: Decimal, step_size: Decimal, filter_name: str) -> int:
    """``qty`` as a whole number of ``step_size`` steps; Binance's -1013 ``filter_name`` failure
    when it is not positive, above maxQty or off the grid."""
    if qty <= 0 or qty > MAX_QTY:
        raise filter_failure(filter_name, quantity=str(qty))
    steps = _grid_steps(qty, step_size)
    if steps is None:
        raise filter_failure(filter_name, quantity=str(qty), step_size=str(step_size))
    return steps


def _grid_steps(value: Decimal, step: Decimal) -> int | None:
    """``value`` as a whole number of ``step``s, or None when it is off that grid. Exact. O(digits)."""
    steps = _EXACT.divide(value, step)
    return int(steps) if _integral(steps) else None


@dataclass(frozen=True, slots=True)
class MarketUnits:
    """Asset names and decimals of one market; ``base_decimals``/``quote_decimals`` from the config."""

    base: str
    quote: str
    base_decimals: int
    quote_decimals: int

    @property
    def symbol_id(self) -> str:
        return f"{self.base}{self.quote}"


class ServedMarket(Protocol):
    name: str
    units: MarketUnits
    kind: str
    order_types: tuple[str, ...]
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal

    def depth(
        self, limit: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]: ...


class BookMarket:
    """A served order book. ``lot_units``/``quantum_units`` convert lots and quanta to ledger units.

    Raises InvalidArgument when a lot or a quantum (tick x lot) is not a whole number of the asset's
    base units, because then fills could not be settled exactly.
    """

    def __init__(self, name: str, book: Any, units: MarketUnits, *, leverage: int = 20) -> None:
        self.name = name
        self.book = book
        self.units = units
        self.kind = book.kind
        self.order_types = ("LIMIT", "MARKET")
        self.tick_size: Decimal = book.tick_size
        self.step_size: Decimal = book.lot_size
        self.min_notional: Decimal = book.min_notional
        self.leverage = leverage
        lot_units = book.lot_size.scaleb(units.base_decimals, _EXACT)
        quantum_units = (book.tick_size * book.lot_size).scaleb(units.quote_decimals, _EXACT)
        if not _integral(lot_units) or lot_units < 1:
            raise InvalidArgument(
                "lot_size", book.lot_size, f"a multiple of 1e-{units.base_decimals} {units.base}"
            )
        if not _integral(quantum_units) or quantum_units < 1:
            raise InvalidArgument(
                "tick_size*lot_size",
                book.tick_size * book.lot_size,
                f"a multiple of 1e-{units.quote_decimals} {units.quote}",
            )
        self.lot_units = int(lot_units)
        self.quantum_units = int(quantum_units)

    def price_ticks(self, price: Decimal) -> int:
        """``price`` in ticks; -1013 PRICE_FILTER when off the grid or out of range."""
        if price <= 0 or price > MAX_PRICE:
            raise filter_failure("PRICE_FILTER", price=str(price))
        ticks = _grid_steps(price, self.tick_size)
        if ticks is None:
            raise filter_failure("PRICE_FILTER", price=str(price), tick_size=str(self.tick_size))
        return ticks

    def qty_lots(self, qty: Decimal, filter_name: str = "LOT_SIZE") -> int:
        """``qty`` in lots; -1013 LOT_SIZE when off the grid, zero or above maxQty."""
        return _qty_steps(qty, self.step_size, filter_name)

    def depth(
        self, limit: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Best ``limit`` levels each side as (price, qty) in whole units. O(limit)."""
        tick, lot = self.tick_size, self.step_size
        bids = [(p * tick, q * lot) for p, q in self.book.depth("bids", limit)]
        asks = [(p * tick, q * lot) for p, q in self.book.depth("asks", limit)]
        return bids, asks


class PoolQuoter(Protocol):
    def quote_sell(self, base_in: int) -> int: ...
    def quote_buy(self, base_out: int) -> int: ...
    def sell(self, base_in: int) -> int: ...
    def buy(self, base_out: int) -> int: ...


class V2Quoter:
    """Base = token0, quote = token1 of a ``ConstantProductPool``; Uniswap v2 rounding (pool's favour)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def quote_sell(self, base_in: int) -> int:
        return self.pool.get_amount_out(base_in, True)

    def quote_buy(self, base_out: int) -> int:
        return self.pool.get_amount_in(base_out, False)

    def sell(self, base_in: int) -> int:
        return self.pool.swap(base_in, True)

    def buy(self, base_out: int) -> int:
        return self.pool.swap_exact_out(base_out, False)


class V3Quoter:
    """Base = token0, quote = token1 of a ``ConcentratedLiquidityPool``; partial fills are refused."""

    def __init__(
        self, pool: Any, min_sqrt_ratio: int = MIN_SQRT_RATIO, max_sqrt_ratio: int = MAX_SQRT_RATIO
    ) -> None:
        self.pool = pool
        self._low = min_sqrt_ratio + 1
        self._high = max_sqrt_ratio - 1

    def _run(self, fn: Any, zero_for_one: bool, amount: int, want: int) -> int:
        result = fn(zero_for_one, amount, self._low if zero_for_one else self._high)
        # quote_swap returns a SwapQuote, swap a tuple; both carry Uniswap's signed amounts
        amount0, amount1 = (
            (result.amount0, result.amount1) if hasattr(result, "amount0") else result
        )
        if zero_for_one:  # exact input of base: all of it must go in
            if amount0 != want:
                raise VenueError("LIQ", "not enough liquidity in range", base=want, filled=amount0)
            return -amount1
        if -amount0 != want:
            raise VenueError("LIQ", "not enough liquidity in range", base=want, filled=-amount0)
        return amount1

    def quote_sell(self, base_in: int) -> int:
        return self._run(self.pool.quote_swap, True, base_in, base_in)

    def quote_buy(self, base_out: int) -> int:
        return self._run(self.pool.quote_swap, False, -base_out, base_out)

    def sell(self, base_in: int) -> int:
        self.quote_sell(base_in)  # refuse a partial fill before the pool changes
        return self._run(self.pool.swap, True, base_in, base_in)

    def buy(self, base_out: int) -> int:
        self.quote_buy(base_out)
        return self._run(self.pool.swap, False, -base_out, base_out)


class PoolMarket:
    """A served pool: MARKET orders only, quantities in base units of the base asset."""

    def __init__(
        self,
        name: str,
        quoter: PoolQuoter,
        units: MarketUnits,
        *,
        depth_step: Decimal = Decimal("1"),
        min_notional: Decimal = Decimal("0"),
    ) -> None:
        self.name = name
        self.quoter = quoter
        self.units = units
        self.kind = "spot"
        self.order_types = ("MARKET",)
        self.tick_size = Decimal(1).scaleb(-units.quote_decimals, _EXACT)
        self.step_size = Decimal(1).scaleb(-units.base_decimals, _EXACT)
        self.min_notional = min_notional
        step_units = depth_step.scaleb(units.base_decimals, _EXACT)
        if not isinstance(depth_step, Decimal) or depth_step <= 0 or not _integral(step_units):
            raise InvalidArgument(
                "depth_step", depth_step, f"a positive multiple of {self.step_size}"
            )
        self.depth_step_units = int(step_units)

    def qty_units(self, qty: Decimal, filter_name: str = "MARKET_LOT_SIZE") -> int:
        """``qty`` in base units; -1013 when off the grid or not positive."""
        return _qty_steps(qty, self.step_size, filter_name)

    def depth(
        self, limit: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """A synthetic ladder of ``limit`` slices of ``depth_step`` base each side. O(limit) quotes.

        Level price = quote of the slice / base of the slice, asks rounded up and bids down to the
        quote tick; the ladder stops where the pool runs out of liquidity.
        """
        bd, qd = self.units.base_decimals, self.units.quote_decimals
        step = self.depth_step_units
        qty = Decimal(step).scaleb(-bd, _EXACT)
        bids: list[tuple[Decimal, Decimal]] = []
        asks: list[tuple[Decimal, Decimal]] = []
        previous_out = previous_in = 0
        for k in range(1, limit + 1):
            try:
                out = self.quoter.quote_sell(step * k)
            except VenueError:
                break
            slice_quote = out - previous_out
            previous_out = out
            # floor(slice_quote * 10**bd / step) quote units per whole base, against the reader
            price_units = slice_quote * 10**bd // step
            if price_units <= 0:
                break
            bids.append((Decimal(price_units).scaleb(-qd, _EXACT), qty))
        for k in range(1, limit + 1):
            try:
                paid = self.quoter.quote_buy(step * k)
            except VenueError:
                break
            slice_quote = paid - previous_in
            previous_in = paid
            price_units = -(-slice_quote * 10**bd // step)
            asks.append((Decimal(price_units).scaleb(-qd, _EXACT), qty))
        return bids, asks


def filters(market: Any) -> list[dict[str, Any]]:
    """Binance filters of a market: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL."""
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": plain(market.tick_size),
            "maxPrice": plain(MAX_PRICE),
            "tickSize": plain(market.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": plain(market.step_size),
            "maxQty": plain(MAX_QTY),
            "stepSize": plain(market.step_size),
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": plain(market.step_size),
            "maxQty": plain(MAX_QTY),
            "stepSize": plain(market.step_size),
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": plain(market.min_notional),
            "applyMinToMarket": True,
            "maxNotional": "9000000000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 0,
        },
    ]


def precision_digits(step: Decimal) -> int:
    """Number of decimals of ``step`` (0.0001 -> 4)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))
