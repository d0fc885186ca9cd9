"""Routing across quote currencies and intermediate assets (docs/routing.md, "Multi-hop").

:func:`plan_multihop` plans "spend N of A for B" or "receive N of B for A" over every path of at
most ``max_hops`` hops of the asset graph: the convex split over paths solved in its dual with a
certified duality gap (:mod:`router.routing.flow`), then exact hops through the single-symbol
planner (:mod:`router.routing.multihop`).
"""

from router.routing.cache import RouteCache
from router.routing.graph import DEFAULT_MAX_HOPS, MAX_HOPS, AssetGraph
from router.routing.multihop import Hop, MultiHopPlan, PathPlan, plan_multihop

__all__ = [
    "DEFAULT_MAX_HOPS",
    "MAX_HOPS",
    "AssetGraph",
    "Hop",
    "MultiHopPlan",
    "PathPlan",
    "RouteCache",
    "plan_multihop",
]
