"""The error hierarchy of crossroute.

Every error crossroute raises derives from :class:`CrossrouteError`. The root lives here, in the
bottom layer, because ``venues`` imports nothing of ours and every other layer may import it;
the other branches (``ConfigError``, ``AdapterError``, ``RouteError``, ``MarginError``, ...) are
defined in ``router/errors.py`` on top of this root.

Each error carries the numbers a user needs as attributes, and its message names the field, the
value that was given and what is allowed.
"""

from __future__ import annotations

from typing import Any


class CrossrouteError(Exception):
    """Root of every crossroute error.

    ``details`` holds the numbers behind the message (what was asked, what was allowed) so that
    callers and journals can use them without parsing text.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InvalidValue:
    """Mixin for an error about one input value: names the field, the value given, what is allowed.

    Combine it with a branch of the hierarchy (``class OrderError(InvalidValue, ExecutionError)``)
    so every layer words such errors the same way and carries ``field``, ``value``, ``allowed``.
    """

    def __init__(self, field: str, value: Any, allowed: str, **details: Any) -> None:
        super().__init__(
            f"{field}={value!r} is invalid; allowed: {allowed}",  # type: ignore[call-arg]
            field=field,
            value=value,
            allowed=allowed,
            **details,
        )
        self.field = field
        self.value = value
        self.allowed = allowed


class VenueError(CrossrouteError):
    """A venue refused an operation. Nothing in the venue changed.

    ``code`` is a short stable code. Pools use Uniswap's revert strings ("SPL", "T", "R", "TLU",
    "LOK", "NP", "K", ...); the order book uses its own short codes.
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(f"{code}: {message}", code=code, **details)
        self.code = code


class InvalidArgument(VenueError):
    """A public method got a value of the wrong type, sign or range.

    ``field`` is the parameter name, ``value`` what was given, ``allowed`` what is allowed.
    """

    def __init__(self, field: str, value: Any, allowed: str, code: str = "ARG") -> None:
        super().__init__(
            code,
            f"{field}={value!r} is invalid; allowed: {allowed}",
            field=field,
            value=value,
            allowed=allowed,
        )
        self.field = field
        self.value = value
        self.allowed = allowed


def require_int(
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    code: str = "ARG",
) -> int:
    """Return ``value`` if it is a plain ``int`` within [minimum, maximum], else raise.

    ``bool`` is refused on purpose: ``True`` is an ``int`` in Python but never a token amount.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(field, value, _range_text(minimum, maximum, "an integer"), code)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidArgument(field, value, _range_text(minimum, maximum, "an integer"), code)
    return value


def _range_text(minimum: int | None, maximum: int | None, kind: str) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    if maximum is not None:
        return f"{kind} <= {maximum}"
    return kind
