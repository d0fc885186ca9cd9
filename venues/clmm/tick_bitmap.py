"""TickBitmap of Uniswap v3-core: one bit per initialised compressed tick, 256 ticks per word.

The swap loop steps at most one word at a time (``next_initialized_tick_within_one_word``); each
step rounds separately, so the word boundaries are part of the exact result, not an optimisation.
"""

from __future__ import annotations

from venues.errors import VenueError


def position(compressed_tick: int) -> tuple[int, int]:
    """(word_pos, bit_pos) of a compressed tick: floor division by 256 and the remainder. O(1)."""
    return compressed_tick >> 8, compressed_tick & 0xFF


def flip_tick(words: dict[int, int], tick: int, tick_spacing: int) -> None:
    """Toggle the bit of ``tick`` in ``words`` (mutated in place; empty words are dropped).

    Raises VenueError "TS" if tick is not a multiple of tick_spacing (upstream: a bare require).
    Complexity: O(1).
    """
    if tick % tick_spacing != 0:
        raise VenueError(
            "TS",
            f"tick={tick} is not a multiple of tick_spacing={tick_spacing}",
            tick=tick,
            tick_spacing=tick_spacing,
        )
    word_pos, bit_pos = position(tick // tick_spacing)
    word = words.get(word_pos, 0) ^ (1 << bit_pos)
    if word:
        words[word_pos] = word
    else:
        words.pop(word_pos, None)


def next_initialized_tick_within_one_word(
    words: dict[int, int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """Next initialised tick at or left of ``tick`` (lte) or right of it, within one bitmap word.

    Returns (tick_next, initialized); if no bit is set the word's edge is returned with
    initialized False. The result is not clamped to [MIN_TICK, MAX_TICK] (the caller does that).
    Complexity: O(1) bigint bit operations.
    """
    compressed = tick // tick_spacing  # floor, as upstream's "round towards negative infinity"
    # position() inlined (word = compressed >> 8, bit = compressed & 0xFF): this runs once per
    # swap step.
    if lte:
        bit_pos = compressed & 0xFF
        masked = words.get(compressed >> 8, 0) & ((2 << bit_pos) - 1)
        if masked:
            # Most significant set bit at or below bit_pos: the nearest initialised tick.
            return (compressed - bit_pos + masked.bit_length() - 1) * tick_spacing, True
        return (compressed - bit_pos) * tick_spacing, False
    compressed += 1
    bit_pos = compressed & 0xFF
    masked = words.get(compressed >> 8, 0) >> bit_pos
    if masked:
        # Least significant set bit at or above bit_pos: x & -x isolates it.
        return (compressed + (masked & -masked).bit_length() - 1) * tick_spacing, True
    return (compressed + 255 - bit_pos) * tick_spacing, False
