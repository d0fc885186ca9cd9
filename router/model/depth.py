"""Unified depth model: every venue's liquidity for one taker side as a curve in float64.

A curve runs along cumulative base quantity q (whole units) and is a sequence of segments:

- ``FlatSegment(qty, price)``: ``qty`` base at a constant all-in marginal price (one book level,
  taker fee inside).
- ``HyperbolicSegment(qty, base_reserve, quote_reserve, fee)``: a constant-product piece with
  virtual reserves x (base) and y (quote) in whole units at the start of the piece and the fee f
  as a fraction of the input; ``qty`` is the base length of the piece (a whole v2 pool, or one
  initialised-tick range of a v3 pool). With g = 1 - f and q measured from the segment start:

  ============  ===============================  ==============================  ===============================
  side          cost(q)                          marginal price p(q)             inverse q(λ)
  ============  ===============================  ==============================  ===============================
  buy           y·q / ((x - q)·g)                x·y / ((x - q)²·g)              x - sqrt(x·y / (g·λ))
  sell          y·q·g / (x + q·g)                x·y·g / (x + q·g)²              (sqrt(x·y·g / λ) - x) / g
  ============  ===============================  ==============================  ===============================

  (buy: the taker pays quote in and the fee is on that quote; sell: the taker pays base in and
  the fee is on that base.) With u = 1/sqrt(λ) and r = sqrt(x·y/g) both inverses are affine in
  u (buy q = x - r·u, sell q = r·u - x/g) and both costs are affine in sqrt(λ) (buy
  cost = r·sqrt(λ) - y/g, sell proceeds = y - r·sqrt(λ)); :mod:`router.split` relies on that.

``side`` is the taker's: for ``"buy"`` cost(q) is the quote paid and marginal prices rise along
the curve; for ``"sell"`` cost(q) is the quote received and marginal prices fall.
The fixed per-leg cost (quote), the base lot and the minimum size ride along with the curve;
``max_qty`` caps the base the venue may take (``inf`` = no cap).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.model.errors import RouteError
from venues.errors import InvalidValue

# numpy 2.2 (what the bench extra's hftbacktest pins) wants ndarray's type argument spelled out
Array = NDArray[Any]

__all__ = [
    "DepthCurve",
    "FlatSegment",
    "HyperbolicSegment",
    "InvalidRouteArgument",
    "Segment",
    "check_number",
    "check_side",
]

# Adjacent segments of a real venue meet at the same price; float conversions in the adapters
# may leave them a hair apart. Beyond this relative gap the curve is not convex: refused.
_MONOTONE_RTOL = 1e-9


class InvalidRouteArgument(InvalidValue, RouteError):
    """A routing input (curve, size, limit, cap) is invalid; names the field, value and what is allowed."""


def check_side(side: Any, field: str = "side") -> str:
    """Return ``side`` if it is ``"buy"`` or ``"sell"``, else raise :class:`InvalidRouteArgument`."""
    if side not in ("buy", "sell") or not isinstance(side, str):
        raise InvalidRouteArgument(field, side, "'buy' or 'sell'")
    return side


def check_number(
    field: str, value: Any, *, minimum: float = 0.0, strict: bool = False, allow_inf: bool = False
) -> float:
    """Return ``value`` as a float if it is a finite real >= ``minimum`` (> if ``strict``), else raise.

    ``bool`` and strings are refused: neither is ever a quantity.
    """
    kind = "> " if strict else ">= "
    allowed = f"a finite number {kind}{minimum}" + (" or inf" if allow_inf else "")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InvalidRouteArgument(field, value, allowed)
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not (allow_inf and number > 0)):
        raise InvalidRouteArgument(field, value, allowed)
    if number < minimum or (strict and number == minimum):
        raise InvalidRouteArgument(field, value, allowed)
    return number


@dataclass(frozen=True, slots=True)
class FlatSegment:
    """``qty`` base (>= 0) at one all-in marginal ``price`` (> 0, quote per base). cost(q) = price·q."""

    qty: float
    price: float

    def __post_init__(self) -> None:
        check_number("qty", self.qty)
        check_number("price", self.price, strict=True)

    def cost(self, q: float, side: str = "buy") -> float:
        """Quote paid (buy) or received (sell) for the first ``q`` base of the segment. O(1)."""
        return self.price * q

    def marginal_price(self, q: float, side: str = "buy") -> float:
        """All-in price of the next unit after ``q`` base. O(1)."""
        return self.price

    def qty_at_price(self, price: float, side: str = "buy") -> float:
        """Base available at marginal price ``price`` or better: all of it or nothing. O(1)."""
        better = self.price <= price if side == "buy" else self.price >= price
        return self.qty if better else 0.0


@dataclass(frozen=True, slots=True)
class HyperbolicSegment:
    """A constant-product piece: virtual reserves x = ``base_reserve``, y = ``quote_reserve`` at the
    start, fee f = ``fee`` of the input, ``qty`` base long (buy: qty < x). Formulas: module docstring."""

    qty: float
    base_reserve: float
    quote_reserve: float
    fee: float

    def __post_init__(self) -> None:
        check_number("qty", self.qty)
        check_number("base_reserve", self.base_reserve, strict=True)
        check_number("quote_reserve", self.quote_reserve, strict=True)
        fee = check_number("fee", self.fee)
        if fee >= 1.0:
            raise InvalidRouteArgument("fee", self.fee, "a fraction in [0, 1)")

    def cost(self, q: float, side: str = "buy") -> float:
        """Buy: quote paid y·q/((x-q)·g); sell: quote received y·q·g/(x+q·g). O(1)."""
        x, y, g = self.base_reserve, self.quote_reserve, 1.0 - self.fee
        if side == "buy":
            return y * q / ((x - q) * g)
        return y * q * g / (x + q * g)

    def marginal_price(self, q: float, side: str = "buy") -> float:
        """Buy: x·y/((x-q)²·g); sell: x·y·g/(x+q·g)². O(1)."""
        x, y, g = self.base_reserve, self.quote_reserve, 1.0 - self.fee
        if side == "buy":
            return x * y / ((x - q) ** 2 * g)
        return x * y * g / (x + q * g) ** 2

    def qty_at_price(self, price: float, side: str = "buy") -> float:
        """Base available up to marginal ``price`` (buy) / down to it (sell), clamped to [0, qty]. O(1)."""
        x, y, g = self.base_reserve, self.quote_reserve, 1.0 - self.fee
        if side == "buy":
            q = x - math.sqrt(x * y / (g * price))
        else:
            q = (math.sqrt(x * y * g / price) - x) / g
        return min(max(q, 0.0), self.qty)


Segment = FlatSegment | HyperbolicSegment


@dataclass(frozen=True, slots=True)
class DepthCurve:
    """One venue's liquidity for one taker side: segments along cumulative base, best price first.

    ``fixed_cost`` is the quote paid whenever the venue is used (never inside cost()); ``lot`` the
    base quantum (informational for the float model); ``min_qty`` the smallest non-zero leg;
    ``max_qty`` a cap on the base the venue may take. Segment start offsets, cumulative costs and
    boundary prices are precomputed once (numpy arrays and lists), so cost(q), marginal_price(q)
    and qty_at_price(λ) are O(log n) in the number of segments.
    """

    venue: str
    side: str
    segments: tuple[Segment, ...]
    fixed_cost: float = 0.0
    lot: float = 0.0
    min_qty: float = 0.0
    max_qty: float = math.inf
    _arrays: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.venue, str) or not self.venue:
            raise InvalidRouteArgument("venue", self.venue, "a non-empty string")
        check_side(self.side)
        check_number("fixed_cost", self.fixed_cost)
        check_number("lot", self.lot)
        check_number("min_qty", self.min_qty)
        check_number("max_qty", self.max_qty, allow_inf=True)
        if not isinstance(self.segments, (tuple, list)):
            raise InvalidRouteArgument(
                "segments", self.segments, "a tuple of FlatSegment/HyperbolicSegment"
            )
        segments = tuple(self.segments)
        for i, seg in enumerate(segments):
            if not isinstance(seg, (FlatSegment, HyperbolicSegment)):
                raise InvalidRouteArgument(
                    f"segments[{i}]", seg, "a FlatSegment or HyperbolicSegment"
                )
            if (
                isinstance(seg, HyperbolicSegment)
                and self.side == "buy"
                and seg.qty >= seg.base_reserve
            ):
                raise InvalidRouteArgument(
                    f"segments[{i}].qty",
                    seg.qty,
                    f"< base_reserve {seg.base_reserve} on a buy curve",
                )
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "_arrays", _build_arrays(self.venue, self.side, segments))

    @property
    def terms(self) -> Array:
        """The water-fill terms of every non-empty segment (:func:`segment_terms`, rows
        :data:`TERM_ROWS`), precomputed: what aggregates of several curves are built from."""
        terms: Array = self._arrays["terms"]
        return terms

    # -- curve-level closed forms --

    @property
    def total_qty(self) -> float:
        """Base the curve can take in full: min(Σ segment qty, max_qty). O(1)."""
        return min(float(self._arrays["total"]), self.max_qty)

    def cost(self, qty: float) -> float:
        """Quote paid (buy) / received (sell) for the first ``qty`` base, fees in, fixed cost out.

        ``qty`` in [0, total_qty]. O(log n): bisect the segment start offsets, then one closed form.
        """
        return self.cost_within(self._check_qty(qty))

    def cost_within(self, q: float) -> float:
        """:meth:`cost` of a ``q`` the caller already holds in [0, total_qty] as a float: no
        argument check (a bisection's inner loop calls it ~60 times per search; the same value
        as :meth:`cost`, which checks and then calls this). O(log n)."""
        a = self._arrays
        if q == 0.0 or a["n"] == 0:
            return 0.0
        k = min(bisect_right(a["start_list"], q) - 1, a["n"] - 1)
        return float(a["cum_cost_list"][k] + a["segs"][k].cost(q - a["start_list"][k], self.side))

    def marginal_price(self, qty: float) -> float:
        """All-in price of the next unit after ``qty`` base (at total_qty: of the last unit). O(log n).

        Raises :class:`InvalidRouteArgument` on an empty curve.
        """
        q = self._check_qty(qty)
        a = self._arrays
        if a["n"] == 0:
            raise InvalidRouteArgument("segments", (), "a curve with liquidity for marginal_price")
        k = min(bisect_right(a["start_list"], q) - 1, a["n"] - 1)
        seg = a["segs"][k]
        return float(seg.marginal_price(min(q - a["start_list"][k], seg.qty), self.side))

    def qty_at_price(self, price: float) -> float:
        """Base available at all-in marginal ``price`` or better (flat levels at exactly ``price``
        included), capped by max_qty. O(log n): bisect the segment end prices, one inverse."""
        lam = check_number("price", price, strict=True, allow_inf=True)
        a = self._arrays
        if a["n"] == 0:
            return 0.0
        key = lam if self.side == "buy" else -lam
        k = bisect_right(a["end_key_list"], key)  # segments 0..k-1 are fully within the price
        q = a["end_list"][k - 1] if k else 0.0
        if k < a["n"]:
            q += (
                a["segs"][k].qty_at_price(lam, self.side)
                if math.isfinite(lam)
                else a["segs"][k].qty
            )
        return min(q, self.total_qty)

    def _check(self) -> None:
        """Assert the precomputed arrays agree with the segments (offsets, costs, price order)."""
        a = self._arrays
        segs = [s for s in self.segments if s.qty > 0.0]
        assert a["n"] == len(segs)
        assert math.isclose(
            a["total"], math.fsum(s.qty for s in segs), rel_tol=1e-12, abs_tol=1e-300
        )
        starts, ends, keys = a["start_list"], a["end_list"], a["end_key_list"]
        for k in range(a["n"]):
            assert starts[k] < ends[k]
            assert k == 0 or starts[k] == ends[k - 1]
            assert k == 0 or keys[k] >= keys[k - 1]
            assert a["cum_cost_list"][k + 1] >= a["cum_cost_list"][k]
        assert a["matrix"].shape == (9, a["n"])

    def _check_qty(self, qty: float) -> float:
        q = check_number("qty", qty)
        total = self.total_qty
        # a relative hair above the total is float noise of the caller's sums, not a real ask
        if q > total * (1 + 1e-12) + 1e-300:
            raise InvalidRouteArgument(
                "qty", qty, f"a number in [0, {total!r}] (the curve's total)"
            )
        return min(q, total)


def _build_arrays(venue: str, side: str, segments: tuple[Segment, ...]) -> dict[str, Any]:
    """Precompute per-segment arrays (zero-length segments dropped) for bisection and the split."""
    segs = [s for s in segments if s.qty > 0.0]
    n = len(segs)
    qty = np.array([s.qty for s in segs], dtype=np.float64)
    end = np.cumsum(qty)
    start = np.concatenate(([0.0], end[:-1]))  # exactly the previous end: bisection relies on it
    is_hyp = np.array([isinstance(s, HyperbolicSegment) for s in segs], dtype=bool)
    hyp = [s for s in segs if isinstance(s, HyperbolicSegment)]
    x, y, g, flat_price = (np.zeros(n), np.zeros(n), np.ones(n), np.zeros(n))
    if hyp:
        x[is_hyp] = [s.base_reserve for s in hyp]
        y[is_hyp] = [s.quote_reserve for s in hyp]
        g[is_hyp] = [1.0 - s.fee for s in hyp]
    flats = [s.price for s in segs if isinstance(s, FlatSegment)]
    if flats:
        flat_price[~is_hyp] = flats
    start_price = np.array([s.marginal_price(0.0, side) for s in segs], dtype=np.float64)
    end_price = np.array([s.marginal_price(s.qty, side) for s in segs], dtype=np.float64)
    seg_cost = np.array([s.cost(s.qty, side) for s in segs], dtype=np.float64)
    if not np.all(np.isfinite(seg_cost)) or not np.all(np.isfinite(end_price)):
        raise InvalidRouteArgument("segments", segments, "segments with finite cost and price")
    sign = 1.0 if side == "buy" else -1.0
    start_key, end_key = sign * start_price, sign * end_price
    # convexity: every segment starts no better than the previous one ended (buy: price rises)
    if n > 1:
        gap = start_key[1:] - end_key[:-1]
        bad = np.flatnonzero(gap < -_MONOTONE_RTOL * np.abs(end_key[:-1]))
        if bad.size:
            i = int(bad[0]) + 1
            raise InvalidRouteArgument(
                f"segments[{i}]",
                segs[i],
                f"marginal prices {'non-decreasing' if side == 'buy' else 'non-increasing'} along "
                f"the curve (previous segment ends at {end_price[i - 1]!r})",
            )
    # float noise at joints must not make the sweep non-monotone: take the running best
    end_key = np.maximum.accumulate(end_key) if n else end_key
    cum_cost = np.concatenate(([0.0], np.cumsum(seg_cost)))
    r = np.where(is_hyp, np.sqrt(np.where(is_hyp, x * y / g, 0.0)), 0.0)
    return {
        "n": n,
        "segs": segs,
        "total": float(end[-1]) if n else 0.0,
        "start_list": start.tolist(),
        "end_list": end.tolist(),
        "end_key_list": end_key.tolist(),
        "cum_cost_list": cum_cost.tolist(),
        # rows for the vectorised split: start, end, is_hyp, x, y, g, flat price, r, start key
        "matrix": np.vstack(
            [start, end, is_hyp.astype(np.float64), x, y, g, flat_price, r, start_key]
        )
        if n
        else np.zeros((9, 0)),
        "terms": segment_terms(side, is_hyp, x, y, g, flat_price, r, np.zeros(n), qty),
    }


# rows of segment_terms()
TERM_ROWS = ("k0", "k1", "qty", "cost", "a", "b", "alpha", "beta", "hyp", "price")


def segment_terms(
    side: str,
    is_hyp: Array,
    x: Array,
    y: Array,
    g: Array,
    price: Array,
    r: Array,
    d0: Array,
    d1: Array,
) -> Array:
    """The water-fill terms of segment pieces [d0, d1] (offsets from each segment's start).

    Rows (:data:`TERM_ROWS`): sort keys k0/k1 of the marginal price at d0/d1 (buy: λ, sell: -λ),
    base length, cost of the piece, and the affine forms of a hyperbolic piece, relative to d0:
    q(u) = a + b·u with u = 1/sqrt(λ), cost(v) = alpha + beta·v with v = sqrt(λ)
    (buy: a = x - d0, b = -r, alpha = -y/g - c(d0), beta = r;
    sell: a = -x/g - d0, b = r, alpha = y - c(d0), beta = -r; r = sqrt(x·y/g)); flat pieces
    have zero affine terms. O(n) vectorised.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        # flat rows may divide by zero inside np.where's unused branch; they are masked out
        return _segment_terms(side, is_hyp, x, y, g, price, r, d0, d1)


def _segment_terms(
    side: str,
    is_hyp: Array,
    x: Array,
    y: Array,
    g: Array,
    price: Array,
    r: Array,
    d0: Array,
    d1: Array,
) -> Array:
    xs = np.where(is_hyp, x, 1.0)
    if side == "buy":
        p0 = np.where(is_hyp, xs * y / ((xs - d0) ** 2 * g), price)
        p1 = np.where(is_hyp, xs * y / ((xs - d1) ** 2 * g), price)
        c0 = np.where(is_hyp, y * d0 / ((xs - d0) * g), price * d0)
        c1 = np.where(is_hyp, y * d1 / ((xs - d1) * g), price * d1)
        a = np.where(is_hyp, xs - d0, 0.0)
        b = np.where(is_hyp, -r, 0.0)
        alpha = np.where(is_hyp, -y / g - c0, 0.0)
        beta = np.where(is_hyp, r, 0.0)
        k0, k1 = p0, p1
    else:
        p0 = np.where(is_hyp, xs * y * g / (xs + d0 * g) ** 2, price)
        p1 = np.where(is_hyp, xs * y * g / (xs + d1 * g) ** 2, price)
        c0 = np.where(is_hyp, y * d0 * g / (xs + d0 * g), price * d0)
        c1 = np.where(is_hyp, y * d1 * g / (xs + d1 * g), price * d1)
        a = np.where(is_hyp, -xs / g - d0, 0.0)
        b = np.where(is_hyp, r, 0.0)
        alpha = np.where(is_hyp, y - c0, 0.0)
        beta = np.where(is_hyp, -r, 0.0)
        k0, k1 = -p0, -p1
    k1 = np.maximum(k1, k0)  # float noise must not put a piece's end before its start
    return np.vstack(
        [k0, k1, d1 - d0, c1 - c0, a, b, alpha, beta, is_hyp.astype(np.float64), price]
    )
