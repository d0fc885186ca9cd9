"""A Uniswap v3 concentrated-liquidity pool, exact to the wei, as a pure Python state machine.

The pool only orchestrates the leaf libraries (tick_math, sqrt_price_math, swap_math,
tick_bitmap, liquidity_math). Each public operation first computes its whole outcome into
locals and fresh immutable records, and commits only when nothing can fail any more: a refused
operation raises a :class:`~venues.errors.VenueError` carrying Uniswap's revert code and leaves
the pool exactly as it was. There are no callbacks: the pool "receives" exactly the amounts it
asks for, and keeps ``balance0``/``balance1`` as the token balances a real pool would hold.

Not modelled: the oracle (observations, secondsPerLiquidity, tickCumulative), flash loans and
the factory owner. Units everywhere: token base units (wei), raw liquidity L, Q64.96 sqrt prices,
Q128.128 fee growth, fees in pips (hundredths of a bip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from venues.clmm.full_math import MAX_UINT128, MAX_UINT160, MAX_UINT256, Q128, mul_div
from venues.clmm.liquidity_math import add_delta
from venues.clmm.sqrt_price_math import _amount0_delta_signed, _amount1_delta_signed
from venues.clmm.swap_math import _compute_swap_step
from venues.clmm.tick_bitmap import flip_tick, next_initialized_tick_within_one_word
from venues.clmm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    _sqrt_ratio_at_tick,
    _tick_at_sqrt_ratio,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from venues.errors import InvalidArgument, VenueError, require_int

_PIPS = 1_000_000
_MIN_INT24, _MAX_INT24 = -(1 << 23), (1 << 23) - 1
_MAX_INT128 = (1 << 127) - 1
_MIN_INT256, _MAX_INT256 = -(1 << 255), (1 << 255) - 1
_MAX_TICK_SPACING = 16383  # UniswapV3Factory.enableFeeAmount: tickSpacing < 16384


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """Tick.tickSpacingToMaxLiquidityPerTick: the cap on liquidity_gross of any one tick.

    Units: raw L. Rounding: down. Solidity's int division truncates toward zero, hence the
    negated floor division for the negative bound. Complexity: O(1).
    """
    min_tick = -(-MIN_TICK // tick_spacing) * tick_spacing
    max_tick = (MAX_TICK // tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return MAX_UINT128 // num_ticks


class TickInfo(NamedTuple):
    """State of one initialised tick (Tick.Info without the oracle fields).

    liquidity_gross: total L referencing the tick; liquidity_net: L added when the price crosses
    it left to right; fee_growth_outside*: Q128.128 fee growth on the other side of the tick.
    """

    liquidity_gross: int = 0
    liquidity_net: int = 0
    fee_growth_outside0_x128: int = 0
    fee_growth_outside1_x128: int = 0

    @property
    def initialized(self) -> bool:
        return self.liquidity_gross > 0


class PositionInfo(NamedTuple):
    """One owner's position over [tick_lower, tick_upper) (Position.Info).

    tokens_owed* are base units the owner may collect (burnt principal plus fees), kept as
    uint128 and wrapping like upstream.
    """

    liquidity: int = 0
    fee_growth_inside0_last_x128: int = 0
    fee_growth_inside1_last_x128: int = 0
    tokens_owed0: int = 0
    tokens_owed1: int = 0


class SwapQuote(NamedTuple):
    """Outcome of a swap computed without touching the pool (the same loop ``swap`` commits).

    amount0/amount1: Uniswap signs, > 0 paid into the pool, < 0 paid out. fee_amount: total fee
    charged on the input token (LP part plus protocol_fee). crossed_ticks: (tick,
    fee_growth_global0_x128, fee_growth_global1_x128) at each initialised tick crossed, in order.
    """

    zero_for_one: bool
    amount_specified: int
    amount0: int
    amount1: int
    sqrt_price_x96_after: int
    tick_after: int
    liquidity_after: int
    fee_growth_global_x128_after: int
    fee_amount: int
    protocol_fee: int
    steps: int
    crossed_ticks: tuple[tuple[int, int, int], ...]


# Swap quotes and tick snapshots are built on hot paths: tuple.__new__(Record, fields) skips the
# NamedTuple's Python-level __new__ (about twice as fast).
_record = tuple.__new__


@dataclass(frozen=True, slots=True)
class _PositionPlan:
    key: tuple[str, int, int]
    liquidity_delta: int
    lower: TickInfo | _Tick  # the stored record when liquidity_delta == 0
    upper: TickInfo | _Tick
    flipped_lower: bool
    flipped_upper: bool
    position: PositionInfo
    liquidity_after: int
    amount0: int
    amount1: int


class _Tick:
    """Mutable internal twin of :class:`TickInfo` (same field names); ``ticks()`` hands out
    frozen snapshots. Mutable because every swap rewrites the fee growth outside each crossed
    tick, and building a new frozen record per crossing cost as much as the crossing itself."""

    __slots__ = (
        "fee_growth_outside0_x128",
        "fee_growth_outside1_x128",
        "liquidity_gross",
        "liquidity_net",
    )

    def __init__(
        self,
        liquidity_gross: int,
        liquidity_net: int,
        fee_growth_outside0_x128: int,
        fee_growth_outside1_x128: int,
    ) -> None:
        self.liquidity_gross = liquidity_gross
        self.liquidity_net = liquidity_net
        self.fee_growth_outside0_x128 = fee_growth_outside0_x128
        self.fee_growth_outside1_x128 = fee_growth_outside1_x128

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Tick):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"_Tick{self.snapshot()!r}"

    def snapshot(self) -> TickInfo:
        return _record(
            TickInfo,
            (
                self.liquidity_gross,
                self.liquidity_net,
                self.fee_growth_outside0_x128,
                self.fee_growth_outside1_x128,
            ),
        )


_EMPTY_TICK = TickInfo()
_EMPTY_POSITION = PositionInfo()


def _require_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(field, value, "a bool")
    return value


def _require_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner:
        raise InvalidArgument("owner", owner, "a non-empty str")
    return owner


def _require_tick24(field: str, value: Any) -> int:
    return require_int(field, value, minimum=_MIN_INT24, maximum=_MAX_INT24)


_MEMO_ENTRIES = 4096  # per table; a full table is simply emptied (entries are cheap to redo)


class _SwapMemo:
    """Memoised pure sub-results of the swap loop. Not pool state: equal to any other memo, and
    a copy (or a pickle) starts empty.

    ``steps_down`` / ``steps_up``: sqrt_target_x96 -> (sqrt_start_x96, liquidity, fee_pips,
    amount_in, amount_out, fee_amount) of the last *full* step computed toward that price (one
    that reached its target), per direction. A full step's amounts depend only on the two prices,
    L and the fee, and are the same for exact input and exact output, so repeated quotes over the
    same ranges reuse them.
    ``down`` / ``up``: tick -> (tick_next, initialized, sqrt_next_x96, liquidity_net of tick_next)
    for zero_for_one / one_for_zero; cleared whenever a position changes ticks or the bitmap.
    """

    __slots__ = ("down", "steps_down", "steps_up", "up")

    def __init__(self) -> None:
        self.steps_down: dict[int, tuple[int, int, int, int, int, int]] = {}
        self.steps_up: dict[int, tuple[int, int, int, int, int, int]] = {}
        self.down: dict[int, tuple[int, bool, int, int]] = {}
        self.up: dict[int, tuple[int, bool, int, int]] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SwapMemo)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"_SwapMemo(steps_down={len(self.steps_down)}, steps_up={len(self.steps_up)}, "
            f"down={len(self.down)}, up={len(self.up)})"
        )

    def __copy__(self) -> _SwapMemo:
        return _SwapMemo()

    def __deepcopy__(self, memo: dict[int, Any]) -> _SwapMemo:
        return _SwapMemo()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return _SwapMemo, ()


class ConcentratedLiquidityPool:
    """Uniswap v3 pool: mint/burn/collect positions, swap across ticks, protocol fees.

    Construction initialises the pool at ``sqrt_price_x96`` (tick = get_tick_at_sqrt_ratio).
    All amounts are exact integers with Uniswap's rounding, always in the pool's favour.
    A swap costs O(words + crossed ticks) steps; mint/burn/collect O(1).
    """

    def __init__(self, fee_pips: int, tick_spacing: int, sqrt_price_x96: int) -> None:
        require_int("fee_pips", fee_pips, minimum=0, maximum=_PIPS - 1)
        require_int("tick_spacing", tick_spacing, minimum=1, maximum=_MAX_TICK_SPACING)
        require_int("sqrt_price_x96", sqrt_price_x96, minimum=0, maximum=MAX_UINT160)
        tick = get_tick_at_sqrt_ratio(sqrt_price_x96)  # raises "R" outside the valid range
        self.fee_pips = fee_pips
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = tick_spacing_to_max_liquidity_per_tick(tick_spacing)
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = tick
        self.liquidity = 0
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.fee_protocol = 0  # packed: token0 denominator + (token1 denominator << 4)
        self.protocol_fees: tuple[int, int] = (0, 0)
        self.balance0 = 0
        self.balance1 = 0
        self._ticks: dict[int, _Tick] = {}
        self._bitmap: dict[int, int] = {}
        self._positions: dict[tuple[str, int, int], PositionInfo] = {}
        self._memo = _SwapMemo()

    def __repr__(self) -> str:
        return (
            f"ConcentratedLiquidityPool(fee_pips={self.fee_pips}, tick_spacing={self.tick_spacing}, "
            f"sqrt_price_x96={self.sqrt_price_x96}, tick={self.tick}, liquidity={self.liquidity})"
        )

    # ----------------------------------------------------------------------------- reads

    def ticks(self, tick: int) -> TickInfo:
        """State of ``tick`` (an all-zero TickInfo if it is not initialised). O(1)."""
        _require_tick24("tick", tick)
        info = self._ticks.get(tick)
        return _EMPTY_TICK if info is None else info.snapshot()

    def positions(self, owner: str, tick_lower: int, tick_upper: int) -> PositionInfo:
        """State of owner's position over [tick_lower, tick_upper) (all zero if none). O(1)."""
        _require_owner(owner)
        _require_tick24("tick_lower", tick_lower)
        _require_tick24("tick_upper", tick_upper)
        return self._positions.get((owner, tick_lower, tick_upper), _EMPTY_POSITION)

    def position_keys(self) -> list[tuple[str, int, int]]:
        """Every (owner, tick_lower, tick_upper) ever touched, in insertion order. O(positions)."""
        return list(self._positions)

    def tick_bitmap(self, word_pos: int) -> int:
        """The 256-bit bitmap word at ``word_pos`` (bit i = compressed tick word_pos*256+i). O(1)."""
        require_int("word_pos", word_pos, minimum=-(1 << 15), maximum=(1 << 15) - 1)
        return self._bitmap.get(word_pos, 0)

    def initialized_ticks(self) -> list[tuple[int, int]]:
        """(tick, liquidity_net) of every initialised tick, ascending. O(n log n).

        Between two consecutive entries the active liquidity is constant, so an adapter can build
        one depth segment per range.
        """
        return sorted((tick, info.liquidity_net) for tick, info in self._ticks.items())

    # ----------------------------------------------------------------------------- positions

    def mint(self, owner: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
        """Add ``liquidity`` to owner's position; returns (amount0, amount1) the minter pays in.

        Units: raw L in, token base units out. Rounding: amounts round UP (the pool never
        under-collects). Raises "TLU"/"TLM"/"TUM" for bad bounds, "TS" for a bound off the tick
        grid, "LO" above the per-tick cap, "LA" on overflow. O(1).
        """
        _require_owner(owner)
        _require_tick24("tick_lower", tick_lower)
        _require_tick24("tick_upper", tick_upper)
        # Upstream: require(amount > 0) then int256(amount).toInt128().
        require_int("liquidity", liquidity, minimum=1, maximum=_MAX_INT128)
        plan = self._plan_modify_position(owner, tick_lower, tick_upper, liquidity)
        self._commit_position(plan, plan.position)
        self.balance0 += plan.amount0
        self.balance1 += plan.amount1
        return plan.amount0, plan.amount1

    def burn(self, owner: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
        """Remove ``liquidity`` from owner's position and credit the principal to tokens_owed.

        Returns (amount0, amount1) credited (nothing is transferred until :meth:`collect`).
        Rounding: DOWN. ``liquidity == 0`` is a "poke" that only accrues fees and raises "NP" on
        an empty position; burning more than the position holds raises "LS". O(1).
        """
        _require_owner(owner)
        _require_tick24("tick_lower", tick_lower)
        _require_tick24("tick_upper", tick_upper)
        require_int("liquidity", liquidity, minimum=0, maximum=_MAX_INT128)
        plan = self._plan_modify_position(owner, tick_lower, tick_upper, -liquidity)
        amount0, amount1 = -plan.amount0, -plan.amount1
        position = plan.position
        if amount0 > 0 or amount1 > 0:
            # uint128 arithmetic without overflow check upstream: owners must collect in time.
            position = PositionInfo(
                position.liquidity,
                position.fee_growth_inside0_last_x128,
                position.fee_growth_inside1_last_x128,
                (position.tokens_owed0 + amount0) & MAX_UINT128,
                (position.tokens_owed1 + amount1) & MAX_UINT128,
            )
        self._commit_position(plan, position)
        return amount0, amount1

    def collect(
        self,
        owner: str,
        tick_lower: int,
        tick_upper: int,
        amount0_requested: int,
        amount1_requested: int,
    ) -> tuple[int, int]:
        """Pay out up to the requested amounts of owner's tokens_owed; returns what was paid.

        Units: token base units (uint128 requests). Like upstream the bounds are not checked: an
        unknown position pays (0, 0). Raises "TF" if the pool does not hold the tokens. O(1).
        """
        _require_owner(owner)
        _require_tick24("tick_lower", tick_lower)
        _require_tick24("tick_upper", tick_upper)
        require_int("amount0_requested", amount0_requested, minimum=0, maximum=MAX_UINT128)
        require_int("amount1_requested", amount1_requested, minimum=0, maximum=MAX_UINT128)
        key = (owner, tick_lower, tick_upper)
        position = self._positions.get(key, _EMPTY_POSITION)
        amount0 = min(amount0_requested, position.tokens_owed0)
        amount1 = min(amount1_requested, position.tokens_owed1)
        self._require_balance(amount0, amount1)
        if amount0 or amount1:
            self._positions[key] = PositionInfo(
                position.liquidity,
                position.fee_growth_inside0_last_x128,
                position.fee_growth_inside1_last_x128,
                position.tokens_owed0 - amount0,
                position.tokens_owed1 - amount1,
            )
            self.balance0 -= amount0
            self.balance1 -= amount1
        return amount0, amount1

    # ----------------------------------------------------------------------------- swaps

    def quote_swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> SwapQuote:
        """What :meth:`swap` would do now, computed by the same loop, without changing the pool.

        Raises exactly what swap would raise ("AS", "SPL", "TF", InvalidArgument).
        Complexity: O(bitmap words walked + initialised ticks crossed).
        """
        self._validate_swap_args(zero_for_one, amount_specified, sqrt_price_limit_x96)
        quote = self._compute_swap(zero_for_one, amount_specified, sqrt_price_limit_x96)
        self._require_swap_payout(quote)
        return quote

    def swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> tuple[int, int]:
        """Swap token0 for token1 (zero_for_one) or back; returns the pool's (amount0, amount1).

        amount_specified > 0: exact input (fee included); < 0: exact output. The swap stops at
        sqrt_price_limit_x96 or when the amount is used up, whichever comes first; running out
        of liquidity does not raise (the price walks to the limit). Signs: > 0 into the pool,
        < 0 out of it. Rounding: input up, output down. Raises "AS" for a zero amount and
        "SPL" for a limit on the wrong side of the price or outside (MIN, MAX) sqrt ratio.
        Complexity: O(bitmap words walked + initialised ticks crossed).
        """
        quote = self.quote_swap(zero_for_one, amount_specified, sqrt_price_limit_x96)
        self._commit_swap(quote)
        return quote.amount0, quote.amount1

    # ----------------------------------------------------------------------------- protocol fee

    def set_fee_protocol(self, fee_protocol0: int, fee_protocol1: int) -> None:
        """Set the protocol's share of swap fees as 1/fee_protocolN per token (0 = off).

        Each value must be 0 or in [4, 10]; stored packed as fee_protocol0 + (fee_protocol1 << 4).
        O(1).
        """
        for field, value in (("fee_protocol0", fee_protocol0), ("fee_protocol1", fee_protocol1)):
            require_int(field, value, minimum=0, maximum=10)
            if 0 < value < 4:
                raise InvalidArgument(field, value, "0 or an integer in [4, 10]")
        self.fee_protocol = fee_protocol0 + (fee_protocol1 << 4)

    def collect_protocol(self, amount0_requested: int, amount1_requested: int) -> tuple[int, int]:
        """Pay out accrued protocol fees, up to the requested amounts; returns what was paid.

        Taking the whole balance leaves 1 wei behind, as upstream does (the storage slot is
        never cleared, to save gas there; kept here so the numbers match). O(1).
        """
        require_int("amount0_requested", amount0_requested, minimum=0, maximum=MAX_UINT128)
        require_int("amount1_requested", amount1_requested, minimum=0, maximum=MAX_UINT128)
        fees0, fees1 = self.protocol_fees
        amount0 = min(amount0_requested, fees0)
        amount1 = min(amount1_requested, fees1)
        if amount0 > 0 and amount0 == fees0:
            amount0 -= 1
        if amount1 > 0 and amount1 == fees1:
            amount1 -= 1
        self._require_balance(amount0, amount1)
        self.protocol_fees = (fees0 - amount0, fees1 - amount1)
        self.balance0 -= amount0
        self.balance1 -= amount1
        return amount0, amount1

    # ----------------------------------------------------------------------------- internals

    def _require_balance(self, amount0_out: int, amount1_out: int) -> None:
        # TransferHelper.safeTransfer reverts "TF" when the pool lacks the tokens.
        if amount0_out > self.balance0 or amount1_out > self.balance1:
            raise VenueError(
                "TF",
                f"pool holds ({self.balance0}, {self.balance1}) but must pay "
                f"({amount0_out}, {amount1_out})",
                balance0=self.balance0,
                balance1=self.balance1,
                amount0=amount0_out,
                amount1=amount1_out,
            )

    def _check_ticks(self, tick_lower: int, tick_upper: int) -> None:
        if tick_lower >= tick_upper:
            raise VenueError(
                "TLU",
                f"tick_lower={tick_lower} must be < tick_upper={tick_upper}",
                tick_lower=tick_lower,
                tick_upper=tick_upper,
            )
        if tick_lower < MIN_TICK:
            raise VenueError(
                "TLM", f"tick_lower={tick_lower} must be >= {MIN_TICK}", tick_lower=tick_lower
            )
        if tick_upper > MAX_TICK:
            raise VenueError(
                "TUM", f"tick_upper={tick_upper} must be <= {MAX_TICK}", tick_upper=tick_upper
            )

    def _updated_tick(
        self, info: TickInfo | _Tick, tick: int, liquidity_delta: int, upper: bool
    ) -> tuple[TickInfo, bool]:
        """Tick.update into a new record: (new info, flipped between initialised and not)."""
        gross_before = info.liquidity_gross
        gross_after = add_delta(gross_before, liquidity_delta)
        if gross_after > self.max_liquidity_per_tick:
            raise VenueError(
                "LO",
                f"liquidity_gross {gross_after} at tick {tick} exceeds "
                f"{self.max_liquidity_per_tick}",
                tick=tick,
                liquidity_gross=gross_after,
                maximum=self.max_liquidity_per_tick,
            )
        outside0, outside1 = info.fee_growth_outside0_x128, info.fee_growth_outside1_x128
        if gross_before == 0 and tick <= self.tick:
            # Convention: all growth before initialisation happened below the tick.
            outside0, outside1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        net = (
            info.liquidity_net - liquidity_delta if upper else info.liquidity_net + liquidity_delta
        )
        if not -(1 << 127) <= net <= _MAX_INT128:
            raise VenueError(
                "OVF",
                f"liquidity_net {net} at tick {tick} does not fit in int128",
                tick=tick,
                liquidity_net=net,
            )
        flipped = (gross_after == 0) != (gross_before == 0)
        return TickInfo(gross_after, net, outside0, outside1), flipped

    def _fee_growth_inside(
        self, lower: TickInfo | _Tick, upper: TickInfo | _Tick, tick_lower: int, tick_upper: int
    ) -> tuple[int, int]:
        """Tick.getFeeGrowthInside: Q128.128 growth per unit L inside the range, mod 2^256."""
        g0, g1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        if self.tick >= tick_lower:
            below0, below1 = lower.fee_growth_outside0_x128, lower.fee_growth_outside1_x128
        else:
            below0, below1 = (
                g0 - lower.fee_growth_outside0_x128,
                g1 - lower.fee_growth_outside1_x128,
            )
        if self.tick < tick_upper:
            above0, above1 = upper.fee_growth_outside0_x128, upper.fee_growth_outside1_x128
        else:
            above0, above1 = (
                g0 - upper.fee_growth_outside0_x128,
                g1 - upper.fee_growth_outside1_x128,
            )
        return (g0 - below0 - above0) & MAX_UINT256, (g1 - below1 - above1) & MAX_UINT256

    def _plan_modify_position(
        self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> _PositionPlan:
        """UniswapV3Pool._modifyPosition computed into new records; mutates nothing."""
        self._check_ticks(tick_lower, tick_upper)
        key = (owner, tick_lower, tick_upper)
        lower = self._ticks.get(tick_lower, _EMPTY_TICK)
        upper = self._ticks.get(tick_upper, _EMPTY_TICK)
        flipped_lower = flipped_upper = False
        if liquidity_delta != 0:
            lower, flipped_lower = self._updated_tick(lower, tick_lower, liquidity_delta, False)
            upper, flipped_upper = self._updated_tick(upper, tick_upper, liquidity_delta, True)
            for flipped, tick in ((flipped_lower, tick_lower), (flipped_upper, tick_upper)):
                if flipped and tick % self.tick_spacing:
                    raise VenueError(
                        "TS",
                        f"tick={tick} is not a multiple of tick_spacing={self.tick_spacing}",
                        tick=tick,
                        tick_spacing=self.tick_spacing,
                    )
        inside0, inside1 = self._fee_growth_inside(lower, upper, tick_lower, tick_upper)
        position = self._positions.get(key, _EMPTY_POSITION)
        if liquidity_delta == 0:
            if position.liquidity == 0:
                raise VenueError(
                    "NP",
                    f"position {key} has no liquidity to poke",
                    owner=owner,
                    tick_lower=tick_lower,
                    tick_upper=tick_upper,
                )
            liquidity_next = position.liquidity
        else:
            liquidity_next = add_delta(position.liquidity, liquidity_delta)
        # Fees since the last update, truncated to uint128 like upstream's uint128(mulDiv(...)).
        owed0 = (
            mul_div(
                (inside0 - position.fee_growth_inside0_last_x128) & MAX_UINT256,
                position.liquidity,
                Q128,
            )
            & MAX_UINT128
        )
        owed1 = (
            mul_div(
                (inside1 - position.fee_growth_inside1_last_x128) & MAX_UINT256,
                position.liquidity,
                Q128,
            )
            & MAX_UINT128
        )
        new_position = PositionInfo(
            liquidity_next,
            inside0,
            inside1,
            (position.tokens_owed0 + owed0) & MAX_UINT128,
            (position.tokens_owed1 + owed1) & MAX_UINT128,
        )
        amount0 = amount1 = 0
        liquidity_after = self.liquidity
        if liquidity_delta != 0:
            sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
            sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
            if self.tick < tick_lower:
                amount0 = _amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
            elif self.tick < tick_upper:
                amount0 = _amount0_delta_signed(self.sqrt_price_x96, sqrt_upper, liquidity_delta)
                amount1 = _amount1_delta_signed(sqrt_lower, self.sqrt_price_x96, liquidity_delta)
                liquidity_after = add_delta(self.liquidity, liquidity_delta)
            else:
                amount1 = _amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
        return _PositionPlan(
            key,
            liquidity_delta,
            lower,
            upper,
            flipped_lower,
            flipped_upper,
            new_position,
            liquidity_after,
            amount0,
            amount1,
        )

    def _commit_position(self, plan: _PositionPlan, position: PositionInfo) -> None:
        """Apply a plan from :meth:`_plan_modify_position`; cannot fail."""
        _, tick_lower, tick_upper = plan.key
        if plan.liquidity_delta != 0:
            # Ticks' liquidity_net (and maybe the bitmap) change: the next-tick memo is stale.
            self._memo.down.clear()
            self._memo.up.clear()
            for tick, info, flipped in (
                (tick_lower, plan.lower, plan.flipped_lower),
                (tick_upper, plan.upper, plan.flipped_upper),
            ):
                if flipped:
                    flip_tick(self._bitmap, tick, self.tick_spacing)
                if flipped and plan.liquidity_delta < 0:
                    del self._ticks[tick]
                else:
                    self._ticks[tick] = _Tick(
                        info.liquidity_gross,
                        info.liquidity_net,
                        info.fee_growth_outside0_x128,
                        info.fee_growth_outside1_x128,
                    )
        self._positions[plan.key] = position
        self.liquidity = plan.liquidity_after

    def _validate_swap_args(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> None:
        # Fast path for well-formed calls (plain ints, in range); anything else goes through the
        # validators, which raise the documented errors.
        if not (
            type(amount_specified) is int
            and _MIN_INT256 <= amount_specified <= _MAX_INT256
            and type(sqrt_price_limit_x96) is int
            and 0 <= sqrt_price_limit_x96 <= MAX_UINT160
            and (zero_for_one is True or zero_for_one is False)
        ):
            _require_bool("zero_for_one", zero_for_one)
            require_int(
                "amount_specified", amount_specified, minimum=_MIN_INT256, maximum=_MAX_INT256
            )
            require_int(
                "sqrt_price_limit_x96", sqrt_price_limit_x96, minimum=0, maximum=MAX_UINT160
            )
        if amount_specified == 0:
            raise VenueError("AS", "amount_specified must not be 0", amount_specified=0)
        price = self.sqrt_price_x96
        if zero_for_one:
            ok = MIN_SQRT_RATIO < sqrt_price_limit_x96 < price
        else:
            ok = price < sqrt_price_limit_x96 < MAX_SQRT_RATIO
        if not ok:
            allowed = (
                f"({MIN_SQRT_RATIO}, {price})" if zero_for_one else f"({price}, {MAX_SQRT_RATIO})"
            )
            raise VenueError(
                "SPL",
                f"sqrt_price_limit_x96={sqrt_price_limit_x96} must be in "
                f"{allowed} for zero_for_one={zero_for_one}",
                sqrt_price_limit_x96=sqrt_price_limit_x96,
                sqrt_price_x96=price,
                zero_for_one=zero_for_one,
            )

    def _compute_swap(
        self,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int,
        trace: list[dict[str, Any]] | None = None,
    ) -> SwapQuote:
        """The UniswapV3Pool.swap loop on local copies of the state; mutates nothing.

        ``trace``, when given, receives one dict per loop iteration (for debugging against the
        derived step vectors). Arguments must already be validated (:meth:`_validate_swap_args`);
        the loop calls the unvalidated leaf functions and keeps everything in locals, because it
        runs once per bitmap word or initialised tick and attribute lookups would dominate it.
        """
        fee_protocol = self.fee_protocol % 16 if zero_for_one else self.fee_protocol >> 4
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        sqrt_price = self.sqrt_price_x96
        tick = self.tick
        liquidity = self.liquidity
        growth0, growth1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        fee_growth, other_growth = (growth0, growth1) if zero_for_one else (growth1, growth0)
        protocol_fee = 0
        fee_total = 0
        steps = 0
        crossed: list[tuple[int, int, int]] = []
        ticks, bitmap, spacing, fee_pips = (
            self._ticks,
            self._bitmap,
            self.tick_spacing,
            self.fee_pips,
        )
        limit = sqrt_price_limit_x96
        gamma = _PIPS - fee_pips
        next_tick, ratio_at_tick, step = (
            next_initialized_tick_within_one_word,
            _sqrt_ratio_at_tick,
            _compute_swap_step,
        )
        memo = self._memo
        full_steps = memo.steps_down if zero_for_one else memo.steps_up
        next_ticks = memo.down if zero_for_one else memo.up
        # Bounded once per swap rather than per entry: a table may exceed the bound by the steps
        # of one swap before it is emptied.
        if len(full_steps) > _MEMO_ENTRIES:
            full_steps.clear()
        if len(next_ticks) > _MEMO_ENTRIES:
            next_ticks.clear()
        while remaining != 0 and sqrt_price != limit:
            steps += 1
            sqrt_start = sqrt_price
            found = next_ticks.get(tick)
            if found is None:
                tick_next, initialized = next_tick(bitmap, tick, spacing, zero_for_one)
                if tick_next < MIN_TICK:
                    tick_next = MIN_TICK
                elif tick_next > MAX_TICK:
                    tick_next = MAX_TICK
                found = next_ticks[tick] = (
                    tick_next,
                    initialized,
                    ratio_at_tick(tick_next),
                    ticks[tick_next].liquidity_net if initialized else 0,
                )
            tick_next, initialized, sqrt_next, liquidity_net = found
            if zero_for_one:
                sqrt_target = limit if sqrt_next < limit else sqrt_next
            else:
                sqrt_target = limit if sqrt_next > limit else sqrt_next
            # A full step seen before: SwapMath would take its "reached the target" branch
            # (exact input: floor(remaining*gamma/10**6) >= amount_in; exact output: the wanted
            # amount covers amount_out) and return exactly these amounts.
            full = full_steps.get(sqrt_target)
            if (
                full is not None
                and full[0] == sqrt_price
                and full[1] == liquidity
                and full[2] == fee_pips
                and (remaining * gamma >= full[3] * _PIPS if exact_input else -remaining >= full[4])
            ):
                sqrt_price = sqrt_target
                amount_in, amount_out, fee_amount = full[3], full[4], full[5]
            else:
                sqrt_price, amount_in, amount_out, fee_amount = step(
                    sqrt_price, sqrt_target, liquidity, remaining, fee_pips
                )
                # Only unclamped full steps are remembered (an exact-output step whose output
                # was capped at the wanted amount is not a full step's result).
                if sqrt_price == sqrt_target and (exact_input or amount_out < -remaining):
                    full_steps[sqrt_target] = (
                        sqrt_start,
                        liquidity,
                        fee_pips,
                        amount_in,
                        amount_out,
                        fee_amount,
                    )
            if trace is not None:
                trace.append(
                    {
                        "sqrtPriceStartX96": sqrt_start,
                        "tickNext": tick_next,
                        "initialized": initialized,
                        "sqrtPriceTargetX96": sqrt_target,
                        "liquidity": liquidity,
                        "sqrtPriceNextX96": sqrt_price,
                        "amountIn": amount_in,
                        "amountOut": amount_out,
                        "feeAmount": fee_amount,
                    }
                )
            if exact_input:
                remaining -= amount_in + fee_amount
                calculated -= amount_out
            else:
                remaining += amount_out
                calculated += amount_in + fee_amount
            fee_total += fee_amount
            if fee_protocol > 0:
                delta = fee_amount // fee_protocol
                fee_amount -= delta
                protocol_fee += delta
            if liquidity > 0:
                growth = (fee_amount << 128) // liquidity
                if growth > MAX_UINT256:
                    mul_div(fee_amount, Q128, liquidity)  # raises FullMath's "MD" revert
                fee_growth = (fee_growth + growth) & MAX_UINT256
            if sqrt_price == sqrt_next:
                if initialized:
                    if zero_for_one:
                        crossed.append((tick_next, fee_growth, other_growth))
                        liquidity_net = -liquidity_net
                    else:
                        crossed.append((tick_next, other_growth, fee_growth))
                    after = liquidity + liquidity_net
                    liquidity = (
                        after if 0 <= after <= MAX_UINT128 else add_delta(liquidity, liquidity_net)
                    )
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_price != sqrt_start:
                # The price is strictly inside (MIN, MAX) here: it lies between two valid prices.
                tick = _tick_at_sqrt_ratio(sqrt_price)
        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        return _record(
            SwapQuote,
            (
                zero_for_one,
                amount_specified,
                amount0,
                amount1,
                sqrt_price,
                tick,
                liquidity,
                fee_growth,
                fee_total,
                protocol_fee,
                steps,
                tuple(crossed),
            ),
        )

    def _require_swap_payout(self, quote: SwapQuote) -> None:
        # The output is transferred before the input arrives (callback), as upstream.
        # Balances are never negative, so only an outflow can fail this check.
        if -quote.amount0 > self.balance0 or -quote.amount1 > self.balance1:
            self._require_balance(max(0, -quote.amount0), max(0, -quote.amount1))

    def _commit_swap(self, quote: SwapQuote) -> None:
        """Apply a quote computed on the current state; cannot fail."""
        ticks = self._ticks
        for tick, growth0, growth1 in quote.crossed_ticks:
            info = ticks[tick]
            # Tick.cross: "outside" flips to the other side of the tick.
            info.fee_growth_outside0_x128 = (growth0 - info.fee_growth_outside0_x128) & MAX_UINT256
            info.fee_growth_outside1_x128 = (growth1 - info.fee_growth_outside1_x128) & MAX_UINT256
        self.sqrt_price_x96 = quote.sqrt_price_x96_after
        self.tick = quote.tick_after
        self.liquidity = quote.liquidity_after
        fees0, fees1 = self.protocol_fees
        if quote.zero_for_one:
            self.fee_growth_global0_x128 = quote.fee_growth_global_x128_after
            fees0 = (fees0 + quote.protocol_fee) & MAX_UINT128
        else:
            self.fee_growth_global1_x128 = quote.fee_growth_global_x128_after
            fees1 = (fees1 + quote.protocol_fee) & MAX_UINT128
        self.protocol_fees = (fees0, fees1)
        self.balance0 += quote.amount0
        self.balance1 += quote.amount1

    # ----------------------------------------------------------------------------- invariants

    def _check(self) -> None:
        """Assert the pool's internal invariants (for tests). O(ticks + positions + words)."""
        assert MIN_SQRT_RATIO <= self.sqrt_price_x96 < MAX_SQRT_RATIO, self.sqrt_price_x96
        assert MIN_TICK <= self.tick < MAX_TICK, self.tick
        # tick is the greatest tick at or below the price, except right after a downward
        # crossing, where it is one less while the price sits exactly on the crossed tick.
        assert get_sqrt_ratio_at_tick(self.tick) <= self.sqrt_price_x96, (
            self.tick,
            self.sqrt_price_x96,
        )
        assert self.sqrt_price_x96 <= get_sqrt_ratio_at_tick(self.tick + 1), (
            self.tick,
            self.sqrt_price_x96,
        )
        assert 0 <= self.liquidity <= MAX_UINT128
        assert self.liquidity == sum(
            info.liquidity_net for t, info in self._ticks.items() if t <= self.tick
        ), "active liquidity != sum of nets below"
        assert sum(info.liquidity_net for info in self._ticks.values()) == 0
        expected_bitmap: dict[int, int] = {}
        for t, info in self._ticks.items():
            assert type(info) is _Tick, (t, info)
            assert MIN_TICK <= t <= MAX_TICK and t % self.tick_spacing == 0, t
            assert 0 < info.liquidity_gross <= self.max_liquidity_per_tick, (t, info)
            assert abs(info.liquidity_net) <= info.liquidity_gross, (t, info)
            assert 0 <= info.fee_growth_outside0_x128 <= MAX_UINT256
            assert 0 <= info.fee_growth_outside1_x128 <= MAX_UINT256
            compressed = t // self.tick_spacing
            expected_bitmap[compressed >> 8] = expected_bitmap.get(compressed >> 8, 0) | (
                1 << (compressed & 0xFF)
            )
        assert expected_bitmap == self._bitmap, "bitmap bits != initialised ticks"
        gross: dict[int, int] = {}
        net: dict[int, int] = {}
        for (_, lower, upper), position in self._positions.items():
            assert 0 <= position.liquidity <= MAX_UINT128
            assert (
                0 <= position.tokens_owed0 <= MAX_UINT128
                and 0 <= position.tokens_owed1 <= MAX_UINT128
            )
            if position.liquidity:
                gross[lower] = gross.get(lower, 0) + position.liquidity
                gross[upper] = gross.get(upper, 0) + position.liquidity
                net[lower] = net.get(lower, 0) + position.liquidity
                net[upper] = net.get(upper, 0) - position.liquidity
        assert gross == {t: i.liquidity_gross for t, i in self._ticks.items()}, "gross != positions"
        assert net == {t: i.liquidity_net for t, i in self._ticks.items()}, "net != positions"
        assert 0 <= self.fee_growth_global0_x128 <= MAX_UINT256
        assert 0 <= self.fee_growth_global1_x128 <= MAX_UINT256
        assert all(0 <= f <= MAX_UINT128 for f in self.protocol_fees)
        f0, f1 = self.fee_protocol % 16, self.fee_protocol >> 4
        assert f0 in (0, 4, 5, 6, 7, 8, 9, 10) and f1 in (0, 4, 5, 6, 7, 8, 9, 10)
        assert self.balance0 >= 0 and self.balance1 >= 0, (self.balance0, self.balance1)
