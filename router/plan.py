"""Exact route plans: the float split of :mod:`router.split` turned into exact legs.

Steps: read every venue's depth curve; split in float64; quantise each leg DOWN to its venue's
base quantum (through ``Decimal(repr(float))``, never ``Decimal(float)`` binary noise); complete
the legs so they sum exactly to the order with the cheapest exact completion
(:mod:`router.completion`: coarse legs rounded down, up or dropped, one venue absorbing the
signed remainder; the old round-by-round repair only when no such completion exists); re-quote every leg with the venue's exact math.
Every reported amount comes from those re-quotes. The plan is never worse than the best single
venue: when quantisation makes it so, the single-venue plan is returned instead. A limit price
holds for every exact leg: its all-in average (fees and leg cost in) and its last unit's
marginal price; a venue whose exact leg breaks it is dropped and the order planned again.

The planner talks to venues only through the :class:`Venue` protocol (structurally the same as
``router.model.venue.VenueAdapter``); the router core imports no adapter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from router.completion import cheapest_completion, cheapest_quote_completion
from router.model.depth import DepthCurve, InvalidRouteArgument, check_side
from router.model.errors import CrossrouteError
from router.model.orders import LegQuote
from router.split import EXACT_VENUE_LIMIT, SplitResult, split

__all__ = ["RoutePlan", "Venue", "fmt_qty", "plan_route"]

_BPS = Decimal(10000)
# Repair rounds: each round places the remainder, or the largest grid-multiple of it, on one
# venue; a handful of distinct grids never needs more.
_MAX_REPAIR_ROUNDS = 32


class Venue(Protocol):
    """What the planner needs of a venue (a subset of ``router.model.venue.VenueAdapter``)."""

    name: str
    symbol: str
    leg_cost: Decimal

    def base_quantum(self) -> Decimal: ...
    def min_qty(self) -> Decimal: ...
    def depth_curve(self, side: str) -> DepthCurve: ...
    def quote(self, side: str, qty: Decimal) -> LegQuote: ...
    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote: ...


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """An exact plan for one order.

    ``qty`` base filled (Σ leg qty, exact); ``quote_amount`` Σ leg quote amounts exactly (buy:
    paid, sell: received; fees and leg costs in); ``avg_price`` quote_amount / qty rounded
    half-even to ``price_places``; ``marginal_price`` the split's common marginal price λ (float
    model, rounded the same way; None when nothing fills); ``best_single_venue`` (venue,
    quote_amount) of the best exact single-venue fill of the whole order, or None;
    ``improvement_bps`` positive when the plan beats it (None without a benchmark);
    ``unfilled_qty`` base short of a base-sized order (0 for quote-sized); ``unspent_quote`` the
    budget left (buy) or shortfall (sell, negative = more received) of a quote-sized order.
    """

    symbol: str
    side: str
    qty: Decimal
    legs: tuple[LegQuote, ...]
    quote_amount: Decimal
    avg_price: Decimal
    marginal_price: Decimal | None
    best_single_venue: tuple[str, Decimal] | None
    improvement_bps: Decimal | None
    complete: bool
    unfilled_qty: Decimal
    method: str
    bound_gap: float
    requested_qty: Decimal | None = None
    requested_quote: Decimal | None = None
    unspent_quote: Decimal | None = None
    notes: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """The ``crossroute route --json`` object of docs/architecture.md; numbers as decimal strings, plus extras."""
        best = self.best_single_venue
        return {
            "symbol": self.symbol,
            "side": self.side,
            "qty": fmt_qty(self.qty),
            "legs": [
                {
                    "venue": leg.venue,
                    "qty": fmt_qty(leg.qty),
                    "quote_amount": _fmt(leg.quote_amount),
                    "avg_price": _fmt(_round(leg.avg_price, self._places())),
                }
                for leg in self.legs
            ],
            "quote_amount": _fmt(self.quote_amount),
            "avg_price": _fmt(self.avg_price),
            "marginal_price": None if self.marginal_price is None else _fmt(self.marginal_price),
            "best_single_venue": None
            if best is None
            else {"venue": best[0], "quote_amount": _fmt(best[1])},
            "improvement_bps": None if self.improvement_bps is None else _fmt(self.improvement_bps),
            "complete": self.complete,
            "unfilled_qty": fmt_qty(self.unfilled_qty),
            "method": self.method,
            "bound_gap": self._bound_gap_str(),
            "notes": list(self.notes),
        }

    def _bound_gap_str(self) -> str | None:
        """``bound_gap`` as a decimal string: "0" for an exact search, else the gap rounded UP
        (never understated) to the decimals of its unit, the quote amounts' for a base-sized order
        (gap in quote), the legs' base quantities' for a quote-sized one (gap in base); None when
        no search ran (single-venue plan, unreachable size)."""
        gap = self.bound_gap
        if not math.isfinite(gap):
            return None
        if gap <= 0.0:
            return "0"
        if self.requested_quote is None:
            places = _places_of(self.legs)
        else:
            places = max(
                (
                    -e
                    for e in (leg.qty.as_tuple().exponent for leg in self.legs)
                    if isinstance(e, int) and e < 0
                ),
                default=0,
            )
        value = Decimal(repr(gap)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)
        return _fmt(value)

    def _places(self) -> int:
        exp = self.avg_price.as_tuple().exponent
        return -exp if isinstance(exp, int) and exp < 0 else 0


def plan_route(
    venues: Sequence[Venue],
    symbol: str,
    side: str,
    qty: Decimal | None = None,
    *,
    quote_qty: Decimal | None = None,
    limit_price: Decimal | None = None,
    max_qty: Mapping[str, Decimal] | None = None,
    price_places: int | None = None,
    exact_venue_limit: int = EXACT_VENUE_LIMIT,
) -> RoutePlan:
    """Plan one order exactly: split in float, quantise, repair, re-quote, compare with one venue.

    ``qty`` base or ``quote_qty`` quote (exactly one), ``Decimal`` whole units; ``limit_price``
    bound on every leg's exact all-in average and last-unit marginal price (buy: at most, sell:
    at least); ``max_qty`` base cap per venue;
    ``price_places`` decimals of reported prices (default: those of the quote amounts, >= 2).
    Only venues trading ``symbol`` are used. Complexity: one split plus O(n) exact quotes for n
    venues (the repair adds O(n) quotes per round, rounds <= number of distinct grids); a leg
    breaking the limit after exact rounding costs one more pass (at most n).
    Raises :class:`router.model.errors.RouteError` on invalid input.
    """
    if not isinstance(symbol, str) or "/" not in symbol:
        raise InvalidRouteArgument("symbol", symbol, "'BASE/QUOTE'")
    check_side(side)
    if (qty is None) == (quote_qty is None):
        raise InvalidRouteArgument("qty", qty, "exactly one of qty (base) and quote_qty (quote)")
    size = _check_decimal(
        "qty" if qty is not None else "quote_qty", qty if qty is not None else quote_qty
    )
    limit = None if limit_price is None else _check_decimal("limit_price", limit_price)
    if price_places is not None and (
        isinstance(price_places, bool)
        or not isinstance(price_places, int)
        or not 0 <= price_places <= 18
    ):
        raise InvalidRouteArgument("price_places", price_places, "an integer in [0, 18]")
    if not isinstance(venues, (list, tuple)) or not venues:
        raise InvalidRouteArgument("venues", venues, "a non-empty sequence of venues")
    names = [getattr(v, "name", None) for v in venues]
    if len(set(names)) != len(names):
        raise InvalidRouteArgument("venues", names, "venues with distinct names")
    usable = [v for v in venues if getattr(v, "symbol", None) == symbol]
    if not usable:
        raise InvalidRouteArgument(
            "symbol",
            symbol,
            f"a symbol traded by one of the venues {sorted({getattr(v, 'symbol', None) for v in venues}, key=str)}",
        )
    caps: dict[str, float] = {}
    if max_qty is not None:
        if not isinstance(max_qty, Mapping):
            raise InvalidRouteArgument("max_qty", max_qty, "a mapping venue -> Decimal base cap")
        for venue, cap in max_qty.items():
            if venue not in {v.name for v in usable}:
                raise InvalidRouteArgument(
                    "max_qty", venue, f"one of the venues {sorted(v.name for v in usable)}"
                )
            caps[venue] = float(_check_decimal(f"max_qty[{venue}]", cap, allow_zero=True))
    by_name = {v.name: v for v in usable}
    curves = []
    for v in usable:
        curve = v.depth_curve(side)
        floor = float(v.min_qty())
        if curve.min_qty < floor:
            curve = dataclasses.replace(curve, min_qty=floor)
        curves.append(curve)
    curve_by_name = {c.venue: c for c in curves}
    float_limit = None if limit is None else float(limit)
    # The limit holds for every exact leg (all-in average and last-unit marginal). The float split
    # already honours it; a leg that breaks it after exact rounding drops its venue, and the order
    # is planned again without it (at most once per venue).
    excluded: dict[str, str] = {}
    while True:
        router = _Planner(
            by_name, curve_by_name, symbol, side, limit, caps, price_places, set(excluded)
        )
        split_caps = {**caps, **{name: 0.0 for name in excluded}}
        if qty is not None:
            result = split(
                curves,
                float(size),
                limit_price=float_limit,
                max_qty=split_caps or None,
                exact_venue_limit=exact_venue_limit,
            )
            plan = router.base_plan(size, result)
        else:
            result = split(
                curves,
                quote_qty=float(size),
                limit_price=float_limit,
                max_qty=split_caps or None,
                exact_venue_limit=exact_venue_limit,
            )
            plan = router.quote_plan(size, result)
        broken = {leg.venue: router.limit_breach(leg) for leg in plan.legs}
        broken = {name: why for name, why in broken.items() if why is not None}
        fresh = {name: why for name, why in broken.items() if name not in excluded}
        if not fresh:
            break
        excluded.update(fresh)
    if excluded:
        dropped = tuple(f"{name} dropped: {why}" for name, why in sorted(excluded.items()))
        plan = dataclasses.replace(plan, notes=plan.notes + dropped)
    return plan


class _Planner:
    """Quantisation, repair, exact re-quotes and the single-venue benchmark for one order."""

    def __init__(
        self,
        venues: dict[str, Venue],
        curves: dict[str, DepthCurve],
        symbol: str,
        side: str,
        limit: Decimal | None,
        caps: dict[str, float],
        price_places: int | None,
        excluded: set[str] | None = None,
    ) -> None:
        self.venues, self.curves, self.symbol, self.side = venues, curves, symbol, side
        self.limit, self.caps, self.price_places = limit, caps, price_places
        # venues whose exact leg broke the limit in an earlier pass: no split leg, no repair
        # chunk; the single-venue benchmark still considers them (a whole-order leg may hold)
        self.excluded = excluded or set()
        self.quantum = {n: v.base_quantum() for n, v in venues.items()}
        self.min_qty = {n: v.min_qty() for n, v in venues.items()}

    # -- exact quotes that may fail --

    def _quote(self, name: str, qty: Decimal, *, single: bool = False) -> LegQuote | None:
        if qty <= 0 or (name in self.excluded and not single):
            return None
        if qty < self.min_qty[name] or qty % self.quantum[name] != 0:
            return None
        cap = self.caps.get(name)
        if cap is not None and float(qty) > cap * (1 + 1e-12):
            return None
        try:
            return self.venues[name].quote(self.side, qty)
        except CrossrouteError:
            return None

    def _quote_for_quote(
        self, name: str, amount: Decimal, *, single: bool = False
    ) -> LegQuote | None:
        if amount <= 0 or (name in self.excluded and not single):
            return None
        try:
            leg = self.venues[name].quote_for_quote(self.side, amount)
        except CrossrouteError:
            return None
        if leg.qty <= 0 or leg.qty < self.min_qty[name]:
            return None
        cap = self.caps.get(name)
        if cap is not None and float(leg.qty) > cap * (1 + 1e-12):
            return None
        return leg

    def _better(self, a: Decimal, b: Decimal) -> bool:
        """Is quote amount ``a`` better for the taker than ``b`` (buy: less paid, sell: more received)?"""
        return a < b if self.side == "buy" else a > b

    def limit_breach(self, leg: LegQuote) -> str | None:
        """Why ``leg`` breaks the limit price, or None if it holds (always without a limit).

        A leg holds when its exact all-in average (fees and leg cost in, rounded as the venue
        rounds) is within the limit (buy: <=, sell: >=) and so is the marginal price of its last
        unit on the venue's float curve (to 1e-9 relative: the float model's precision)."""
        if self.limit is None or leg.qty <= 0:
            return None
        avg = leg.quote_amount / leg.qty
        if avg > self.limit if self.side == "buy" else avg < self.limit:
            return f"its exact all-in average {avg:.8f} breaks the limit {self.limit}"
        curve = self.curves[leg.venue]
        q = min(float(leg.qty), curve.total_qty)
        if q > 0:
            last = curve.marginal_price(q * (1 - 1e-12))
            lim = float(self.limit)
            if last > lim * (1 + 1e-9) if self.side == "buy" else last < lim * (1 - 1e-9):
                return f"the marginal price of its last unit {last!r} breaks the limit {self.limit}"
        return None

    def _within_limit(self, name: str, qty: Decimal) -> bool:
        """Does the venue's float curve reach ``qty`` within the limit price? (No limit: yes.)"""
        if self.limit is None:
            return True
        return self.curves[name].qty_at_price(float(self.limit)) >= float(qty) * (1 - 1e-9)

    # -- base-sized orders --

    def base_plan(self, qty: Decimal, result: SplitResult) -> RoutePlan:
        notes = list(result.notes)
        legs: dict[str, LegQuote] = {}
        for name, q in result.allocations.items():
            exact = Decimal(repr(q))
            down = _floor(exact, self.quantum[name])
            if down < self.min_qty[name] <= exact * (1 + Decimal("1e-9")):
                # the split put this leg at its minimum; flooring must not push it below
                down = _ceil(self.min_qty[name], self.quantum[name])
            leg = self._first_quote_down(name, down)
            if leg is not None:
                legs[name] = leg
        # the float split may sum a hair above the order: trim the leg that pays most per unit
        excess = sum((leg.qty for leg in legs.values()), Decimal(0)) - qty
        if excess > 0:
            name = max(legs, key=lambda n: (legs[n].qty, n))
            cut = _ceil(excess, self.quantum[name])
            leg = self._first_quote_down(name, legs[name].qty - cut)
            if leg is None:
                del legs[name]
            else:
                legs[name] = leg
        if result.complete:
            done = cheapest_completion(
                {name: leg.qty for name, leg in legs.items()},
                qty,
                sorted(self.venues),
                self.quantum,
                self._completion_leg,
                self.side,
            )
            if done is not None:
                legs = done
            else:
                self._repair_base(legs, qty, notes)
        filled = _sum_qty(legs)
        best = self._best_single_base(qty)
        plan = self._make(qty, legs, filled, result, best, notes, requested_qty=qty)
        if best is not None and (
            not plan.complete or self._better(best.quote_amount, plan.quote_amount)
        ):
            single = {best.venue: best}
            notes2 = notes + ["the best single venue beats the quantised split: routed there"]
            plan = self._make(
                qty,
                single,
                best.qty,
                self._single_result(result, best),
                best,
                notes2,
                requested_qty=qty,
            )
        return plan

    def _first_quote_down(self, name: str, qty: Decimal) -> LegQuote | None:
        """Exact quote of ``qty``, or of a slightly smaller grid amount if the float curve overshot
        the venue's exact capacity (tries 1e-9, 1e-6, 1e-3 relative less)."""
        leg = self._quote(name, qty)
        for shave in ("1e-9", "1e-6", "1e-3"):
            if leg is not None or qty <= 0:
                break
            leg = self._quote(name, _floor(qty * (1 - Decimal(shave)), self.quantum[name]))
        return leg

    def _completion_leg(self, name: str, qty: Decimal) -> LegQuote | None:
        """The exact leg of ``qty`` on ``name`` if the venue may take it (grid, minimum, cap, limit)."""
        leg = self._quote(name, qty)
        return None if leg is None or self.limit_breach(leg) is not None else leg

    def _completion_leg_for_quote(self, name: str, amount: Decimal) -> LegQuote | None:
        """The exact quote-sized leg on ``name`` if the venue may take it (minimum, cap, limit)."""
        leg = self._quote_for_quote(name, amount)
        return None if leg is None or self.limit_breach(leg) is not None else leg

    def _quote_sized_better(
        self, new: dict[str, LegQuote], old: dict[str, LegQuote], budget: Decimal
    ) -> bool:
        """Buy: more base within the budget; sell: the target met with less base (ties: quote)."""
        nq, oq = _sum_qty(new), _sum_qty(old)
        na, oa = _sum_quote(new), _sum_quote(old)
        if self.side == "buy":
            return na <= budget and (nq > oq or (nq == oq and na < oa))
        if na < budget:
            return False
        return oa < budget or nq < oq or (nq == oq and na > oa)

    def _repair_base(self, legs: dict[str, LegQuote], target: Decimal, notes: list[str]) -> None:
        """Place target - Σ legs on the venues' grids at the lowest exact marginal cost."""
        for _ in range(_MAX_REPAIR_ROUNDS):
            rest = target - _sum_qty(legs)
            if rest <= 0:
                return
            options = []
            for name in sorted(self.venues):
                step = _floor(rest, self.quantum[name])
                if step <= 0:
                    continue
                old = legs.get(name)
                new = self._quote(name, (old.qty if old else Decimal(0)) + step)
                if new is None:
                    continue
                delta = new.quote_amount - (old.quote_amount if old else Decimal(0))
                per_unit = delta / step
                if self.limit is not None and (
                    per_unit > self.limit if self.side == "buy" else per_unit < self.limit
                ):
                    continue
                if self.limit_breach(new) is not None:
                    continue
                # the whole remainder first; then the cheapest per unit (sell: the richest)
                options.append(
                    (step != rest, per_unit if self.side == "buy" else -per_unit, name, new)
                )
            if not options:
                notes.append(
                    f"{rest} base could not be placed on any venue's lot grid within the caps and limit"
                )
                return
            _, _, name, new = min(options, key=lambda o: (o[0], o[1], o[2]))
            legs[name] = new
        notes.append("repair stopped after its round limit")

    def _best_single_base(self, qty: Decimal) -> LegQuote | None:
        best = None
        for name in sorted(self.venues):
            if not self._within_limit(name, qty):
                continue
            leg = self._quote(name, qty, single=True)
            if leg is None or self.limit_breach(leg) is not None:
                continue
            if best is None or self._better(leg.quote_amount, best.quote_amount):
                best = leg
        return best

    # -- quote-sized orders --

    def quote_plan(self, budget: Decimal, result: SplitResult) -> RoutePlan:
        notes = list(result.notes)
        shares: dict[str, Decimal] = {}
        for name, q in result.allocations.items():
            curve = self.curves[name]
            spend = curve.cost(min(q, curve.total_qty))
            spend = spend + curve.fixed_cost if self.side == "buy" else spend - curve.fixed_cost
            shares[name] = max(
                Decimal(repr(spend)).quantize(Decimal("1e-12"), rounding=ROUND_FLOOR), Decimal(0)
            )
        if shares and result.complete:
            # the float shares sum to the budget up to noise: make them sum to it exactly
            top = max(shares, key=lambda n: (shares[n], n))
            shares[top] += budget - sum(shares.values(), Decimal(0))
        legs: dict[str, LegQuote] = {}
        for name, amount in shares.items():
            leg = self._quote_for_quote(name, amount)
            if leg is not None:
                legs[name] = leg
        # the split's base legs floored to each grid: the completion rounds coarse ones up or not
        floats = {
            name: _floor(Decimal(repr(q)), self.quantum[name])
            for name, q in result.allocations.items()
        }
        if self.side == "buy":
            self._repair_buy_budget(legs, budget, notes)
        else:
            self._repair_sell_target(legs, budget, notes)
        if result.complete:
            # the cheapest exact completion of the same legs, kept when it beats the repair
            done = cheapest_quote_completion(
                floats,
                budget,
                sorted(self.venues),
                self.quantum,
                self._completion_leg,
                self._completion_leg_for_quote,
                self.side,
            )
            if done is not None and self._quote_sized_better(done, legs, budget):
                legs = done
        filled = _sum_qty(legs)
        best = self._best_single_quote(budget)
        plan = self._make(filled, legs, filled, result, best, notes, requested_quote=budget)
        if best is not None and self._single_beats(best, plan, budget):
            notes2 = notes + ["the best single venue beats the quantised split: routed there"]
            plan = self._make(
                best.qty,
                {best.venue: best},
                best.qty,
                self._single_result(result, best),
                best,
                notes2,
                requested_quote=budget,
            )
        return plan

    def _repair_buy_budget(
        self, legs: dict[str, LegQuote], budget: Decimal, notes: list[str]
    ) -> None:
        """Keep Σ paid <= budget exactly, then offer what is left to the best marginal venues."""
        for _ in range(_MAX_REPAIR_ROUNDS):
            over = _sum_quote(legs) - budget
            if over <= 0:
                break
            name = max(legs, key=lambda n: (legs[n].quote_amount, n))
            leg = self._quote_for_quote(name, legs[name].quote_amount - over)
            if leg is None or leg.quote_amount >= legs[name].quote_amount:
                del legs[name]
            else:
                legs[name] = leg
        for name in self._by_marginal(legs):
            left = budget - _sum_quote(legs)
            if left <= 0:
                break
            old = legs.get(name)
            new = self._quote_for_quote(name, (old.quote_amount if old else Decimal(0)) + left)
            if new is None or new.quote_amount > (old.quote_amount if old else Decimal(0)) + left:
                continue
            if self.limit_breach(new) is not None:
                continue
            if old is None or new.qty > old.qty:
                legs[name] = new

    def _repair_sell_target(
        self, legs: dict[str, LegQuote], target: Decimal, notes: list[str]
    ) -> None:
        """Make Σ received >= target: the shortfall goes to the best marginal venue that takes it."""
        for name in self._by_marginal(legs):
            short = target - _sum_quote(legs)
            if short <= 0:
                break
            old = legs.get(name)
            new = self._quote_for_quote(name, (old.quote_amount if old else Decimal(0)) + short)
            if new is None or new.quote_amount < (old.quote_amount if old else Decimal(0)) + short:
                continue
            if self.limit_breach(new) is not None:
                continue
            legs[name] = new
        if target - _sum_quote(legs) > 0:
            notes.append(f"{target - _sum_quote(legs)} quote short of the target")
            return
        # each leg rounds its base up to its grid: trim the overshoot where a leg can give it back
        for name in reversed(self._by_marginal(legs)):
            excess = _sum_quote(legs) - target
            if excess <= 0 or name not in legs:
                continue
            old = legs[name]
            new = self._quote_for_quote(name, old.quote_amount - excess)
            if (
                new is not None
                and new.qty < old.qty
                and self.limit_breach(new) is None
                and _sum_quote(legs) - old.quote_amount + new.quote_amount >= target
            ):
                legs[name] = new

    def _by_marginal(self, legs: dict[str, LegQuote]) -> list[str]:
        """Venues by their float marginal price at the current leg, best first (ties by name)."""

        def key(name: str) -> tuple[float, str]:
            curve = self.curves[name]
            q = float(legs[name].qty) if name in legs else 0.0
            if curve.total_qty <= 0 or q >= curve.total_qty:
                return (math.inf, name)
            p = curve.marginal_price(q)
            return (p if self.side == "buy" else -p, name)

        return sorted(self.venues, key=key)

    def _best_single_quote(self, budget: Decimal) -> LegQuote | None:
        best = None
        for name in sorted(self.venues):
            if not self._covers_budget(name, budget):
                continue  # a venue that runs dry before the budget is no single-venue fill
            leg = self._quote_for_quote(name, budget, single=True)
            if (
                leg is None
                or not self._within_limit(name, leg.qty)
                or self.limit_breach(leg) is not None
            ):
                continue
            if self.side == "buy" and leg.quote_amount > budget:
                continue
            if self.side == "sell" and leg.quote_amount < budget:
                continue
            better = best is None or (
                leg.qty > best.qty if self.side == "buy" else leg.qty < best.qty
            )
            if better:
                best = leg
        return best

    def _single_result(self, result: SplitResult, leg: LegQuote) -> SplitResult:
        """The split result re-labelled for a single-venue plan: its marginal price is that of the
        venue's last unit on the float curve."""
        curve = self.curves[leg.venue]
        q = min(float(leg.qty), curve.total_qty)
        lam = curve.marginal_price(q * (1 - 1e-12)) if q > 0 else math.nan
        # the benchmark leg fills the whole order by construction (all of the base, or the whole
        # budget / target), even where the split found the exact size unreachable
        return dataclasses.replace(
            result,
            method="single-venue",
            marginal_price=lam,
            allocations={leg.venue: q},
            bound_gap=math.nan,
            complete=True,
        )

    def _covers_budget(self, name: str, budget: Decimal) -> bool:
        """Can the venue's float curve (within the limit) spend / raise the whole budget?"""
        curve = self.curves[name]
        top = curve.total_qty
        if self.limit is not None:
            top = min(top, curve.qty_at_price(float(self.limit)))
        value = curve.cost(top)
        value = value + curve.fixed_cost if self.side == "buy" else value - curve.fixed_cost
        return value >= float(budget) * (1 - 1e-9)

    def _single_beats(self, best: LegQuote, plan: RoutePlan, budget: Decimal) -> bool:
        if not plan.complete:
            return True
        if self.side == "buy":
            return best.qty > plan.qty
        return best.qty < plan.qty

    # -- assembling --

    def _make(
        self,
        qty_requested: Decimal,
        legs: dict[str, LegQuote],
        filled: Decimal,
        result: SplitResult,
        best: LegQuote | None,
        notes: list[str],
        *,
        requested_qty: Decimal | None = None,
        requested_quote: Decimal | None = None,
    ) -> RoutePlan:
        ordered = tuple(legs[n] for n in sorted(legs))
        total = _sum_quote(legs)
        places = self.price_places if self.price_places is not None else _places_of(ordered)
        avg = _round(total / filled, places) if filled else Decimal(0)
        lam = result.marginal_price
        marginal = (
            None if not ordered or not math.isfinite(lam) else _round(Decimal(repr(lam)), places)
        )
        if requested_qty is not None:
            unfilled = requested_qty - filled
            complete = unfilled == 0
            unspent = None
        else:
            unfilled = Decimal(0)
            unspent = requested_quote - total
            complete = result.complete and bool(ordered) and (self.side == "buy" or unspent <= 0)
        improvement = None
        if best is not None and ordered and complete and best.qty and best.quote_amount:
            single_avg = best.quote_amount / best.qty
            plan_avg = total / filled
            diff = single_avg - plan_avg if self.side == "buy" else plan_avg - single_avg
            improvement = _round(diff / single_avg * _BPS, 2)
        return RoutePlan(
            symbol=self.symbol,
            side=self.side,
            qty=filled,
            legs=ordered,
            quote_amount=total,
            avg_price=avg,
            marginal_price=marginal,
            best_single_venue=None if best is None else (best.venue, best.quote_amount),
            improvement_bps=improvement,
            complete=complete,
            unfilled_qty=unfilled,
            method=result.method,
            bound_gap=result.bound_gap,
            requested_qty=requested_qty,
            requested_quote=requested_quote,
            unspent_quote=unspent,
            notes=tuple(notes),
        )


def _check_decimal(field: str, value: Any, *, allow_zero: bool = False) -> Decimal:
    """A finite positive Decimal (or int); anything else, float included, is refused."""
    allowed = "a finite Decimal >= 0" if allow_zero else "a finite Decimal > 0"
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise InvalidRouteArgument(field, value, allowed)
    value = Decimal(value)
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise InvalidRouteArgument(field, value, allowed)
    return value


def _floor(value: Decimal, quantum: Decimal) -> Decimal:
    """Largest multiple of ``quantum`` <= value (value >= 0). Exact."""
    if value <= 0:
        return Decimal(0)
    return (value // quantum) * quantum


def _ceil(value: Decimal, quantum: Decimal) -> Decimal:
    """Smallest multiple of ``quantum`` >= value. Exact."""
    steps = value // quantum
    if steps * quantum < value:
        steps += 1
    return steps * quantum


def _sum_qty(legs: Mapping[str, LegQuote]) -> Decimal:
    return sum((leg.qty for leg in legs.values()), Decimal(0))


def _sum_quote(legs: Mapping[str, LegQuote]) -> Decimal:
    return sum((leg.quote_amount for leg in legs.values()), Decimal(0))


def _places_of(legs: Sequence[LegQuote]) -> int:
    """Decimals of the quote amounts (the quote asset's precision as the venues report it), >= 2."""
    places = 2
    for leg in legs:
        exp = leg.quote_amount.as_tuple().exponent
        if isinstance(exp, int) and exp < 0:
            places = max(places, -exp)
    return places


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _fmt(value: Decimal) -> str:
    """Plain decimal string (no exponent), every digit kept: quote amounts keep the quote asset's
    decimals ("134319.176681")."""
    return format(value, "f")


def fmt_qty(value: Decimal) -> str:
    """A quantity as a plain decimal string without trailing zeros and never in exponent notation:
    50.000000000000000000 -> "50", 20.0740 -> "20.074", 0E-18 -> "0". Exact (no rounding)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def plan_up_to(
    venues: Sequence[Venue],
    symbol: str,
    side: str,
    qty: Decimal,
    *,
    quantum: Decimal,
    precision: int = 1000,
) -> RoutePlan | None:
    """The plan for ``qty``, or, when the venues' depth cannot take it all, for the largest size
    they take (bisected on the ``quantum`` grid to within qty/``precision``, rounded down); None
    when they take none. For orders that must trade what they can (liquidations)."""

    def route(size: Decimal) -> RoutePlan | None:
        try:
            return plan_route(venues, symbol, side, size)
        except CrossrouteError:
            return None

    plan = route(qty)
    if plan is None:
        lo, hi = Decimal(0), qty
        while hi - lo > qty / precision:
            mid = ((lo + hi) / 2).quantize(quantum, rounding=ROUND_FLOOR)
            candidate = route(mid) if mid > 0 else None
            if candidate is not None:
                lo, plan = mid, candidate
            else:
                hi = mid
    return plan
