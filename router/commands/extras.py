"""Optional dependencies: a command that needs one says so in one line, before any work.

matplotlib, pyarrow and ray are extras of the ``crossroute`` distribution (``crossroute[plots]``,
``[parquet]``, ``[ray]``; ``[dev]`` has all) because one command each needs them.
"""

from __future__ import annotations

from importlib.util import find_spec

from router.model.errors import CrossrouteError

# extra name -> the module it provides
EXTRAS = {"plots": "matplotlib", "parquet": "pyarrow", "ray": "ray"}


class MissingExtraError(CrossrouteError):
    """A command needs an optional dependency that is not installed."""


def require(extra: str, needed_for: str) -> None:
    """Raise MissingExtraError naming the install command when ``extra``'s module is absent."""
    module = EXTRAS[extra]
    if find_spec(module) is None:
        raise MissingExtraError(
            f"{needed_for} needs {module}, which is not installed; install it with:"
            f" pip install 'crossroute[{extra}]'",
            extra=extra,
            module=module,
        )
