"""Unified depth model: every venue's liquidity for one taker side as a curve in float64.

A curve runs along cumulative base quantity q (whole units) and is a sequence of segments:

- ``FlatSegment(qty, price)``: ``qty`` base at a constant all-in marginal price (one book level,
  taker fee inside).
- ``HyperbolicSegment(qty, base_reserve, quote_reserve, fee)``: a constant-product piece with
  virtual reserves (whole units) at the start of the piece and the fee as a fraction of the
  input; ``qty`` is the base length of the piece (a whole v2 pool, or one initialised-tick range
  of a v3 pool).

``side`` is the taker's: for ``"buy"`` cost(q) is the quote paid and marginal prices rise along
the curve; for ``"sell"`` cost(q) is the quote received and marginal prices fall.
The fixed per-leg cost, the base lot and the minimum size ride along with the curve.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlatSegment:
    qty: float
    price: float


@dataclass(frozen=True, slots=True)
class HyperbolicSegment:
    qty: float
    base_reserve: float
    quote_reserve: float
    fee: float


Segment = FlatSegment | HyperbolicSegment


@dataclass(frozen=True, slots=True)
class DepthCurve:
    venue: str
    side: str
    segments: tuple[Segment, ...]
    fixed_cost: float = 0.0
    lot: float = 0.0
    min_qty: float = 0.0
