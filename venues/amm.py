"""Constant-product pool: an exact port of Uniswap v2 (pair, library and router arithmetic).

All amounts are Python ``int`` in token base units (wei-like). ``token0`` is the market's base
asset and ``token1`` its quote asset; ``zero_for_one=True`` means token0 in, token1 out.

The fee is generalised from Uniswap v2's hard-coded 0.3% to ``fee_pips`` hundredths of a bip
(3000 = 0.3%). With ``fee_pips=3000`` every formula equals the 997/1000 original exactly,
because the generalised forms are the originals with numerator and denominator scaled by 1000.

Rounding always favours the pool, as upstream: outputs round down, required inputs round up
(``get_amount_in`` adds 1 even when the division is exact), burns round down.

Reverts are :class:`PoolRevert` (a :class:`venues.errors.VenueError`) whose ``.code`` is
Uniswap's revert string ("UniswapV2: K", "UniswapV2Library: INSUFFICIENT_LIQUIDITY", ...).
Bad arguments are :class:`venues.errors.InvalidArgument`; where Uniswap has a revert for the same
condition (a zero amount, a reserve beyond uint112) its string is the ``.code``, otherwise "ARG".
Every public method validates and computes everything before it changes anything, so a raised
error leaves the pool exactly as it was.

Time is never read from a clock: mutating methods take an explicit integer ``timestamp``
(seconds, non-decreasing), which drives the price accumulators like ``block.timestamp``;
``None`` means the same second as the last update (no time elapses).

>>> pool = ConstantProductPool(5 * 10**18, 10 * 10**18)
>>> pool.get_amount_out(10**18, True)
1662497915624478906
>>> pool.swap(10**18, True)
1662497915624478906
>>> pool.reserves
(6000000000000000000, 8337502084375521094)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from math import isqrt
from typing import Any

from venues.errors import InvalidArgument, VenueError

__all__ = [
    "FEE_DENOMINATOR_PIPS",
    "MAX_UINT112",
    "MINIMUM_LIQUIDITY",
    "ZERO_ADDRESS",
    "ConstantProductPool",
    "PoolRevert",
    "PoolState",
    "SlippageExceeded",
    "get_amount_in",
    "get_amount_out",
    "get_amounts_in",
    "get_amounts_out",
    "quote",
]

FEE_DENOMINATOR_PIPS = 1_000_000  # fee_pips are parts per million of the input amount
DEFAULT_FEE_PIPS = 3000  # Uniswap v2's 0.3%
MAX_UINT112 = 2**112 - 1  # reserves are uint112 in the pair's storage slot
MINIMUM_LIQUIDITY = 1000  # LP units locked forever by the first mint
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
Q112 = 2**112  # UQ112x112 fixed point of the price accumulators
_UINT32 = 2**32  # block timestamps are stored mod 2**32
_UINT256 = 2**256  # price accumulators overflow on purpose, mod 2**256

# Revert strings, verbatim from v2-core / v2-periphery.
K = "UniswapV2: K"
OVERFLOW = "UniswapV2: OVERFLOW"
INSUFFICIENT_OUTPUT_AMOUNT = "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"
INSUFFICIENT_INPUT_AMOUNT = "UniswapV2: INSUFFICIENT_INPUT_AMOUNT"
INSUFFICIENT_LIQUIDITY = "UniswapV2: INSUFFICIENT_LIQUIDITY"
INSUFFICIENT_LIQUIDITY_MINTED = "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED"
INSUFFICIENT_LIQUIDITY_BURNED = "UniswapV2: INSUFFICIENT_LIQUIDITY_BURNED"
LIB_INSUFFICIENT_AMOUNT = "UniswapV2Library: INSUFFICIENT_AMOUNT"
LIB_INSUFFICIENT_INPUT_AMOUNT = "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"
LIB_INSUFFICIENT_OUTPUT_AMOUNT = "UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT"
LIB_INSUFFICIENT_LIQUIDITY = "UniswapV2Library: INSUFFICIENT_LIQUIDITY"
LIB_INVALID_PATH = "UniswapV2Library: INVALID_PATH"
ROUTER_INSUFFICIENT_OUTPUT_AMOUNT = "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
ROUTER_EXCESSIVE_INPUT_AMOUNT = "UniswapV2Router: EXCESSIVE_INPUT_AMOUNT"


class PoolRevert(VenueError):
    """The pool refused an operation, as the Solidity contract would revert; nothing changed.

    ``code`` is Uniswap's revert string; ``details`` carry the numbers that failed the check.
    """


class SlippageExceeded(PoolRevert):
    """A router-level bound failed: output below ``min_amount_out`` or input above ``max_amount_in``."""


# --------------------------------------------------------------------------------------------
# Validation helpers


def _int(
    field: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
    low_code: str = "ARG",
    high_code: str = "ARG",
) -> int:
    """Return ``value`` if it is a plain ``int`` in [minimum, maximum], else raise InvalidArgument.

    A type error is code "ARG"; a value below ``minimum`` carries ``low_code`` and one above
    ``maximum`` ``high_code`` (Uniswap's revert for that condition, where it has one).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(field, value, _allowed(minimum, maximum))
    if minimum is not None and value < minimum:
        raise InvalidArgument(field, value, _allowed(minimum, maximum), low_code)
    if maximum is not None and value > maximum:
        raise InvalidArgument(field, value, _allowed(minimum, maximum), high_code)
    return value


def _allowed(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"an integer >= {minimum}"
    return "an integer"


def _bool(field: str, value: Any) -> bool:
    # Only real booleans: 0/1 or "true" as a direction is far more likely a bug than intent.
    if not isinstance(value, bool):
        raise InvalidArgument(field, value, "True or False")
    return value


def _address(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(field, value, "a non-empty string address")
    if value == ZERO_ADDRESS:
        raise InvalidArgument(
            field, value, f"any address except {ZERO_ADDRESS} (holds the locked liquidity)"
        )
    return value


def _fee(value: Any) -> int:
    return _int("fee_pips", value, 0, FEE_DENOMINATOR_PIPS - 1)


# --------------------------------------------------------------------------------------------
# UniswapV2Library: pure functions over explicit reserves


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """Equivalent amount of token B for ``amount_a`` of token A at the pool ratio, no fee.

    Units: token base units. Rounding: down. ``UniswapV2Library.quote``. O(1).
    """
    _int("amount_a", amount_a, 1, low_code=LIB_INSUFFICIENT_AMOUNT)
    _reserves_positive(reserve_a, reserve_b, "reserve_a", "reserve_b")
    return amount_a * reserve_b // reserve_a


def get_amount_out(
    amount_in: int, reserve_in: int, reserve_out: int, fee_pips: int = DEFAULT_FEE_PIPS
) -> int:
    """Output for an exact ``amount_in``, fee taken on the input.

    ``out = in*(1e6-fee)*rOut // (rIn*1e6 + in*(1e6-fee))``. Units: token base units; fee in
    pips. Rounding: down (the pool keeps the remainder). May return 0 for dust. O(1).
    """
    _int("amount_in", amount_in, 1, low_code=LIB_INSUFFICIENT_INPUT_AMOUNT)
    _reserves_positive(reserve_in, reserve_out, "reserve_in", "reserve_out")
    return _amount_out(amount_in, reserve_in, reserve_out, _fee(fee_pips))


def get_amount_in(
    amount_out: int, reserve_in: int, reserve_out: int, fee_pips: int = DEFAULT_FEE_PIPS
) -> int:
    """Input needed to receive exactly ``amount_out``, fee included.

    ``in = rIn*out*1e6 // ((rOut-out)*(1e6-fee)) + 1``. Units: token base units. Rounding: up,
    and upstream adds 1 even when the division is exact (``get_amount_in(1, 100, 100) == 2``).
    ``amount_out >= reserve_out`` raises "UniswapV2: INSUFFICIENT_LIQUIDITY" (upstream's library
    underflows there; the pair would refuse with that code). O(1).
    """
    _int("amount_out", amount_out, 1, low_code=LIB_INSUFFICIENT_OUTPUT_AMOUNT)
    _reserves_positive(reserve_in, reserve_out, "reserve_in", "reserve_out")
    _out_below_reserve(amount_out, reserve_out)
    return _amount_in(amount_out, reserve_in, reserve_out, _fee(fee_pips))


def get_amounts_out(
    amount_in: int, hops: Sequence[tuple[int, int]], fee_pips: int = DEFAULT_FEE_PIPS
) -> list[int]:
    """Chained exact-input quote along ``hops`` of ``(reserve_in, reserve_out)``.

    Returns ``[amount_in, out_1, ..., out_n]``; an empty path raises
    "UniswapV2Library: INVALID_PATH" (upstream: fewer than 2 tokens). Rounding: down per hop.
    O(len(hops)).
    """
    hops = _hops(hops)
    amounts = [amount_in]
    for reserve_in, reserve_out in hops:
        amounts.append(get_amount_out(amounts[-1], reserve_in, reserve_out, fee_pips))
    return amounts


def get_amounts_in(
    amount_out: int, hops: Sequence[tuple[int, int]], fee_pips: int = DEFAULT_FEE_PIPS
) -> list[int]:
    """Chained exact-output quote along ``hops`` of ``(reserve_in, reserve_out)``, walked backwards.

    Returns ``[in_1, ..., in_n, amount_out]``. Rounding: up per hop. O(len(hops)).
    """
    hops = _hops(hops)
    amounts = [amount_out]
    for reserve_in, reserve_out in reversed(hops):
        amounts.append(get_amount_in(amounts[-1], reserve_in, reserve_out, fee_pips))
    amounts.reverse()
    return amounts


def _hops(hops: Any) -> list[tuple[int, int]]:
    if not isinstance(hops, Sequence) or isinstance(hops, (str, bytes)):
        raise InvalidArgument("hops", hops, "a sequence of (reserve_in, reserve_out) pairs")
    if len(hops) == 0:
        raise InvalidArgument(
            "hops", hops, "at least one (reserve_in, reserve_out) pair", LIB_INVALID_PATH
        )
    out = []
    for hop in hops:
        if not isinstance(hop, Sequence) or len(hop) != 2:
            raise InvalidArgument("hops", hops, "a sequence of (reserve_in, reserve_out) pairs")
        out.append((hop[0], hop[1]))
    return out


def _reserves_positive(reserve_a: Any, reserve_b: Any, name_a: str, name_b: str) -> None:
    _int(name_a, reserve_a, 0)
    _int(name_b, reserve_b, 0)
    if reserve_a == 0 or reserve_b == 0:
        raise PoolRevert(
            LIB_INSUFFICIENT_LIQUIDITY,
            f"{name_a}={reserve_a}, {name_b}={reserve_b}; both must be > 0",
            **{name_a: reserve_a, name_b: reserve_b},
        )


def _out_below_reserve(amount_out: int, reserve_out: int) -> None:
    if amount_out >= reserve_out:
        raise InvalidArgument(
            "amount_out",
            amount_out,
            f"an integer in [1, {reserve_out - 1}] (below reserve_out={reserve_out})",
            INSUFFICIENT_LIQUIDITY,
        )


def _amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_pips: int) -> int:
    amount_in_with_fee = amount_in * (FEE_DENOMINATOR_PIPS - fee_pips)
    return (
        amount_in_with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR_PIPS + amount_in_with_fee)
    )


def _amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_pips: int) -> int:
    numerator = reserve_in * amount_out * FEE_DENOMINATOR_PIPS
    denominator = (reserve_out - amount_out) * (FEE_DENOMINATOR_PIPS - fee_pips)
    return numerator // denominator + 1


# --------------------------------------------------------------------------------------------
# The pair


@dataclass(frozen=True, slots=True)
class PoolState:
    """Every field of a pool, as a value: equal states mean indistinguishable pools."""

    reserve0: int
    reserve1: int
    fee_pips: int
    total_supply: int
    balances: tuple[tuple[str, int], ...]
    fee_to: str | None
    k_last: int
    price0_cumulative_last: int
    price1_cumulative_last: int
    timestamp: int


class ConstantProductPool:
    """A Uniswap v2 pair with its LP token, protocol-fee switch and TWAP accumulators.

    Units: token base units for amounts, LP base units for liquidity, seconds for timestamps.
    Rounding: always in the pool's favour (see the module docstring). Every operation is O(1)
    except ``state()``/``_check()``, O(number of LP holders).

    ``ConstantProductPool(r0, r1)`` seeds the pool with a plain first mint of ``(r0, r1)``
    (``isqrt(r0*r1) - 1000`` LP units to ``lp_owner``, 1000 locked to :data:`ZERO_ADDRESS`), as
    the golden vectors build their pairs. Reserves too small for that (``isqrt(r0*r1) <= 1000``)
    are still accepted for quoting: then the locked 1000 units are the whole supply. ``(0, 0)``
    makes an empty pair for :meth:`mint`. ``fee_to`` set turns the protocol fee on (1/6 of the
    growth of sqrt(k), minted as LP units at the next mint or burn).
    """

    __slots__ = (
        "_balances",
        "_fee_pips",
        "_fee_to",
        "_k_last",
        "_price0_cumulative_last",
        "_price1_cumulative_last",
        "_reserve0",
        "_reserve1",
        "_timestamp",
        "_total_supply",
    )

    def __init__(
        self,
        reserve0: int,
        reserve1: int,
        fee_pips: int = DEFAULT_FEE_PIPS,
        *,
        lp_owner: str = "lp",
        fee_to: str | None = None,
        timestamp: int = 0,
    ) -> None:
        _int("reserve0", reserve0, 0, MAX_UINT112, high_code=OVERFLOW)
        _int("reserve1", reserve1, 0, MAX_UINT112, high_code=OVERFLOW)
        if (reserve0 == 0) != (reserve1 == 0):
            raise InvalidArgument(
                "reserve0/reserve1", (reserve0, reserve1), "both zero (empty pair) or both > 0"
            )
        fee_pips = _fee(fee_pips)
        lp_owner = _address("lp_owner", lp_owner)
        if fee_to is not None:
            fee_to = _address("fee_to", fee_to)
        _int("timestamp", timestamp, 0)

        self._reserve0 = 0
        self._reserve1 = 0
        self._fee_pips = fee_pips
        self._total_supply = 0
        self._balances: dict[str, int] = {}
        self._fee_to = fee_to
        self._k_last = 0
        self._price0_cumulative_last = 0
        self._price1_cumulative_last = 0
        self._timestamp = timestamp
        if reserve0:
            if isqrt(reserve0 * reserve1) > MINIMUM_LIQUIDITY:
                self.mint(lp_owner, reserve0, reserve1, timestamp=timestamp)
            else:
                # Not reachable on chain; kept so tiny pools can be quoted. Only the locked share.
                self._reserve0, self._reserve1 = reserve0, reserve1
                self._total_supply = MINIMUM_LIQUIDITY
                self._balances[ZERO_ADDRESS] = MINIMUM_LIQUIDITY
                if fee_to is not None:
                    self._k_last = reserve0 * reserve1

    # ---- read-only views ---------------------------------------------------------------------

    @property
    def reserve0(self) -> int:
        """Reserve of token0 (base), base units."""
        return self._reserve0

    @property
    def reserve1(self) -> int:
        """Reserve of token1 (quote), base units."""
        return self._reserve1

    @property
    def reserves(self) -> tuple[int, int]:
        """``(reserve0, reserve1)``, base units."""
        return self._reserve0, self._reserve1

    @property
    def fee_pips(self) -> int:
        """Swap fee on the input, hundredths of a bip (3000 = 0.3%)."""
        return self._fee_pips

    @property
    def total_supply(self) -> int:
        """LP units in existence, including the locked ``MINIMUM_LIQUIDITY``."""
        return self._total_supply

    @property
    def fee_to(self) -> str | None:
        """Recipient of the protocol fee, or None when the fee is off."""
        return self._fee_to

    @property
    def fee_to_on(self) -> bool:
        """Whether the protocol fee is on."""
        return self._fee_to is not None

    @property
    def k_last(self) -> int:
        """``reserve0*reserve1`` after the last mint/burn made while the fee was on; else 0."""
        return self._k_last

    @property
    def price0_cumulative_last(self) -> int:
        """Sum of UQ112x112 price of token0 in token1 times seconds, mod 2**256."""
        return self._price0_cumulative_last

    @property
    def price1_cumulative_last(self) -> int:
        """Sum of UQ112x112 price of token1 in token0 times seconds, mod 2**256."""
        return self._price1_cumulative_last

    @property
    def block_timestamp_last(self) -> int:
        """Timestamp of the last reserve update, mod 2**32 (as the pair stores it)."""
        return self._timestamp % _UINT32

    @property
    def timestamp(self) -> int:
        """Full timestamp of the last reserve update, seconds (later calls may not go below it)."""
        return self._timestamp

    def balance_of(self, owner: str) -> int:
        """LP units held by ``owner`` (0 for an unknown address). O(1)."""
        if not isinstance(owner, str) or not owner:
            raise InvalidArgument("owner", owner, "a non-empty string address")
        return self._balances.get(owner, 0)

    def state(self) -> PoolState:
        """Snapshot of every field as a frozen value. O(number of LP holders)."""
        return PoolState(
            self._reserve0,
            self._reserve1,
            self._fee_pips,
            self._total_supply,
            tuple(sorted(self._balances.items())),
            self._fee_to,
            self._k_last,
            self._price0_cumulative_last,
            self._price1_cumulative_last,
            self._timestamp,
        )

    def copy(self) -> ConstantProductPool:
        """An independent pool in the same state (for what-if quotes). O(number of LP holders)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return (
            f"ConstantProductPool(reserve0={self._reserve0}, reserve1={self._reserve1}, "
            f"fee_pips={self._fee_pips}, total_supply={self._total_supply})"
        )

    # ---- quoting (read-only) -----------------------------------------------------------------

    def get_amount_out(self, amount_in: int, zero_for_one: bool) -> int:
        """Output for an exact input at the current reserves; read-only.

        Units: base units of the input / output token. Rounding: down. May be 0 for dust (a
        swap of it would then revert). O(1).
        """
        if type(amount_in) is int and amount_in >= 1 and self._reserve0:
            # Fast path for well-formed calls; the general path below raises the errors.
            if zero_for_one is True:
                reserve_in, reserve_out = self._reserve0, self._reserve1
            elif zero_for_one is False:
                reserve_in, reserve_out = self._reserve1, self._reserve0
            else:
                _bool("zero_for_one", zero_for_one)
            with_fee = amount_in * (FEE_DENOMINATOR_PIPS - self._fee_pips)
            return with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR_PIPS + with_fee)
        amount_in = _int("amount_in", amount_in, 1, low_code=LIB_INSUFFICIENT_INPUT_AMOUNT)
        reserve_in, reserve_out = self._directed(_bool("zero_for_one", zero_for_one))
        return _amount_out(amount_in, reserve_in, reserve_out, self._fee_pips)

    def get_amount_in(self, amount_out: int, zero_for_one: bool) -> int:
        """Input needed for an exact output at the current reserves; read-only.

        Units: base units. Rounding: up (+1 always, as upstream). ``amount_out`` must be below
        the output reserve. O(1).
        """
        amount_out = _int("amount_out", amount_out, 1, low_code=LIB_INSUFFICIENT_OUTPUT_AMOUNT)
        reserve_in, reserve_out = self._directed(_bool("zero_for_one", zero_for_one))
        _out_below_reserve(amount_out, reserve_out)
        return _amount_in(amount_out, reserve_in, reserve_out, self._fee_pips)

    def quote(self, amount: int, zero_for_one: bool) -> int:
        """Fee-free equivalent of ``amount`` of the input token at the reserve ratio; read-only.

        Rounding: down. O(1).
        """
        amount = _int("amount", amount, 1, low_code=LIB_INSUFFICIENT_AMOUNT)
        reserve_in, reserve_out = self._directed(_bool("zero_for_one", zero_for_one))
        return amount * reserve_out // reserve_in

    def _directed(self, zero_for_one: bool) -> tuple[int, int]:
        if self._reserve0 == 0:
            raise PoolRevert(
                LIB_INSUFFICIENT_LIQUIDITY,
                "the pool has no reserves",
                reserve0=self._reserve0,
                reserve1=self._reserve1,
            )
        if zero_for_one:
            return self._reserve0, self._reserve1
        return self._reserve1, self._reserve0

    # ---- router-level swaps ------------------------------------------------------------------

    def swap(
        self,
        amount_in: int,
        zero_for_one: bool,
        min_amount_out: int = 0,
        *,
        timestamp: int | None = None,
    ) -> int:
        """Swap an exact input for at least ``min_amount_out``; returns the output.

        ``swapExactTokensForTokens`` on one pair. Units: base units. Rounding: output down.
        Raises SlippageExceeded ("UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT") below the
        minimum, PoolRevert "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT" when the input is dust that
        buys nothing. O(1).
        """
        if (
            timestamp is None
            and type(amount_in) is int
            and amount_in >= 1
            and type(min_amount_out) is int
            and min_amount_out >= 0
            and self._reserve0
        ):
            # Fast path: no time passes (the price accumulators stay), so a swap is the formula
            # plus the reserve update. The pair's other checks cannot fail for this output: it
            # is below the output reserve, and it is by construction the largest output that
            # passes the K check. Dust, slippage and overflow take the general path below,
            # which raises exactly as before.
            if zero_for_one is True:
                reserve_in, reserve_out = self._reserve0, self._reserve1
            elif zero_for_one is False:
                reserve_in, reserve_out = self._reserve1, self._reserve0
            else:
                reserve_in = reserve_out = 0  # not a bool: the general path refuses it
            with_fee = amount_in * (FEE_DENOMINATOR_PIPS - self._fee_pips)
            amount_out = with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR_PIPS + with_fee)
            if (
                amount_out > 0
                and min_amount_out <= amount_out
                and reserve_in + amount_in <= MAX_UINT112
            ):
                if zero_for_one:
                    self._reserve0, self._reserve1 = (
                        reserve_in + amount_in,
                        reserve_out - amount_out,
                    )
                else:
                    self._reserve0, self._reserve1 = (
                        reserve_out - amount_out,
                        reserve_in + amount_in,
                    )
                return amount_out
        amount_in = _int("amount_in", amount_in, 1, low_code=LIB_INSUFFICIENT_INPUT_AMOUNT)
        zero_for_one = _bool("zero_for_one", zero_for_one)
        min_amount_out = _int("min_amount_out", min_amount_out, 0)
        timestamp = self._check_timestamp(timestamp)
        reserve_in, reserve_out = self._directed(zero_for_one)
        amount_out = _amount_out(amount_in, reserve_in, reserve_out, self._fee_pips)
        if amount_out < min_amount_out:
            raise SlippageExceeded(
                ROUTER_INSUFFICIENT_OUTPUT_AMOUNT,
                f"amount_out={amount_out} < min_amount_out={min_amount_out}",
                amount_in=amount_in,
                amount_out=amount_out,
                min_amount_out=min_amount_out,
            )
        if zero_for_one:
            self._pair_swap(0, amount_out, amount_in, 0, timestamp)
        else:
            self._pair_swap(amount_out, 0, 0, amount_in, timestamp)
        return amount_out

    def swap_exact_out(
        self,
        amount_out: int,
        zero_for_one: bool,
        max_amount_in: int | None = None,
        *,
        timestamp: int | None = None,
    ) -> int:
        """Buy exactly ``amount_out`` for at most ``max_amount_in`` (None: no bound); returns the input.

        ``swapTokensForExactTokens`` on one pair. Units: base units. Rounding: input up.
        Raises SlippageExceeded ("UniswapV2Router: EXCESSIVE_INPUT_AMOUNT") above the bound. O(1).
        """
        amount_out = _int("amount_out", amount_out, 1, low_code=LIB_INSUFFICIENT_OUTPUT_AMOUNT)
        zero_for_one = _bool("zero_for_one", zero_for_one)
        if max_amount_in is not None:
            max_amount_in = _int("max_amount_in", max_amount_in, 0)
        timestamp = self._check_timestamp(timestamp)
        reserve_in, reserve_out = self._directed(zero_for_one)
        _out_below_reserve(amount_out, reserve_out)
        amount_in = _amount_in(amount_out, reserve_in, reserve_out, self._fee_pips)
        if max_amount_in is not None and amount_in > max_amount_in:
            raise SlippageExceeded(
                ROUTER_EXCESSIVE_INPUT_AMOUNT,
                f"amount_in={amount_in} > max_amount_in={max_amount_in}",
                amount_in=amount_in,
                amount_out=amount_out,
                max_amount_in=max_amount_in,
            )
        if zero_for_one:
            self._pair_swap(0, amount_out, amount_in, 0, timestamp)
        else:
            self._pair_swap(amount_out, 0, 0, amount_in, timestamp)
        return amount_in

    # ---- pair-level mechanics ----------------------------------------------------------------

    def pair_swap(
        self,
        amount0_out: int,
        amount1_out: int,
        amount0_in: int = 0,
        amount1_in: int = 0,
        *,
        timestamp: int | None = None,
    ) -> None:
        """``UniswapV2Pair.swap``: pay ``amount*_in`` to the pair, take ``amount*_out`` out.

        The pair prices nothing; it only checks, with the fee on the input side only,
        ``(b0*1e6 - in0*fee) * (b1*1e6 - in1*fee) >= r0*r1*1e12`` where ``b`` are the balances
        after the transfers (the 997/1000 check for fee_pips=3000), else "UniswapV2: K". Inputs
        and outputs may be in the same token (an optimistic flash swap repaid in kind).
        Units: base units. O(1).
        """
        amount0_out = _int("amount0_out", amount0_out, 0)
        amount1_out = _int("amount1_out", amount1_out, 0)
        # No upper bound here: a balance beyond uint112 reverts "UniswapV2: OVERFLOW" below.
        amount0_in = _int("amount0_in", amount0_in, 0)
        amount1_in = _int("amount1_in", amount1_in, 0)
        timestamp = self._check_timestamp(timestamp)
        self._pair_swap(amount0_out, amount1_out, amount0_in, amount1_in, timestamp)

    def _pair_swap(
        self, amount0_out: int, amount1_out: int, amount0_in: int, amount1_in: int, timestamp: int
    ) -> None:
        # The pair's checks on already validated arguments; shared by the router-level swaps.
        reserve0, reserve1 = self._reserve0, self._reserve1
        if amount0_out == 0 and amount1_out == 0:
            raise PoolRevert(INSUFFICIENT_OUTPUT_AMOUNT, "both outputs are 0")
        if amount0_out >= reserve0 or amount1_out >= reserve1:
            raise PoolRevert(
                INSUFFICIENT_LIQUIDITY,
                "an output is not below its reserve",
                amount0_out=amount0_out,
                amount1_out=amount1_out,
                reserve0=reserve0,
                reserve1=reserve1,
            )
        # Balances after the optimistic transfer out and the caller's payment in. amountXIn is
        # derived from them exactly as the pair does, which here equals what was paid in.
        balance0 = reserve0 - amount0_out + amount0_in
        balance1 = reserve1 - amount1_out + amount1_in
        paid0 = max(balance0 - (reserve0 - amount0_out), 0)
        paid1 = max(balance1 - (reserve1 - amount1_out), 0)
        if paid0 == 0 and paid1 == 0:
            raise PoolRevert(INSUFFICIENT_INPUT_AMOUNT, "both inputs are 0")
        adjusted0 = balance0 * FEE_DENOMINATOR_PIPS - paid0 * self._fee_pips
        adjusted1 = balance1 * FEE_DENOMINATOR_PIPS - paid1 * self._fee_pips
        if adjusted0 * adjusted1 < reserve0 * reserve1 * FEE_DENOMINATOR_PIPS**2:
            raise PoolRevert(
                K,
                "the fee-adjusted product of balances fell below k",
                amount0_in=paid0,
                amount1_in=paid1,
                amount0_out=amount0_out,
                amount1_out=amount1_out,
                reserve0=reserve0,
                reserve1=reserve1,
            )
        self._update(balance0, balance1, timestamp)

    def mint(self, to: str, amount0: int, amount1: int, *, timestamp: int | None = None) -> int:
        """Deposit ``amount0``/``amount1`` and mint LP units to ``to``; returns the units minted.

        First mint: ``isqrt(a0*a1) - 1000``, with 1000 locked to ZERO_ADDRESS. Later:
        ``min(a0*TS//r0, a1*TS//r1)`` (round down; an unbalanced deposit donates the excess).
        The protocol fee, if on, is minted to ``fee_to`` first. Units: base units / LP units.
        Raises "UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED" when that is 0 (also when the first
        deposit has ``isqrt(a0*a1) <= 1000``, where upstream underflows). O(1).
        """
        to = _address("to", to)
        amount0 = _int("amount0", amount0, 0)
        amount1 = _int("amount1", amount1, 0)
        timestamp = self._check_timestamp(timestamp)
        reserve0, reserve1 = self._reserve0, self._reserve1
        balance0, balance1 = reserve0 + amount0, reserve1 + amount1
        fee_liquidity = self._protocol_fee_liquidity(reserve0, reserve1)
        total_supply = self._total_supply + fee_liquidity
        if total_supply == 0:
            liquidity = isqrt(amount0 * amount1) - MINIMUM_LIQUIDITY
        else:
            liquidity = min(amount0 * total_supply // reserve0, amount1 * total_supply // reserve1)
        if liquidity <= 0:
            raise PoolRevert(
                INSUFFICIENT_LIQUIDITY_MINTED,
                f"the deposit mints {max(liquidity, 0)} LP units",
                amount0=amount0,
                amount1=amount1,
                total_supply=total_supply,
            )
        self._check_overflow(balance0, balance1)
        # All checks passed: commit.
        self._apply_fee_liquidity(fee_liquidity)
        if self._total_supply == 0:
            self._credit(ZERO_ADDRESS, MINIMUM_LIQUIDITY)
        self._credit(to, liquidity)
        self._update(balance0, balance1, timestamp)
        self._after_liquidity_event()
        return liquidity

    def burn(self, owner: str, liquidity: int, *, timestamp: int | None = None) -> tuple[int, int]:
        """Burn ``liquidity`` LP units of ``owner``; returns ``(amount0, amount1)`` paid out.

        ``amount_i = liquidity * reserve_i // TS`` (round down; TS after the protocol fee mint).
        Raises "UniswapV2: INSUFFICIENT_LIQUIDITY_BURNED" when either amount is 0. Units: LP
        units in, base units out. O(1).
        """
        owner = _address("owner", owner)
        held = self._balances.get(owner, 0)
        if held == 0:
            raise InvalidArgument("owner", owner, "an address holding LP units")
        liquidity = _int("liquidity", liquidity, 1, held)
        timestamp = self._check_timestamp(timestamp)
        reserve0, reserve1 = self._reserve0, self._reserve1
        fee_liquidity = self._protocol_fee_liquidity(reserve0, reserve1)
        total_supply = self._total_supply + fee_liquidity
        amount0 = liquidity * reserve0 // total_supply
        amount1 = liquidity * reserve1 // total_supply
        if amount0 == 0 or amount1 == 0:
            raise PoolRevert(
                INSUFFICIENT_LIQUIDITY_BURNED,
                f"burning {liquidity} LP units pays ({amount0}, {amount1})",
                liquidity=liquidity,
                amount0=amount0,
                amount1=amount1,
                total_supply=total_supply,
            )
        self._apply_fee_liquidity(fee_liquidity)
        self._debit(owner, liquidity)
        self._update(reserve0 - amount0, reserve1 - amount1, timestamp)
        self._after_liquidity_event()
        return amount0, amount1

    def sync(self, *, timestamp: int | None = None) -> None:
        """``UniswapV2Pair.sync``: accrue the price accumulators up to ``timestamp``. O(1).

        Balances always equal reserves here (no stray transfers are modelled), so only the
        oracle moves.
        """
        timestamp = self._check_timestamp(timestamp)
        self._update(self._reserve0, self._reserve1, timestamp)

    def set_fee_to(self, fee_to: str | None) -> None:
        """Turn the protocol fee on (an address) or off (None), as ``factory.setFeeTo``. O(1).

        Takes effect at the next mint or burn, which mints the fee accrued since ``k_last``.
        """
        if fee_to is not None:
            fee_to = _address("fee_to", fee_to)
        self._fee_to = fee_to

    def current_cumulative_prices(self, timestamp: int) -> tuple[int, int]:
        """Price accumulators as they would read at ``timestamp`` without a transaction; read-only.

        ``UniswapV2OracleLibrary.currentCumulativePrices``: the stored values plus the current
        price times the seconds since the last update. UQ112x112, mod 2**256. O(1).
        """
        timestamp = self._check_timestamp(_int("timestamp", timestamp, 0))
        return self._accrued(timestamp)

    # ---- internals ---------------------------------------------------------------------------

    def _check_timestamp(self, timestamp: int | None) -> int:
        if timestamp is None:
            return self._timestamp
        # Non-decreasing, like block time: a step back would otherwise wrap to ~136 years.
        return _int("timestamp", timestamp, self._timestamp)

    def _check_overflow(self, balance0: int, balance1: int) -> None:
        if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
            raise PoolRevert(
                OVERFLOW,
                "a balance exceeds uint112",
                balance0=balance0,
                balance1=balance1,
                maximum=MAX_UINT112,
            )

    def _accrued(self, timestamp: int) -> tuple[int, int]:
        elapsed = (timestamp % _UINT32 - self._timestamp % _UINT32) % _UINT32
        price0, price1 = self._price0_cumulative_last, self._price1_cumulative_last
        if elapsed > 0 and self._reserve0 != 0 and self._reserve1 != 0:
            # Reserves before the update: the price that held during the elapsed seconds.
            price0 = (price0 + self._reserve1 * Q112 // self._reserve0 * elapsed) % _UINT256
            price1 = (price1 + self._reserve0 * Q112 // self._reserve1 * elapsed) % _UINT256
        return price0, price1

    def _update(self, balance0: int, balance1: int, timestamp: int) -> None:
        self._check_overflow(balance0, balance1)
        self._price0_cumulative_last, self._price1_cumulative_last = self._accrued(timestamp)
        self._reserve0, self._reserve1 = balance0, balance1
        self._timestamp = timestamp

    def _protocol_fee_liquidity(self, reserve0: int, reserve1: int) -> int:
        """LP units ``_mintFee`` would mint to ``fee_to`` now: 1/6 of sqrt(k) growth. Read-only."""
        if self._fee_to is None or self._k_last == 0:
            return 0
        root_k = isqrt(reserve0 * reserve1)
        root_k_last = isqrt(self._k_last)
        if root_k <= root_k_last:
            return 0
        return self._total_supply * (root_k - root_k_last) // (5 * root_k + root_k_last)

    def _apply_fee_liquidity(self, fee_liquidity: int) -> None:
        if fee_liquidity > 0:
            assert self._fee_to is not None
            self._credit(self._fee_to, fee_liquidity)

    def _after_liquidity_event(self) -> None:
        # kLast is only maintained while the fee is on; turning it off clears it lazily here.
        self._k_last = self._reserve0 * self._reserve1 if self._fee_to is not None else 0

    def _credit(self, owner: str, amount: int) -> None:
        self._balances[owner] = self._balances.get(owner, 0) + amount
        self._total_supply += amount

    def _debit(self, owner: str, amount: int) -> None:
        left = self._balances[owner] - amount
        if left:
            self._balances[owner] = left
        else:
            del self._balances[owner]
        self._total_supply -= amount

    def _check(self) -> None:
        """Assert the internal invariants; the tests call it after every operation. O(holders)."""
        assert 0 <= self._reserve0 <= MAX_UINT112 and 0 <= self._reserve1 <= MAX_UINT112
        assert 0 <= self._fee_pips < FEE_DENOMINATOR_PIPS
        assert (self._reserve0 == 0) == (self._reserve1 == 0) == (self._total_supply == 0)
        assert all(units > 0 for units in self._balances.values())
        assert self._total_supply == sum(self._balances.values())
        if self._total_supply:
            assert self._balances.get(ZERO_ADDRESS) == MINIMUM_LIQUIDITY
        # k only grows between liquidity events, and k_last is taken at the last one.
        assert 0 <= self._k_last <= self._reserve0 * self._reserve1
        assert 0 <= self._price0_cumulative_last < _UINT256
        assert 0 <= self._price1_cumulative_last < _UINT256
        assert self._timestamp >= 0
