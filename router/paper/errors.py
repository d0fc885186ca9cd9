"""The paper service's one error type: a refused request with its HTTP status."""

from __future__ import annotations

from typing import Any

from router.model.errors import CrossrouteError

__all__ = ["PaperError"]

_MAX_SHOWN = 80  # characters of a refused value echoed back (a 64 KiB string is not repeated)


def shown(value: Any) -> Any:
    """``value`` as it can be echoed in JSON: text cut to a readable length, lone surrogates
    escaped (they cannot be encoded as UTF-8), anything else that is not a JSON scalar as repr."""
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}... ({len(value)} chars)"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
    return shown(repr(value))


class PaperError(CrossrouteError):
    """A refused request: ``status`` is the HTTP status; names the field, the value and what is allowed."""

    def __init__(
        self, status: int, field: str, value: Any, allowed: str, *, message: str | None = None
    ) -> None:
        value = shown(value)
        text = message or f"{field}={value!r} is invalid; allowed: {allowed}"
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # no lone surrogates
        super().__init__(text, field=field, value=value, allowed=allowed)
        self.status = status
        self.field = field
        self.value = value
        self.allowed = allowed

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "message": self.message,
                "field": self.field,
                "value": self.value,
                "allowed": self.allowed,
            }
        }
