"""Queue models: where the recorded cancellations at a price level happen relative to our order.

A replayed book only shows the size of each level. When a level where we rest shrinks by
``cancelled`` lots without a trade, some of those lots were ahead of us (we move forward) and some
behind. A queue model answers how many were ahead:

- :class:`RiskAverseQueue` (``"risk_averse"``, the default): none while anything is behind us; a
  cancellation never moves us forward.
- :class:`ProbQueue` (``"power"`` with ``n``, ``"log"``): hftbacktest's probabilistic models
  (``PowerProbQueueModel`` / ``LogProbQueueModel``). With ``ahead`` lots before us and ``behind``
  after, the share of a cancellation taken from ahead is ``f(ahead) / (f(ahead) + f(behind))``,
  ``f(x) = x ** n`` or ``log(1 + x)``: the longer the queue ahead relative to behind, the more of a
  cancellation happens there. The expected value is used (deterministic), floored to whole lots.
- any ``module:Class`` with a method ``ahead_lots(ahead, behind, cancelled) -> int``.

Whatever the model says is clamped to what is possible: at least ``cancelled - behind`` (the lots
behind us cannot cover it all), at most ``min(ahead, cancelled)``.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Protocol

from router.sim.errors import BacktestError

__all__ = [
    "QUEUE_MODELS",
    "ProbQueue",
    "QueueModel",
    "RiskAverseQueue",
    "build_queue_model",
    "cancelled_ahead",
]

QUEUE_MODELS = ("risk_averse", "power", "log")


class QueueModel(Protocol):
    def ahead_lots(self, ahead: int, behind: int, cancelled: int) -> int: ...


class RiskAverseQueue:
    """Cancellations come from behind us first: our queue position only improves by trades."""

    def ahead_lots(self, ahead: int, behind: int, cancelled: int) -> int:
        return 0


class ProbQueue:
    """hftbacktest's probabilistic queue position: ``f(x) = x ** n`` (``power``) or ``log(1 + x)``."""

    def __init__(self, kind: str = "power", n: int = 2) -> None:
        if kind not in ("power", "log"):
            raise BacktestError("backtest.queue_model", kind, "'power' or 'log'")
        if type(n) is not int or not 1 <= n <= 10:
            raise BacktestError("backtest.queue_params.n", n, "an integer in [1, 10]")
        self.kind = kind
        self.n = n

    def _f(self, x: int) -> float:
        return math.log1p(x) if self.kind == "log" else float(x) ** self.n

    def ahead_lots(self, ahead: int, behind: int, cancelled: int) -> int:
        front, back = self._f(ahead), self._f(behind)
        if front + back <= 0:
            return 0
        return math.floor(cancelled * front / (front + back))


def cancelled_ahead(model: QueueModel, ahead: int, behind: int, cancelled: int) -> int:
    """``model``'s answer clamped to what is possible (module docstring). O(1)."""
    want = model.ahead_lots(ahead, behind, cancelled)
    if type(want) is not int:
        raise BacktestError("queue model", want, "ahead_lots returning an int")
    return max(cancelled - behind, 0, min(want, ahead, cancelled))


def build_queue_model(name: Any, params: Any) -> QueueModel:
    """``risk_averse`` | ``power`` (params ``n``) | ``log`` | ``module:Class`` built with ``params``."""
    where = "backtest.queue_model"
    if not isinstance(params, dict):
        raise BacktestError("backtest.queue_params", params, "a table of model parameters")
    if name == "risk_averse":
        if params:
            raise BacktestError("backtest.queue_params", params, "no parameters for 'risk_averse'")
        return RiskAverseQueue()
    if name in ("power", "log"):
        extra = set(params) - ({"n"} if name == "power" else set())
        if extra:
            key = sorted(extra)[0]
            raise BacktestError(f"backtest.queue_params.{key}", params[key], "'n' for 'power' only")
        return ProbQueue(name, params.get("n", 2))
    if not isinstance(name, str) or name.count(":") != 1:
        raise BacktestError(where, name, "'risk_averse', 'power', 'log' or 'module:Class'")
    module_name, _, class_name = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name, None)
    except ImportError as exc:
        raise BacktestError(where, name, f"an importable module:Class ({exc})") from None
    if not isinstance(cls, type) or not callable(getattr(cls, "ahead_lots", None)):
        raise BacktestError(where, name, "a class with ahead_lots(ahead, behind, cancelled)")
    try:
        return cls(**params)
    except TypeError as exc:
        raise BacktestError(
            "backtest.queue_params", params, f"the parameters of {class_name} ({exc})"
        ) from None
