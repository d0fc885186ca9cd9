"""Quantisation keeps every plan within 1 ppm of the exact optimum: the cheapest exact completion.

The reference optimum is computed here, independently of router.split and router.model.depth:
every book leg on its lot grid around the continuous optimum (exact book quotes), the pools
sharing the rest continuously (v2 closed forms from the reserves, bisection on the common
marginal price, test-local code).
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from router.completion import cheapest_completion
from router.model.orders import LegQuote
from router.plan import plan_route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_plan import PIPS, BookStub, PoolStub


def relaxed(venues: list, side: str, qty: float) -> tuple[float, float]:
    """(cost, λ) of min (buy) / max (sell) Σ cost_i(q_i), Σ q_i = qty, continuous: every venue
    filled to one marginal price λ found by bisection, test-local closed forms."""
    if qty <= 0:
        return 0.0, math.nan
    lo, hi = (1.0, 1e7) if side == "buy" else (1e7, 1.0)
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if _fill(venues, side, mid)[0] >= qty:
            hi = mid
        else:
            lo = mid
    total, cost = _fill(venues, side, lo)
    top, top_cost = _fill(venues, side, hi)
    # inside the last bracket the take is linear (a flat level's jump or a smooth piece)
    t = 0.0 if top == total else (qty - total) / (top - total)
    return cost + t * (top_cost - cost), lo


def _fill(venues: list, side: str, lam: float) -> tuple[float, float]:
    """Base and quote of every venue filled to marginal price λ (flat levels at λ excluded)."""
    total = cost = 0.0
    for v in venues:
        if isinstance(v, PoolStub):
            x, y, g = v.x / 10**v.bd, v.y / 10**v.qd, 1 - v.fee_pips / PIPS
            if side == "buy":
                q = max(0.0, x - math.sqrt(x * y / (g * lam)))
                c = y * q / ((x - q) * g) if q else 0.0
            else:
                q = max(0.0, (math.sqrt(x * y * g / lam) - x) / g)
                c = y * q * g / (x + q * g)
            total, cost = total + q, cost + c
            continue
        levels = v.asks if side == "buy" else v.bids
        factor = 1 + v.fee if side == "buy" else 1 - v.fee
        for p, size in levels:
            price = float(p * factor)
            if price < lam if side == "buy" else price > lam:
                total, cost = total + float(size), cost + float(size) * price
    return total, cost


def exact_optimum(venues: list, side: str, qty: Decimal) -> float | None:
    """The optimum with the book leg on its lot grid (exact book quotes) and the pools sharing the
    rest continuously (their 1e-8 grid is far below 1 ppm). The total is convex in the book's lot
    count (a convex book cost plus the convex pool optimum of the rest), so a binary search on its
    forward difference finds the best count. None when nothing fills the order exactly."""
    (book,) = [v for v in venues if isinstance(v, BookStub)]
    pools = [v for v in venues if isinstance(v, PoolStub)]
    depth = sum(q for _, q in (book.asks if side == "buy" else book.bids))
    top = int(min(qty, depth) / book.lot)
    sign = 1.0 if side == "buy" else -1.0

    def total(k: int) -> float:
        rest = qty - k * book.lot
        cost = float(book.quote(side, k * book.lot).quote_amount) if k else 0.0
        return sign * (cost + (relaxed(pools, side, float(rest))[0] if rest > 0 else 0.0))

    if not pools:
        return sign * total(top) if top * book.lot == qty else None
    lo, hi = 0, top  # smallest k in [lo, hi] with total(k + 1) >= total(k)
    while lo < hi:
        mid = (lo + hi) // 2
        if total(mid + 1) >= total(mid):
            hi = mid
        else:
            lo = mid + 1
    return sign * total(lo)


def _market(seed: int) -> list:
    """One book with a 0.01 lot and one to three v2 pools (0.05%, 0.3% or 1%), no leg costs: the
    shape of issue 20's example."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))  # the book and 1-3 pools
    venues: list = []
    for i in range(n):
        kind = "book" if i == 0 else "pool"
        price = 3000 * (1 + float(rng.normal(0, 0.001)))
        if kind == "pool":
            base = round(float(rng.uniform(30, 400)), 4)
            venues.append(
                PoolStub(
                    f"pool{i}",
                    str(base),
                    str(round(base * price, 2)),
                    fee_pips=int(rng.choice([500, 3000, 10000])),
                )
            )
        else:
            asks, bids, a, b = [], [], price * 1.0002, price * 0.9998
            for _ in range(20):
                asks.append((f"{a:.2f}", f"{float(rng.uniform(0.3, 6)):.2f}"))
                bids.append((f"{b:.2f}", f"{float(rng.uniform(0.3, 6)):.2f}"))
                a *= 1 + float(rng.uniform(0.00005, 0.0008))
                b *= 1 - float(rng.uniform(0.00005, 0.0008))
            venues.append(BookStub(f"book{i}", asks, bids, lot="0.01", fee_pips=1000))
    return venues


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    qty=st.decimals(min_value="0.5", max_value="60", places=3),
    side=st.sampled_from(["buy", "sell"]),
)
def test_plan_is_within_one_ppm_of_the_independent_optimum(
    seed: int, qty: Decimal, side: str
) -> None:
    venues = _market(seed)
    capacity = sum(
        float(sum(q for _, q in (v.asks if side == "buy" else v.bids)))
        if isinstance(v, BookStub)
        else v.x / 10**v.bd * (0.9 if side == "buy" else 10)
        for v in venues
    )
    if float(qty) > 0.8 * capacity:
        return
    plan = plan_route(venues, "ETH/USDC", side, qty)
    best = exact_optimum(venues, side, qty)
    if best is None:
        return  # no pool to take what the books' lots cannot: nothing exact fills it
    assert plan.complete and plan.qty == qty
    assert sum(leg.qty for leg in plan.legs) == qty
    exact = float(plan.quote_amount)
    if side == "buy":
        assert exact <= best * (1 + 1e-6), (exact, best, (exact / best - 1) * 1e6)
        assert exact >= best * (1 - 1e-8)  # nothing exact beats it (float reference)
    else:
        assert exact >= best * (1 - 1e-6), (exact, best, (1 - exact / best) * 1e6)
        assert exact <= best * (1 + 1e-8)


def test_book_leg_rounded_up_when_that_is_the_cheapest_completion() -> None:
    """The floored book leg leaves 0.0073 ETH; placing it on the 1% pool (what a first-fit repair
    does when that pool is first to take it) costs more than rounding the book up to 0.02 ETH and
    taking 0.0027 back from the 0.05% pool. The completion prices every shape exactly."""
    quotes = {
        ("book", Decimal("0.01")): Decimal("30.03"),
        ("book", Decimal("0.02")): Decimal("60.06"),
        ("cheap", Decimal("10")): Decimal("30010.00"),
        ("cheap", Decimal("9.9973")): Decimal("30001.90"),
        ("dear", Decimal("0.0073")): Decimal("22.12"),
        ("cheap", Decimal("10.0073")): Decimal("30031.95"),
    }

    def quote(name: str, qty: Decimal) -> LegQuote | None:
        amount = quotes.get((name, qty))
        return (
            None if amount is None else LegQuote(name, "buy", qty, amount, Decimal(0), Decimal(0))
        )

    legs = cheapest_completion(
        {"book": Decimal("0.01"), "cheap": Decimal("10")},
        Decimal("10.0173"),
        ["book", "cheap", "dear"],
        {"book": Decimal("0.01"), "cheap": Decimal("0.0001"), "dear": Decimal("0.0001")},
        quote,
        "buy",
    )
    assert legs is not None
    assert {n: leg.qty for n, leg in legs.items()} == {
        "book": Decimal("0.02"),
        "cheap": Decimal("9.9973"),
    }
    assert sum(leg.quote_amount for leg in legs.values()) == Decimal("30061.96")


def test_no_completion_when_no_venue_can_take_the_remainder() -> None:
    def quote(name: str, qty: Decimal) -> LegQuote | None:
        return LegQuote(name, "buy", qty, qty * 3000, Decimal(0), Decimal(0))

    assert (
        cheapest_completion(
            {"book": Decimal("1")},
            Decimal("1.005"),
            ["book"],
            {"book": Decimal("0.01")},
            quote,
            "buy",
        )
        is None
    )


def test_no_absorber_with_a_leg_nor_idle_returns_none_instead_of_recursing():
    """Neither the venue with a leg nor the idle one can take the rest on its grid: no completion
    (the idle fallback runs once; it used to call itself until RecursionError, a paper 500)."""
    grid = {"a": Decimal(1), "b": Decimal(1)}
    assert (
        cheapest_completion({"a": Decimal(1)}, Decimal("1.5"), ["a", "b"], grid, None, "buy")
        is None
    )
