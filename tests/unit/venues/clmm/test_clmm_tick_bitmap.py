"""TickBitmap word stepping against a brute-force search over a plain set of ticks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.clmm.tick_bitmap import flip_tick, next_initialized_tick_within_one_word
from venues.errors import VenueError


def _brute(ticks: set[int], tick: int, spacing: int, lte: bool) -> tuple[int, bool]:
    compressed = tick // spacing
    if lte:
        word_start = (compressed >> 8) << 8
        for c in range(compressed, word_start - 1, -1):
            if c * spacing in ticks:
                return c * spacing, True
        return word_start * spacing, False
    start = compressed + 1
    word_end = ((start >> 8) << 8) + 255
    for c in range(start, word_end + 1):
        if c * spacing in ticks:
            return c * spacing, True
    return word_end * spacing, False


@given(
    st.sampled_from([1, 10, 60, 200]),
    st.sets(st.integers(-3000, 3000), max_size=30),
    st.integers(-3500 * 200, 3500 * 200),
    st.booleans(),
)
@settings(max_examples=300)
def test_next_initialized_tick_matches_brute_force(spacing, compressed_ticks, tick, lte) -> None:
    words: dict[int, int] = {}
    ticks = {c * spacing for c in compressed_ticks}
    for t in ticks:
        flip_tick(words, t, spacing)
    assert next_initialized_tick_within_one_word(words, tick, spacing, lte) == _brute(
        ticks, tick, spacing, lte
    )


def test_flip_twice_clears_the_word_and_off_grid_tick_raises() -> None:
    words: dict[int, int] = {}
    flip_tick(words, -230, 10)
    assert words == {-1: 1 << 233}
    flip_tick(words, -230, 10)
    assert words == {}
    with pytest.raises(VenueError) as raised:
        flip_tick(words, 5, 10)
    assert raised.value.code == "TS"
    assert words == {}


def test_upstream_examples_word_edges() -> None:
    # TickBitmap.spec.ts: initialised ticks -200, -55, -4, 70, 78, 84, 139, 240, 535 (spacing 1).
    words: dict[int, int] = {}
    for t in (-200, -55, -4, 70, 78, 84, 139, 240, 535):
        flip_tick(words, t, 1)
    nxt = next_initialized_tick_within_one_word
    assert nxt(words, 78, 1, False) == (84, True)
    assert nxt(words, -55, 1, False) == (-4, True)
    assert nxt(words, 77, 1, False) == (78, True)
    assert nxt(words, 255, 1, False) == (511, False)
    assert nxt(words, 383, 1, False) == (511, False)
    assert nxt(words, 78, 1, True) == (78, True)
    assert nxt(words, 79, 1, True) == (78, True)
    assert nxt(words, 258, 1, True) == (256, False)
    assert nxt(words, 256, 1, True) == (256, False)
    assert nxt(words, -257, 1, True) == (-512, False)
    assert nxt(words, 1023, 1, True) == (768, False)
