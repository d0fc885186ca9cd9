"""Venue plug-ins: any class implementing the VenueAdapter protocol, named ``module:Class``.

The backtest config names a plug-in and its parameters::

    [[venues]]
    name = "otc"
    plugin = "router.backtest.examples.fixed_spread_venue:FixedSpreadVenue"
    params = { spread_bps = "5", max_qty = "20" }

The class is called as ``Class(name=..., symbol=..., **params)``. The instance must satisfy
``router.model.venue.VenueAdapter`` (name, symbol, leg_cost, base_quantum, min_qty, depth_curve, quote,
quote_for_quote, execute). Optionally it may define ``on_market(mid: Decimal, ts_ns: int)``: the
replay calls it whenever the reference mid changes, so a plug-in can follow the market.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from router.sim.errors import BacktestError

__all__ = ["REQUIRED", "load_plugin"]

REQUIRED = ("base_quantum", "min_qty", "depth_curve", "quote", "quote_for_quote", "execute")
_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def load_plugin(spec: Any, *, name: str, symbol: str, params: dict[str, Any] | None = None) -> Any:
    """Import ``module:Class`` and build the venue; raises BacktestError naming what is wrong."""
    for key, value in (("name", name), ("symbol", symbol)):
        if not isinstance(value, str) or not value:
            raise BacktestError(f"venues.{key}", value, "a non-empty string")
    if params is not None and (
        not isinstance(params, dict) or not all(isinstance(k, str) for k in params)
    ):
        raise BacktestError(f"venues.{name}.params", params, "a table of parameter = value")
    field = f"venues.{name}.plugin"
    if not isinstance(spec, str) or not _SPEC.match(spec):
        raise BacktestError(field, spec, "'package.module:ClassName'")
    module_name, class_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BacktestError(field, spec, f"an importable module ({exc})") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise BacktestError(field, spec, f"a class defined in {module_name}")
    try:
        venue = (
            cls(name=name, symbol=symbol, **(params or {}))
            if "name" in _params_of(cls)
            else cls(**(params or {}))
        )
    except TypeError as exc:
        raise BacktestError(
            f"venues.{name}.params", params, f"parameters {class_name} accepts ({exc})"
        ) from None
    missing = [m for m in REQUIRED if not callable(getattr(venue, m, None))]
    missing += [a for a in ("name", "symbol", "leg_cost") if not hasattr(venue, a)]
    if missing:
        raise BacktestError(field, spec, f"a VenueAdapter (missing: {', '.join(missing)})")
    if venue.name != name or venue.symbol != symbol:
        raise BacktestError(
            field, spec, f"a venue whose name and symbol are {name!r} and {symbol!r}"
        )
    return venue


def _params_of(cls: type) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return set()
