"""The Cython decorators book.py uses, for running it as plain Python where Cython is absent.

Cython is a build requirement, not a run-time one: an install without a C compiler runs book.py
as plain Python, where ``import cython`` may fail. The decorators only tune the compiled types (a
free list, no cycle-collector tracking, an extension type), so as plain Python they do nothing,
exactly like Cython's own pure-Python shadow module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["cclass", "freelist", "no_gc"]

T = TypeVar("T")


def cclass(cls: T) -> T:
    return cls


def no_gc(cls: T) -> T:
    return cls


def freelist(size: int) -> Callable[[T], T]:
    del size  # the number of freed instances the compiled type keeps for reuse
    return lambda cls: cls
