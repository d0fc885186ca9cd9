"""Book levels as the parsers build them: the :class:`Levels` type, a batch numpy parse of many
Binance level arrays at once, and Levels rebuilt from flat integer columns.

:func:`scan_levels` is the replay's hot path from a capture: the level arrays of all the depth
updates of a chunk are joined into one byte string and read with a few whole-array numpy
operations instead of a regex, string edits and a numpy parse per array (on the full USD-M
capture, 428k levels: ~160 ms instead of ~213 ms, most of it now building the pairs' tuples).
Exactness first: an array is taken only when every byte of it is where the strict shape
``["<digits>.<digits>","<digits>.<digits>"],...`` puts it, every value fits an int64 in units of
the grid, decimals beyond the grid are zeros and every price is > 0; then the result is what the
exact per-value conversion (``router.sim.feed.Grid.ticks``/``lots``) gives. Anything else
(spaces, signs, exponents, escapes, non-ASCII, too many digits, off the grid, a price of 0) is
declined array by array and the caller parses that array the exact slow way. The tests compare
both on generated arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy
from numpy.typing import NDArray

__all__ = ["Levels", "as_levels", "levels_of_columns", "scan_levels"]

Array = NDArray[Any]


class Levels(list):  # type: ignore[type-arg]
    """Book levels ``[(price_ticks, qty_lots), ...]`` as the parsers of this package build them:
    every value is a plain ``int``, every price > 0 and every size >= 0, so the L2 book applies
    them unchecked (the replay's hot path). Only the parsers of this package create them (the
    feed parser and the feed cache, through :func:`as_levels`, :func:`levels_of_columns` and
    :func:`scan_levels`); levels with a price of 0 stay a plain list, which the L2 book checks in
    full and refuses with the precise error."""

    __slots__ = ()


def as_levels(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Exact parsed pairs (plain ints >= 0) as :class:`Levels` when every price is > 0, else as
    the plain list they are. O(levels)."""
    # pairs compare by price first: the smallest pair holds the lowest price
    return Levels(pairs) if not pairs or min(pairs)[0] > 0 else pairs


# The non-digit bytes of one level and its separator, in order: '["' I '.' F '","' I '.' F '"],'
_SHAPE = b'[".","."],'
_MAX_DIGITS = 18  # decimal digits that always fit in an int64
_TO_SPACES = bytes.maketrans(b'[]",', b"    ")  # with the dots deleted: the numbers, spaced
_POW10 = numpy.array([10**k for k in range(_MAX_DIGITS + 1)], dtype=numpy.int64)
_ZERO = 48


def levels_of_columns(
    prices: Array, qtys: Array, counts: Sequence[int]
) -> list[list[tuple[int, int]]]:
    """Consecutive slices of two int64 columns of exact values >= 0, ``counts[i]`` levels each, as
    :class:`Levels` (a slice with a price of 0: a plain list, see :func:`as_levels`).

    The Python ints and the pairs are made by C loops over whole columns (``tolist``, ``zip``);
    only the slicing is per array. O(levels + arrays)."""
    pairs = list(zip(prices.tolist(), qtys.tolist(), strict=True))
    out: list[list[tuple[int, int]]] = []
    start = 0
    if len(prices) and prices.min() <= 0:
        for count in counts:
            end = start + count
            out.append(as_levels(pairs[start:end]))
            start = end
        return out
    for count in counts:
        end = start + count
        out.append(Levels(pairs[start:end]))
        start = end
    return out


def _units(combined: Array, decimals: Array, places: int) -> Array:
    """Grid units (step 10^-places) of the digits ``combined`` (the value without its dot, with
    ``decimals`` decimals), or -1 where decimals beyond ``places`` are not zeros. The caller
    bounds the digits so that every result fits an int64."""
    cut = numpy.clip(decimals - places, 0, None)  # decimals beyond the grid: must be zeros
    pad = numpy.clip(places - decimals, 0, None)  # decimals the value lacks
    kept, dropped = numpy.divmod(combined, _POW10[cut])
    return numpy.where(dropped == 0, kept * _POW10[pad], -1)


def scan_levels(texts: Sequence[str], price_places: int, qty_places: int) -> list[Levels | None]:
    """Each level array's content (``'["2683.80","3.029"],...'``, without its outer brackets;
    ``""`` for an empty array) as :class:`Levels` on a grid of 10^-price_places x
    10^-qty_places, or None where the array is declined (see the module doc). O(total bytes)."""
    if not (0 <= price_places <= _MAX_DIGITS and 0 <= qty_places <= _MAX_DIGITS):
        return [None] * len(texts)
    out: list[Levels | None] = [Levels() if not text else None for text in texts]
    todo = [i for i, text in enumerate(texts) if text and text.isascii()]
    while todo:
        taken, retry = _scan_batch([texts[i] for i in todo], price_places, qty_places)
        for i, levels in zip(todo, taken, strict=True):
            out[i] = levels
        # An array whose non-digit count is off by a few would shift the phase of every array
        # after it in the batch: such arrays are left out and the rest read again.
        todo = [todo[k] for k in retry]
    return out


def _scan_batch(
    texts: list[str], price_places: int, qty_places: int
) -> tuple[list[Any], list[int]]:
    """(result per text, indexes of the texts to read again without the declined ones).

    Joined with a ``,`` after each text, a batch of valid texts is ``(["I.F","I.F"],)*``: its
    non-digit bytes come ten per level in the order of :data:`_SHAPE`, and each level spans
    exactly its ten non-digits plus its four digit runs. The digits are then read as numbers
    by numpy's C parser once the dots are deleted and the rest made spaces."""
    blob = ",".join(texts).encode() + b","
    data = numpy.frombuffer(blob, numpy.uint8)
    lengths = numpy.fromiter(map(len, texts), numpy.int64, len(texts)) + 1
    starts = numpy.cumsum(lengths) - lengths
    marks = numpy.flatnonzero((data - numpy.uint8(_ZERO)) > 9)  # non-digits (uint8 wraps)
    first = numpy.searchsorted(marks, starts)  # each text's first non-digit
    count = numpy.diff(numpy.append(first, len(marks)))
    whole = (count % len(_SHAPE) == 0) & (marks.take(first, mode="clip") == starts)
    declined: list[Any] = [None] * len(texts)
    if not whole.all():
        # A text whose non-digits do not come in tens would shift the levels of every text
        # after it: read the others again without it.
        return declined, numpy.flatnonzero(whole).tolist()
    level = marks.reshape(-1, len(_SHAPE))
    price_whole = level[:, 2] - level[:, 1] - 1
    price_frac = level[:, 3] - level[:, 2] - 1
    qty_whole = level[:, 6] - level[:, 5] - 1
    qty_frac = level[:, 7] - level[:, 6] - 1
    span = numpy.append(level[1:, 0], len(data)) - level[:, 0]
    digits = price_whole + price_frac + qty_whole + qty_frac
    ok = (
        (data[level].view(f"S{len(_SHAPE)}")[:, 0] == _SHAPE)
        & (span == len(_SHAPE) + digits)  # nothing but the four runs between the non-digits
        & (numpy.minimum(numpy.minimum(price_whole, price_frac), qty_whole) >= 1)
        & (qty_frac >= 1)
        & (price_whole + price_frac <= _MAX_DIGITS)  # the digits read fit an int64 ...
        & (qty_whole + qty_frac <= _MAX_DIGITS)
        & (price_whole + price_places <= _MAX_DIGITS)  # ... and so do the units
        & (qty_whole + qty_places <= _MAX_DIGITS)
    )
    levels = count // len(_SHAPE)
    bounds = numpy.cumsum(levels) - levels
    good = numpy.logical_and.reduceat(ok, bounds)
    if not good.all():
        return declined, numpy.flatnonzero(good).tolist()
    numbers = numpy.fromstring(blob.translate(_TO_SPACES, b"."), dtype=numpy.int64, sep=" ")
    if len(numbers) != 2 * len(level):  # cannot happen once every level has its shape
        return declined, []
    ticks = _units(numbers[0::2], price_frac, price_places)
    lots = _units(numbers[1::2], qty_frac, qty_places)
    # Off the grid (-1): the exact path names the value; a price of 0: it keeps a plain list.
    good = numpy.logical_and.reduceat((ticks > 0) & (lots >= 0), bounds)
    if not good.all():
        return declined, numpy.flatnonzero(good).tolist()
    return list(levels_of_columns(ticks, lots, levels.tolist())), []
