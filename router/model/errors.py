"""Branches of the crossroute error hierarchy above the venues.

The root, :class:`~venues.errors.CrossrouteError`, lives in the bottom layer so that venue errors
share it; this module is the one place above the venues that names it.
"""

from __future__ import annotations

from typing import Any

from venues.errors import CrossrouteError, InvalidArgument, InvalidValue, VenueError  # noqa: F401  (InvalidValue: the field-error mixin, re-exported)

__all__ = [
    "AdapterError",
    "ConfigError",
    "CrossrouteError",
    "ExecutionError",
    "InvalidArgument",
    "MarginError",
    "RouteError",
    "VenueError",
]


class ConfigError(CrossrouteError):
    """A configuration file or value is wrong: names the file, the key, the value and what is allowed."""

    def __init__(self, file: str, key: str, value: Any, allowed: str) -> None:
        super().__init__(
            f"{file}: {key} = {value!r} is invalid; allowed: {allowed}",
            file=file,
            key=key,
            value=value,
            allowed=allowed,
        )
        self.file = file
        self.key = key
        self.value = value
        self.allowed = allowed


class AdapterError(CrossrouteError):
    """A venue adapter failed. ``retryable`` is True for transient (network-like) failures."""

    def __init__(
        self, venue: str, message: str, *, retryable: bool = False, **details: Any
    ) -> None:
        super().__init__(f"{venue}: {message}", venue=venue, retryable=retryable, **details)
        self.venue = venue
        self.retryable = retryable


class RouteError(CrossrouteError):
    """A routing request cannot be planned as asked (bad size, unknown symbol or venue, limit)."""


class MarginError(CrossrouteError):
    """A margin rule refused an operation; carries the missing amount and its asset."""


class ExecutionError(CrossrouteError):
    """An execution request is invalid or ended in a reported failure state."""
