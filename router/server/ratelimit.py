"""Per-key request-weight limits in fixed windows, as Binance counts them.

Each request has a weight (a depth read of 5000 levels weighs more than a ping); a key (an API key
or, for public requests, the client address) may spend ``weight_per_window`` per window of
``window_ms``. Windows are aligned to multiples of ``window_ms`` like Binance's minute buckets.
A request that would exceed the limit is refused with -1003 / HTTP 429 and a ``Retry-After`` of
the whole seconds until the window ends, and is *not* counted, so a refused client is not locked
out for longer than the window.
"""

from __future__ import annotations

from collections.abc import Callable

from router.server.errors import TOO_MANY_REQUESTS, BinanceError
from venues.errors import require_int


class RateLimiter:
    """Fixed-window weight counter per key. Memory: one entry per key seen in the current window."""

    def __init__(
        self,
        weight_per_window: int,
        window_ms: int,
        *,
        clock_ms: Callable[[], int],
        code: int = TOO_MANY_REQUESTS,
        label: str = "request weight",
    ) -> None:
        self.weight_per_window = require_int("weight_per_window", weight_per_window, minimum=1)
        self.window_ms = require_int("window_ms", window_ms, minimum=1)
        self._clock_ms = clock_ms
        self._code = code
        self._label = label
        self._window_start_ms = 0
        self._used: dict[str, int] = {}

    def used(self, key: str) -> int:
        """Weight ``key`` has spent in the current window. O(1)."""
        self._roll()
        return self._used.get(key, 0)

    def charge(self, key: str, weight: int) -> int:
        """Spend ``weight`` for ``key``; returns the weight used in this window after the charge.

        Raises BinanceError (HTTP 429, ``retry_after_s`` set) and counts nothing when the charge
        would pass the limit. O(1) amortised.
        """
        require_int("weight", weight, minimum=0)
        self._roll()
        used = self._used.get(key, 0) + weight
        if used > self.weight_per_window:
            now_ms = self._clock_ms()
            left_ms = self._window_start_ms + self.window_ms - now_ms
            retry_after_s = max(1, -(-left_ms // 1000))
            raise BinanceError(
                self._code,
                f"Too much {self._label} used; current limit is {self.weight_per_window} "
                f"per {self.window_ms} ms. Retry after {retry_after_s} s.",
                http_status=429,
                retry_after_s=retry_after_s,
                used=used - weight,
                weight=weight,
                limit=self.weight_per_window,
            )
        self._used[key] = used
        return used

    def _roll(self) -> None:
        now_ms = self._clock_ms()
        start_ms = now_ms - now_ms % self.window_ms
        if start_ms != self._window_start_ms:
            self._window_start_ms = start_ms
            self._used.clear()

    def _check(self) -> None:
        assert all(0 < used <= self.weight_per_window for used in self._used.values())
