"""The strategy's own coroutines, run to their next wait on the simulated clock before it moves.

A multi-leg order runs through the executor, a coroutine that waits on the simulated clock (an
order reaching its venue, its acknowledgement coming back: :mod:`router.backtest.latent`). The
replay loop must not move the clock while any such coroutine can still run, or a decision due now
would be taken later, on a later state. So each one runs as a task, and after every internal event
the loop calls :meth:`Tasks.settle`, which yields to the event loop until nothing but the replay
itself is ready to run. Everything stays deterministic: there is no I/O and no wall-clock wait,
and asyncio runs ready callbacks first in, first out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["Tasks"]


def _others_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """True while another callback (a task step, a future's wake-up) waits to run in ``loop``.

    asyncio has no public "is the loop idle" question; its ready queue is the answer, so this reads
    it (``_ready``, the same deque in CPython 3.11-3.13) and says so loudly if a loop has none."""
    ready = getattr(loop, "_ready", None)
    if ready is None:
        raise RuntimeError(
            f"the backtest needs asyncio's own event loop (its ready queue); got {type(loop)}"
        )
    return bool(ready)


class Tasks:
    """The strategy's coroutines in flight, in the order they were started."""

    def __init__(self) -> None:
        self._live: list[asyncio.Task] = []

    def __bool__(self) -> bool:
        return bool(self._live)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Start ``coroutine`` as a task; it runs at the next :meth:`settle`."""
        self._live.append(asyncio.get_running_loop().create_task(coroutine))

    async def settle(self) -> None:
        """Run every task until it waits on the simulated clock or ends; re-raise the first error
        a task ended with (a strategy's error stops the run, as if it had been called inline)."""
        loop = asyncio.get_running_loop()
        while self._live:
            self._reap()
            if not self._live or not _others_ready(loop):
                return
            await asyncio.sleep(0)

    def _reap(self) -> None:
        done = [task for task in self._live if task.done()]
        if not done:
            return
        self._live = [task for task in self._live if not task.done()]
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def cancel_all(self) -> int:
        """Cancel the tasks still waiting (the data ended first); returns how many there were."""
        waiting = [task for task in self._live if not task.done()]
        for task in waiting:
            task.cancel()
        for task in waiting:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._reap()
        self._live = []
        return len(waiting)
