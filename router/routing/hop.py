"""The exact trades of a multi-hop plan: one venue trade (:class:`Hop`) and one asset path
(:class:`PathPlan`), shared by the planners of two-hop branches (:mod:`router.routing.multihop`)
and of three-hop graphs (:mod:`router.routing.dagplan`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["Hop", "PathPlan"]


@dataclass(frozen=True, slots=True)
class Hop:
    """One venue trade of a path: ``amount_in`` of ``src`` for ``amount_out`` of ``dst`` (exact,
    fees and leg cost in), at ``step`` (1-based) of its path; ``side``/``qty`` as the venue sees
    it (taker side on ``symbol``, base quantity)."""

    venue: str
    symbol: str
    side: str
    step: int
    src: str
    dst: str
    amount_in: Decimal
    amount_out: Decimal
    qty: Decimal
    # a three-hop plan's trade that two or more of its paths cross (listed under each)
    shared: bool = False


@dataclass(frozen=True, slots=True)
class PathPlan:
    """One asset path with its hops in execution order; step k's outputs sum to step k+1's inputs
    plus what the path leaves unconverted (``residual``, normally zero)."""

    assets: tuple[str, ...]
    hops: tuple[Hop, ...]
    amount_in: Decimal
    amount_out: Decimal
    residual: dict[str, Decimal] = field(default_factory=dict)
