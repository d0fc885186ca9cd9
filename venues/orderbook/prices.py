"""The sorted set of a book side's price levels: a bitmap of 256-tick words.

Why not a ``SortedList`` of prices: a busy book creates and empties a level at the touch on most
marketable orders and many adds, and a ``SortedList`` insert or delete is a Python-level call of
about a microsecond. Here a price is one bit: adding or removing it is a dict read and an
integer ``|`` or ``&``, and the lowest or highest price of a word is one ``bit_length``. Only
the words (``price >> 8``) are kept sorted, in a ``SortedList`` that changes when a word gains
its first level or loses its last one, which on a book whose prices cluster near the touch is
rare. Uniswap v3's tick bitmap is the same idea.

Complexity, with W non-empty words: add and remove O(1), O(log W) when a word appears or
empties; min and max O(1); ordered iteration O(1) per price plus O(1) per word.
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedList

__all__ = ["PriceSet"]

_SHIFT = 8  # 256 prices per word
_LOW = (1 << _SHIFT) - 1


class PriceSet:
    """A set of non-negative int prices kept in order, with O(1) add, remove, min and max."""

    __slots__ = ("_count", "_high", "_keys", "_low", "_words")

    def __init__(self) -> None:
        self._words: dict[int, int] = {}  # word -> bitmap of the prices it holds (never 0)
        self._keys = SortedList()  # the words, ascending
        # The lowest and highest words (-1 when empty), cached: min and max are asked after every
        # emptied best level, and reading a SortedList end is a Python-level call.
        self._low = self._high = -1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __contains__(self, price: int) -> bool:
        return bool(self._words.get(price >> _SHIFT, 0) >> (price & _LOW) & 1)

    def __iter__(self) -> Iterator[int]:
        """The prices, ascending."""
        return self.irange()

    def __repr__(self) -> str:
        return f"PriceSet({list(self)!r})"

    def add(self, price: int) -> None:
        """Add ``price`` (not already in the set)."""
        word = price >> _SHIFT
        bits = self._words.get(word, 0)
        if not bits:
            self._keys.add(word)
            if word < self._low or self._low < 0:
                self._low = word
            if word > self._high:
                self._high = word
        self._words[word] = bits | 1 << (price & _LOW)
        self._count += 1

    def remove(self, price: int) -> None:
        """Remove ``price`` (in the set)."""
        word = price >> _SHIFT
        bits = self._words[word] & ~(1 << (price & _LOW))
        if bits:
            self._words[word] = bits
        else:
            del self._words[word]
            keys = self._keys
            keys.remove(word)
            if word == self._low:
                self._low = keys[0] if keys else -1
            if word == self._high:
                self._high = keys[-1] if keys else -1
        self._count -= 1

    def min(self) -> int | None:
        """The lowest price, or None if the set is empty."""
        word = self._low
        if word < 0:
            return None
        bits = self._words[word]
        return word << _SHIFT | ((bits & -bits).bit_length() - 1)

    def max(self) -> int | None:
        """The highest price, or None if the set is empty."""
        word = self._high
        if word < 0:
            return None
        return word << _SHIFT | (self._words[word].bit_length() - 1)

    def irange(
        self, minimum: int | None = None, maximum: int | None = None, *, reverse: bool = False
    ) -> Iterator[int]:
        """The prices within [minimum, maximum] (None: unbounded), ascending or ``reverse``."""
        words = self._words
        low_word = None if minimum is None else minimum >> _SHIFT
        high_word = None if maximum is None else maximum >> _SHIFT
        for word in self._keys.irange(low_word, high_word, reverse=reverse):
            bits = words[word]
            if minimum is not None and word == low_word:
                bits &= ~((1 << (minimum & _LOW)) - 1)  # drop the prices below minimum
            if maximum is not None and word == high_word:
                bits &= (2 << (maximum & _LOW)) - 1  # drop the prices above maximum
            base = word << _SHIFT
            if reverse:
                while bits:
                    top = bits.bit_length() - 1
                    yield base | top
                    bits ^= 1 << top
            else:
                while bits:
                    low = bits & -bits
                    yield base | (low.bit_length() - 1)
                    bits ^= low

    def _check(self) -> None:
        """Assert the internal invariants; O(size)."""
        self._keys._check()
        assert list(self._keys) == sorted(self._words), "the sorted words match the bitmaps"
        assert all(bits > 0 for bits in self._words.values()), "an empty word is kept"
        assert (self._low, self._high) == (
            (self._keys[0], self._keys[-1]) if self._keys else (-1, -1)
        )
        assert self._count == sum(bin(bits).count("1") for bits in self._words.values())
