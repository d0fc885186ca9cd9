"""Exact plans through venue stubs: legs sum exactly, every number is an exact re-quote, the plan
never loses to the best single venue, limits, partial fills and quote budgets hold."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.model.depth import DepthCurve, FlatSegment, HyperbolicSegment, InvalidRouteArgument
from router.model.errors import RouteError
from router.model.orders import LegQuote
from router.plan import RoutePlan, plan_route

PIPS = 1_000_000
SYMBOL = "ETH/USDC"


# -- float-free venue stubs (integer / Decimal math only) --


class PoolStub:
    """Constant-product pool in integer base units (v2 formulas, rounding in the pool's favour)."""

    def __init__(
        self,
        name: str,
        base: str,
        quote: str,
        fee_pips: int = 3000,
        leg_cost: str = "0",
        base_decimals: int = 8,
        quote_decimals: int = 6,
    ) -> None:
        self.name, self.symbol, self.leg_cost = name, SYMBOL, Decimal(leg_cost)
        self.bd, self.qd, self.fee_pips = base_decimals, quote_decimals, fee_pips
        self.x = int(Decimal(base).scaleb(base_decimals))
        self.y = int(Decimal(quote).scaleb(quote_decimals))

    def base_quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.bd)

    def min_qty(self) -> Decimal:
        return self.base_quantum()

    def depth_curve(self, side: str) -> DepthCurve:
        x, y = self.x / 10**self.bd, self.y / 10**self.qd
        qty = x * 0.999 if side == "buy" else x * 4
        return DepthCurve(
            self.name,
            side,
            (HyperbolicSegment(qty, x, y, self.fee_pips / PIPS),),
            fixed_cost=float(self.leg_cost),
            lot=float(self.base_quantum()),
        )

    def _in_for_out(self, out: int, r_in: int, r_out: int) -> int:
        if out >= r_out:
            raise RouteError(f"{self.name}: cannot pay out {out}")
        return r_in * out * PIPS // ((r_out - out) * (PIPS - self.fee_pips)) + 1

    def _out_for_in(self, amount_in: int, r_in: int, r_out: int) -> int:
        with_fee = amount_in * (PIPS - self.fee_pips)
        return with_fee * r_out // (r_in * PIPS + with_fee)

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        units = qty.scaleb(self.bd)
        if units != units.to_integral_value() or units <= 0:
            raise RouteError(f"{self.name}: qty {qty} off grid")
        units = int(units)
        if side == "buy":
            paid = Decimal(self._in_for_out(units, self.y, self.x)).scaleb(-self.qd) + self.leg_cost
            return LegQuote(self.name, side, qty, paid, Decimal(0), self.leg_cost)
        got = Decimal(self._out_for_in(units, self.x, self.y)).scaleb(-self.qd) - self.leg_cost
        if got <= 0:
            raise RouteError(f"{self.name}: sells for nothing")
        return LegQuote(self.name, side, qty, got, Decimal(0), self.leg_cost)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        if side == "buy":
            units = int(
                (quote_amount - self.leg_cost).scaleb(self.qd).to_integral_value(ROUND_FLOOR)
            )
            out = self._out_for_in(units, self.y, self.x) if units > 0 else 0
            if out <= 0:
                raise RouteError(f"{self.name}: buys nothing")
            return self.quote(side, Decimal(out).scaleb(-self.bd))
        units = int((quote_amount + self.leg_cost).scaleb(self.qd).to_integral_value(ROUND_CEILING))
        return self.quote(side, Decimal(self._in_for_out(units, self.x, self.y)).scaleb(-self.bd))


class BookStub:
    """Order book side of flat levels (price, qty) in Decimal with a lot grid and a taker fee."""

    def __init__(
        self,
        name: str,
        asks: list[tuple[str, str]],
        bids: list[tuple[str, str]],
        lot: str = "0.001",
        fee_pips: int = 500,
        leg_cost: str = "0",
        min_qty: str = "0",
    ) -> None:
        self.name, self.symbol, self.leg_cost = name, SYMBOL, Decimal(leg_cost)
        self.asks = [(Decimal(p), Decimal(q)) for p, q in asks]
        self.bids = [(Decimal(p), Decimal(q)) for p, q in bids]
        self.lot, self.fee, self._min = Decimal(lot), Decimal(fee_pips) / PIPS, Decimal(min_qty)

    def base_quantum(self) -> Decimal:
        return self.lot

    def min_qty(self) -> Decimal:
        return self._min

    def depth_curve(self, side: str) -> DepthCurve:
        levels = self.asks if side == "buy" else self.bids
        factor = 1 + self.fee if side == "buy" else 1 - self.fee
        return DepthCurve(
            self.name,
            side,
            tuple(FlatSegment(float(q), float(p * factor)) for p, q in levels),
            fixed_cost=float(self.leg_cost),
            lot=float(self.lot),
            min_qty=float(self._min),
        )

    def quote(self, side: str, qty: Decimal) -> LegQuote:
        if qty <= 0 or qty % self.lot or qty < self._min:
            raise RouteError(f"{self.name}: qty {qty} off grid")
        rest, notional = qty, Decimal(0)
        for price, size in self.asks if side == "buy" else self.bids:
            take = min(rest, size)
            notional += take * price
            rest -= take
            if rest == 0:
                break
        if rest > 0:
            raise RouteError(f"{self.name}: book too thin for {qty}")
        fee = notional * self.fee
        if side == "buy":
            paid = (notional + fee).quantize(Decimal("0.000001"), ROUND_CEILING) + self.leg_cost
            return LegQuote(self.name, side, qty, paid, fee, self.leg_cost)
        got = (notional - fee).quantize(Decimal("0.000001"), ROUND_FLOOR) - self.leg_cost
        return LegQuote(self.name, side, qty, got, fee, self.leg_cost)

    def quote_for_quote(self, side: str, quote_amount: Decimal) -> LegQuote:
        levels = self.asks if side == "buy" else self.bids
        total = sum(q for _, q in levels)
        lo, hi = (
            0,
            int(total / self.lot),
        )  # lots; buy: most lots paid <= amount, sell: fewest >= amount
        ok = (
            (lambda leg: leg.quote_amount <= quote_amount)
            if side == "buy"
            else (lambda leg: leg.quote_amount >= quote_amount)
        )
        if side == "buy":
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if ok(self.quote(side, mid * self.lot)) else (lo, mid - 1)
            if lo == 0:
                raise RouteError(f"{self.name}: buys nothing")
            return self.quote(side, lo * self.lot)
        if hi == 0 or not ok(self.quote(side, hi * self.lot)):
            raise RouteError(f"{self.name}: book too thin")
        lo = 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if ok(self.quote(side, mid * self.lot)) else (mid + 1, hi)
        return self.quote(side, lo * self.lot)


def random_market(seed: int, n: int, *, leg_costs: bool = False) -> list:
    rng = np.random.default_rng(seed)
    venues = []
    for i in range(n):
        cost = str(round(float(rng.choice([0, 2, 15])), 2)) if leg_costs else "0"
        if rng.integers(0, 2):
            base = Decimal(str(round(float(rng.uniform(20, 400)), 4)))
            price = Decimal(str(round(3000 * (1 + float(rng.normal(0, 0.002))), 2)))
            venues.append(
                PoolStub(
                    f"pool{i}",
                    str(base),
                    str((base * price).quantize(Decimal("0.01"))),
                    fee_pips=int(rng.choice([500, 3000])),
                    leg_cost=cost,
                )
            )
        else:
            mid = 3000 * (1 + float(rng.normal(0, 0.002)))
            asks, bids = [], []
            for k in range(int(rng.integers(1, 5))):
                step = 1 + 0.0008 * (k + 1)
                asks.append((f"{mid * step:.2f}", f"{rng.uniform(0.5, 15):.3f}"))
                bids.append((f"{mid / step:.2f}", f"{rng.uniform(0.5, 15):.3f}"))
            venues.append(BookStub(f"book{i}", asks, bids, leg_cost=cost))
    return venues


def single_quotes(venues: list, side: str, qty: Decimal) -> list[LegQuote]:
    out = []
    for v in venues:
        try:
            out.append(v.quote(side, qty))
        except RouteError:
            pass
    return out


def assert_exact(plan: RoutePlan, venues: list) -> None:
    """Every leg is the venue's own exact quote and the totals are their exact sums."""
    by = {v.name: v for v in venues}
    for leg in plan.legs:
        assert by[leg.venue].quote(plan.side, leg.qty) == leg
    assert plan.quote_amount == sum((leg.quote_amount for leg in plan.legs), Decimal(0))
    assert plan.qty == sum((leg.qty for leg in plan.legs), Decimal(0))


# -- base-sized --


@pytest.mark.parametrize("seed", range(16))
def test_plan_legs_sum_exactly_are_exact_and_never_lose_to_one_venue(seed: int) -> None:
    side = "buy" if seed % 2 == 0 else "sell"
    venues = random_market(500 + seed, 2 + seed % 11, leg_costs=seed % 3 == 0)
    qty = Decimal(str(round(float(np.random.default_rng(seed).uniform(0.5, 25)), 3)))
    plan = plan_route(venues, SYMBOL, side, qty)
    assert_exact(plan, venues)
    singles = single_quotes(venues, side, qty)
    if plan.complete:
        assert plan.qty == qty and plan.unfilled_qty == 0
    if singles:
        best = (
            min(singles, key=lambda q: q.quote_amount)
            if side == "buy"
            else max(singles, key=lambda q: q.quote_amount)
        )
        assert plan.complete
        assert plan.best_single_venue == (best.venue, best.quote_amount)
        if side == "buy":
            assert plan.quote_amount <= best.quote_amount
        else:
            assert plan.quote_amount >= best.quote_amount
        assert plan.improvement_bps is not None and plan.improvement_bps >= 0
    else:
        assert plan.best_single_venue is None and plan.improvement_bps is None


def test_plan_beats_single_venue_by_the_reported_bps() -> None:
    venues = [
        PoolStub("uni", "1000", "3000000"),
        PoolStub("sushi", "800", "2400000"),
        BookStub("book", [("3000.50", "8"), ("3001.00", "25")], [("2999.50", "12.5")]),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("40"))
    assert plan.complete and len(plan.legs) == 3
    _best_venue, best_quote = plan.best_single_venue
    assert plan.improvement_bps == ((best_quote - plan.quote_amount) / best_quote * 10000).quantize(
        Decimal("0.01")
    )
    assert plan.improvement_bps > 0


def test_plan_is_never_worse_than_single_venue_after_quantisation() -> None:
    # a coarse lot grid plus a leg cost: splitting cannot pay, the single venue is returned
    venues = [
        BookStub("a", [("3000", "10")], [], lot="1", leg_cost="50"),
        BookStub("b", [("3000.01", "10")], [], lot="1", leg_cost="50"),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("3"))
    assert len(plan.legs) == 1 and plan.legs[0].venue == "a"
    assert plan.improvement_bps == 0
    assert_exact(plan, venues)


def test_remainder_goes_to_the_venue_whose_grid_can_take_it() -> None:
    # 'coarse' is cheaper but trades whole units only: the .5 must go to 'fine'
    venues = [
        BookStub("coarse", [("2990", "100")], [], lot="1", fee_pips=0),
        BookStub("fine", [("3000", "100")], [], lot="0.001", fee_pips=0),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("10.5"))
    assert {leg.venue: leg.qty for leg in plan.legs} == {
        "coarse": Decimal(10),
        "fine": Decimal("0.5"),
    }
    assert plan.complete
    assert_exact(plan, venues)


def test_unplaceable_remainder_is_reported_not_hidden() -> None:
    venues = [BookStub("coarse", [("2990", "100")], [], lot="1", fee_pips=0)]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("10.5"))
    assert not plan.complete
    assert plan.unfilled_qty == Decimal("0.5") and plan.qty == Decimal(10)
    assert any("lot grid" in note for note in plan.notes)


def test_limit_price_bounds_every_leg_and_partial_is_reported() -> None:
    venues = [
        BookStub("a", [("3000", "2"), ("3010", "5")], [], fee_pips=0),
        BookStub("b", [("3001", "3"), ("3020", "5")], [], fee_pips=0),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("20"), limit_price=Decimal("3005"))
    assert not plan.complete
    assert plan.qty == Decimal(5) and plan.unfilled_qty == Decimal(15)
    assert all(leg.avg_price <= Decimal("3005") for leg in plan.legs)
    assert plan.marginal_price <= Decimal("3005")
    assert plan.best_single_venue is None
    assert_exact(plan, venues)


def test_sell_side_plan_receives_at_least_the_best_single_venue() -> None:
    venues = [
        PoolStub("uni", "1000", "3000000"),
        BookStub("book", [], [("2999.50", "12.5"), ("2999.00", "40")]),
    ]
    plan = plan_route(venues, SYMBOL, "sell", Decimal("30"))
    assert plan.complete and plan.qty == 30
    assert plan.quote_amount >= plan.best_single_venue[1]
    assert_exact(plan, venues)


@settings(max_examples=25)
@given(
    seed=st.integers(0, 1000),
    qty=st.decimals("0.01", "60", places=3),
    side=st.sampled_from(["buy", "sell"]),
)
def test_plan_properties_hold_for_random_orders(seed: int, qty: Decimal, side: str) -> None:
    venues = random_market(seed, 4, leg_costs=True)
    plan = plan_route(venues, SYMBOL, side, qty)
    assert_exact(plan, venues)
    assert plan.qty + plan.unfilled_qty == qty
    singles = single_quotes(venues, side, qty)
    for s in singles:
        assert (
            (plan.quote_amount <= s.quote_amount)
            if side == "buy"
            else (plan.quote_amount >= s.quote_amount)
        )


# -- quote-sized --


@pytest.mark.parametrize("seed", range(8))
def test_quote_sized_buy_spends_at_most_the_budget(seed: int) -> None:
    venues = random_market(700 + seed, 2 + seed, leg_costs=seed % 2 == 1)
    budget = Decimal("45000.5")
    plan = plan_route(venues, SYMBOL, "buy", quote_qty=budget)
    assert_exact(plan, venues)
    assert plan.quote_amount <= budget
    assert plan.unspent_quote == budget - plan.quote_amount
    for v in venues:
        try:
            single = v.quote_for_quote("buy", budget)
        except RouteError:
            continue
        if single.quote_amount <= budget:
            assert plan.qty >= single.qty
    # nearly all the budget is spent: what is left is below a few grid steps of price
    if plan.complete:
        assert plan.unspent_quote < Decimal("1")


@pytest.mark.parametrize("seed", range(6))
def test_quote_sized_sell_receives_the_target(seed: int) -> None:
    venues = random_market(800 + seed, 3 + seed)
    target = Decimal("30000")
    plan = plan_route(venues, SYMBOL, "sell", quote_qty=target)
    assert_exact(plan, venues)
    if plan.complete:
        assert plan.quote_amount >= target
        # the overshoot is below one book lot (0.001 base at ~3000) once the trim pass ran
        assert plan.quote_amount - target < Decimal("3.1")


# -- output contract and validation --


def test_to_json_dict_follows_the_route_contract() -> None:
    venues = [PoolStub("uni", "1000", "3000000"), BookStub("book", [("3000.50", "8")], [])]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("5"))
    out = json.loads(json.dumps(plan.to_json_dict()))
    for key in (
        "symbol",
        "side",
        "qty",
        "legs",
        "quote_amount",
        "avg_price",
        "marginal_price",
        "best_single_venue",
        "improvement_bps",
    ):
        assert key in out
    assert Decimal(out["qty"]) == 5 and out["symbol"] == SYMBOL and out["side"] == "buy"
    assert Decimal(out["quote_amount"]) == plan.quote_amount
    assert sum(Decimal(leg["qty"]) for leg in out["legs"]) == Decimal(5)
    assert set(out["legs"][0]) >= {"venue", "qty", "quote_amount", "avg_price"}
    assert isinstance(out["best_single_venue"]["quote_amount"], str)
    assert "E" not in out["quote_amount"] and "e" not in out["avg_price"]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"qty": Decimal("-1")}, "qty"),
        ({"qty": Decimal("NaN")}, "qty"),
        ({"qty": Decimal("Infinity")}, "qty"),
        ({"qty": 1.5}, "qty"),
        ({"qty": Decimal(0)}, "qty"),
        ({}, "qty"),
        ({"qty": Decimal(1), "quote_qty": Decimal(1)}, "qty"),
        ({"quote_qty": Decimal(-3)}, "quote_qty"),
        ({"qty": Decimal(1), "limit_price": Decimal(0)}, "limit_price"),
        ({"qty": Decimal(1), "side": "hold"}, "side"),
        ({"qty": Decimal(1), "symbol": "BTC/USDT"}, "symbol"),
        ({"qty": Decimal(1), "symbol": "ETHUSDC"}, "symbol"),
        ({"qty": Decimal(1), "max_qty": {"nope": Decimal(1)}}, "max_qty"),
        ({"qty": Decimal(1), "price_places": -1}, "price_places"),
    ],
)
def test_plan_rejects_bad_requests_with_the_field_and_touches_no_venue(
    kwargs: dict, field: str
) -> None:
    venues = [PoolStub("uni", "1000", "3000000")]
    before = (venues[0].x, venues[0].y)
    args = {"symbol": SYMBOL, "side": "buy", **kwargs}
    with pytest.raises(InvalidRouteArgument) as info:
        plan_route(venues, args.pop("symbol"), args.pop("side"), args.pop("qty", None), **args)
    assert info.value.field == field
    assert isinstance(info.value, RouteError)
    assert (venues[0].x, venues[0].y) == before


def test_plan_rejects_empty_and_duplicate_venues() -> None:
    with pytest.raises(InvalidRouteArgument):
        plan_route([], SYMBOL, "buy", Decimal(1))
    a = PoolStub("uni", "1000", "3000000")
    with pytest.raises(InvalidRouteArgument):
        plan_route([a, a], SYMBOL, "buy", Decimal(1))


def test_no_liquidity_gives_an_empty_incomplete_plan() -> None:
    plan = plan_route([BookStub("a", [], [])], SYMBOL, "buy", Decimal(1))
    assert not plan.complete and plan.legs == () and plan.unfilled_qty == 1
    assert plan.marginal_price is None and plan.best_single_venue is None
    assert math.isnan(float("nan")) and plan.to_json_dict()["legs"] == []


def test_minimum_leg_survives_quantisation_and_caps_hold() -> None:
    venues = [
        BookStub("a", [("3000", "10")], [], lot="0.01", fee_pips=0, min_qty="2"),
        BookStub("b", [("3000.5", "10")], [], lot="0.01", fee_pips=0),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("6"), max_qty={"a": Decimal("2.5")})
    legs = {leg.venue: leg.qty for leg in plan.legs}
    assert legs["a"] <= Decimal("2.5") and legs["a"] >= 2
    assert sum(legs.values()) == 6 and plan.complete
    assert_exact(plan, venues)


def test_single_venue_plan_reports_that_venues_marginal_price() -> None:
    venues = [
        BookStub("a", [("3000", "10")], [], lot="1", leg_cost="50", fee_pips=0),
        BookStub("b", [("3000.01", "10")], [], lot="1", leg_cost="50", fee_pips=0),
    ]
    plan = plan_route(venues, SYMBOL, "buy", Decimal("3"))
    assert plan.method in ("single-venue", "branch-and-bound")
    assert plan.marginal_price == Decimal("3000.00")


def test_quote_sized_plan_json_has_the_contract_keys() -> None:
    venues = [PoolStub("uni", "1000", "3000000"), BookStub("book", [("3000.50", "8")], [])]
    out = plan_route(venues, SYMBOL, "buy", quote_qty=Decimal("30000")).to_json_dict()
    assert Decimal(out["quote_amount"]) <= Decimal("30000")
    assert Decimal(out["qty"]) == sum(Decimal(leg["qty"]) for leg in out["legs"])


def test_exact_search_prints_bound_gap_as_the_decimal_string_zero() -> None:
    venues = [
        PoolStub("uni", "1000", "3000000", leg_cost="4"),
        BookStub("book", [("3000.50", "8"), ("3001", "30")], [], leg_cost="1"),
    ]
    for kwargs in ({"qty": Decimal("12")}, {"quote_qty": Decimal("40000")}):
        plan = plan_route(venues, SYMBOL, "buy", **kwargs)
        out = plan.to_json_dict()
        assert plan.method == "branch-and-bound" and out["bound_gap"] == "0"


@pytest.mark.parametrize(
    "sized, gap, text",
    [
        ("base", 0.0, "0"),
        ("base", math.nan, None),
        ("base", 0.1234561, "0.123457"),
        ("base", 1e-9, "0.000001"),
        ("base", 2.5, "2.500000"),
        ("quote", 0.1234561, "0.1235"),
        ("quote", 3e-7, "0.0001"),
        ("quote", 7.0, "7.0000"),
    ],
)
def test_bound_gap_prints_rounded_up_to_the_decimals_of_its_unit(
    sized: str, gap: float, text: str | None
) -> None:
    """Quote units (the quote amounts' 6 decimals) for a base-sized order, base units (the legs'
    0.0001 lot) for a quote-sized one; rounded up so the gap is never understated."""
    venues = [BookStub("book", [("3000.50", "8")], [], lot="0.0001")]
    kwargs = {"qty": Decimal("2")} if sized == "base" else {"quote_qty": Decimal("3000")}
    plan = plan_route(venues, SYMBOL, "buy", **kwargs)
    out = dataclasses.replace(plan, bound_gap=gap).to_json_dict()
    assert out["bound_gap"] == text
    if text is not None:
        assert Decimal(text) >= Decimal(repr(gap)) and "e" not in text.lower()


# -- the limit holds for every exact leg (all-in average and marginal) --


def assert_legs_within_limit(plan: RoutePlan, venues: list, limit: Decimal) -> None:
    """Every leg's exact all-in average and its last unit's float marginal respect the limit."""
    curves = {v.name: v.depth_curve(plan.side) for v in venues}
    for leg in plan.legs:
        avg = leg.quote_amount / leg.qty
        assert avg <= limit if plan.side == "buy" else avg >= limit, (leg, limit)
        curve = curves[leg.venue]
        last = curve.marginal_price(min(float(leg.qty), curve.total_qty) * (1 - 1e-12))
        if plan.side == "buy":
            assert last <= float(limit) * (1 + 1e-9), (leg, last, limit)
        else:
            assert last >= float(limit) * (1 - 1e-9), (leg, last, limit)


def test_sell_limit_drops_a_small_leg_whose_leg_cost_breaks_the_limit() -> None:
    """Regression (config/examples/small.toml shape): the pool's marginal price clears the limit for
    a few hundredths of base, but its leg cost pulls that leg's all-in average far below it."""
    venues = [
        PoolStub("amm", "100", "300000", fee_pips=3000, leg_cost="1"),
        BookStub(
            "book", [], [("2999.50", "2.5"), ("2999.00", "4"), ("2998.00", "6")], fee_pips=1000
        ),
    ]
    limit = Decimal("2990")
    plan = plan_route(venues, SYMBOL, "sell", Decimal("300"), limit_price=limit)
    assert not plan.complete
    assert [leg.venue for leg in plan.legs] == ["book"]
    assert_legs_within_limit(plan, venues, limit)
    assert_exact(plan, venues)


def test_buy_limit_keeps_a_leg_cost_venue_only_when_its_whole_leg_averages_within_it() -> None:
    # the pool's marginal starts at ~3009 (fee in) and reaches the 3020 limit after ~1.82 base;
    # with a 5 USDC leg cost only legs of at least ~0.5 base average under the limit
    limit = Decimal("3020")
    book = BookStub("book", [("3000", "1"), ("3030", "50")], [], fee_pips=0)
    cheap = plan_route(
        [PoolStub("uni", "1000", "3000000", leg_cost="5"), book],
        SYMBOL,
        "buy",
        Decimal("4"),
        limit_price=limit,
    )
    legs = {leg.venue: leg for leg in cheap.legs}
    assert set(legs) == {"book", "uni"} and not cheap.complete
    assert Decimal("1.8") < legs["uni"].qty < Decimal("1.83") and legs["uni"].avg_price <= limit
    assert_legs_within_limit(cheap, [PoolStub("uni", "1000", "3000000", leg_cost="5"), book], limit)
    # with a 30 USDC leg cost no leg up to the limit's depth averages under it: the pool is out
    dear = [PoolStub("uni", "1000", "3000000", leg_cost="30"), book]
    plan = plan_route(dear, SYMBOL, "buy", Decimal("4"), limit_price=limit)
    assert [leg.venue for leg in plan.legs] == ["book"] and plan.qty == 1
    assert_legs_within_limit(plan, dear, limit)
    assert_exact(plan, dear)


class LyingBookStub(BookStub):
    """A book whose float curve understates its taker fee: the exact legs cost more than the
    curve says, so a leg the float split accepts can break the limit once re-quoted."""

    def depth_curve(self, side: str) -> DepthCurve:
        levels = self.asks if side == "buy" else self.bids
        return DepthCurve(
            self.name,
            side,
            tuple(FlatSegment(float(q), float(p)) for p, q in levels),
            fixed_cost=float(self.leg_cost),
            lot=float(self.lot),
            min_qty=float(self._min),
        )


def test_a_leg_breaking_the_limit_after_exact_rounding_is_dropped_and_the_order_replanned() -> None:
    venues = [
        LyingBookStub("liar", [("2999", "5")], [], fee_pips=5000),
        BookStub("honest", [("3000", "3")], [], fee_pips=0),
    ]
    limit = Decimal("3005")
    plan = plan_route(venues, SYMBOL, "buy", Decimal("6"), limit_price=limit)
    assert [leg.venue for leg in plan.legs] == ["honest"]
    assert plan.qty == 3 and not plan.complete
    assert any(note.startswith("liar dropped") for note in plan.notes)
    assert_legs_within_limit(plan, venues, limit)


@settings(max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    qty=st.decimals("0.5", "80", places=3),
    side=st.sampled_from(["buy", "sell"]),
    limit_bps=st.integers(-40, 80),
    quote_sized=st.booleans(),
)
def test_every_leg_of_every_plan_respects_the_limit(
    seed: int, qty: Decimal, side: str, limit_bps: int, quote_sized: bool
) -> None:
    venues = random_market(seed, 2 + seed % 5, leg_costs=True)
    # limits around the mid: tight (some venues out), loose (all in), on both sides of it
    factor = Decimal(1) + Decimal(limit_bps) / 10000
    limit = (Decimal(3000) * factor if side == "buy" else Decimal(3000) / factor).quantize(
        Decimal("0.01")
    )
    if quote_sized:
        plan = plan_route(venues, SYMBOL, side, quote_qty=qty * 3000, limit_price=limit)
    else:
        plan = plan_route(venues, SYMBOL, side, qty, limit_price=limit)
        assert plan.qty + plan.unfilled_qty == qty
    assert_legs_within_limit(plan, venues, limit)
    assert_exact(plan, venues)


# -- number formatting --


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("50.000000000000000000"), "50"),
        (Decimal("20.0740"), "20.074"),
        (Decimal("0E-18"), "0"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.000000000000000001"), "0.000000000000000001"),
        (Decimal("1234567.8900"), "1234567.89"),
        (Decimal("-2.50"), "-2.5"),
    ],
)
def test_quantities_print_normalised_never_in_exponent_notation(value: Decimal, text: str) -> None:
    from router.plan import fmt_qty

    assert fmt_qty(value) == text


def test_json_quantities_are_normalised_and_quote_amounts_keep_their_decimals() -> None:
    venues = [
        PoolStub("uni", "1000", "3000000", base_decimals=18),
        BookStub("book", [("3000.50", "8")], [], lot="0.0001"),
    ]
    out = plan_route(venues, SYMBOL, "buy", Decimal("10")).to_json_dict()
    assert out["qty"] == "10"
    for leg in out["legs"]:
        assert not leg["qty"].endswith("0") and "E" not in leg["qty"].upper()
        assert len(leg["quote_amount"].split(".")[1]) == 6  # USDC decimals, as the venues report
    assert out["unfilled_qty"] == "0"
