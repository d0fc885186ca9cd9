"""Tasks.settle: the replay loop moves on only when every strategy task waits or has ended."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.backtest.idle import Tasks


@given(st.lists(st.integers(0, 30), min_size=1, max_size=5))
def test_settle_returns_once_every_task_waits_on_the_clock(hops: list[int]) -> None:
    """Each task yields ``hops`` times (a chain of wake-ups, as the executor's TaskGroup makes),
    then waits on a future only the loop resolves: settle returns exactly then."""

    async def main() -> None:
        tasks, gates, reached = Tasks(), [], []

        async def strategy(index: int, n: int) -> None:
            for _ in range(n):
                await asyncio.sleep(0)
            reached.append(index)
            await gates[index]
            reached.append(-1 - index)

        for index, n in enumerate(hops):
            gates.append(asyncio.get_running_loop().create_future())
            tasks.spawn(strategy(index, n))
        await tasks.settle()
        assert sorted(reached) == list(range(len(hops)))
        assert tasks  # all waiting
        for gate in gates:
            gate.set_result(None)
        await tasks.settle()
        assert sorted(reached) == sorted(
            list(range(len(hops))) + [-1 - i for i in range(len(hops))]
        )
        assert not tasks

    asyncio.run(main())


def test_a_task_error_stops_the_loop_and_waiting_tasks_are_cancelled() -> None:
    async def main() -> None:
        tasks = Tasks()
        forever = asyncio.get_running_loop().create_future()

        async def waits() -> None:
            await forever

        async def fails() -> None:
            await asyncio.sleep(0)
            raise ValueError("strategy bug")

        tasks.spawn(waits())
        tasks.spawn(fails())
        with pytest.raises(ValueError, match="strategy bug"):
            await tasks.settle()
        assert await tasks.cancel_all() == 1
        assert not tasks

    asyncio.run(main())
