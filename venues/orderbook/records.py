"""Building the book's immutable records (the NamedTuples of venues.orderbook.types), fast.

``new(Record, fields)`` is ``tuple.__new__(Record, fields)``: the record without its Python-level
``__new__``, several times cheaper than ``Record(*fields)`` and checking nothing (the book passes
every field, in order). Compiled, records.pxd puts an inline C twin in its place that allocates the
record and copies the fields in, without a Python call: the book builds one or more records per
operation, and the call was a fifth of a compiled resting add.
"""

from __future__ import annotations

__all__ = ["new"]

# new(Record, fields) -> Record, O(fields). The builtin itself rather than a function calling it:
# pure Python pays no extra frame.
new = tuple.__new__
