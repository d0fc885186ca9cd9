"""In-place state images of the paper service: the bytes of a snapshot, and restoring them.

The paper market is a web of long-lived objects that other objects hold references to (the venue
server's markets hold the very order books the adapters trade on, its handlers hold the engine,
the simulator holds the ledger). Rebuilding that web from a snapshot would mean rewiring every
holder, so an image instead keeps object *identity* and replaces object *contents*:

- ``roots`` are the stateful objects: the image pickles each root's attributes (``__dict__`` and
  ``__slots__``), and restoring assigns them back onto the same root objects;
- any reference to a root (or to a ``keep`` object: config, wiring) inside that state is pickled
  as a persistent id, its position in ``roots + keep``, so after a restore it still points to the
  live object, in this process or in a fresh one built from the same config the same way;
- attributes in ``exclude`` and attributes holding functions or bound methods are wiring, not
  state: they are neither saved nor touched by a restore.

Objects reachable only through a root's state (subaccounts, resting orders, order docs, gates,
executors) are copied, so two roots that share such an object share the copy too (one pickle
memo). Complexity: O(size of the state) for both directions; zlib level 1 keeps the blob small.
"""

from __future__ import annotations

import io
import pickle
import types
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from router.model.errors import CrossrouteError

__all__ = ["SnapshotError", "StateImage"]

_WIRING = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.BuiltinMethodType)


class SnapshotError(CrossrouteError):
    """A snapshot cannot be taken or does not fit the live objects (another code or config)."""


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


class StateImage:
    """Saves and restores the contents of ``roots`` in place (see the module docstring).

    ``exclude`` maps a root's position in ``roots`` to attribute names that are wiring. The lists
    must be built in the same order wherever an image is loaded (they are, from the same config).
    """

    def __init__(
        self,
        roots: Sequence[Any],
        keep: Iterable[Any] = (),
        exclude: dict[int, frozenset[str]] | None = None,
    ) -> None:
        self.roots = list(roots)
        self.objects = self.roots + [k for k in keep if k is not None]
        self._ids = {id(obj): index for index, obj in enumerate(self.objects)}
        if len(self._ids) != len(self.objects):
            raise SnapshotError(
                "state image roots must be distinct objects",
                field="roots",
                value=len(self.objects),
                allowed="distinct objects",
            )
        self._exclude = exclude or {}
        self._slots = [_slot_names(type(root)) for root in self.roots]

    def _state(self, index: int) -> dict[str, Any]:
        root = self.roots[index]
        skip = self._exclude.get(index, frozenset())
        state: dict[str, Any] = {
            name: value
            for name, value in getattr(root, "__dict__", {}).items()
            if name not in skip and not isinstance(value, _WIRING)
        }
        for name in self._slots[index]:
            if name not in skip and hasattr(root, name):
                value = getattr(root, name)
                if not isinstance(value, _WIRING):
                    state[name] = value
        return state

    def dumps(self) -> bytes:
        """The state of every root, pickled and compressed. O(state)."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        ids = self._ids
        pickler.persistent_id = lambda obj: ids.get(id(obj))  # type: ignore[method-assign]
        try:
            pickler.dump([self._state(i) for i in range(len(self.roots))])
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise SnapshotError(
                f"the paper state cannot be pickled ({exc})",
                field="state",
                value=type(exc).__name__,
                allowed="picklable state",
            ) from None
        return zlib.compress(buffer.getvalue(), 1)

    def loads(self, blob: bytes) -> None:
        """Restore every root's state from ``blob`` (made by :meth:`dumps` over the same layout).

        The blob is decoded completely before any root is touched, so a bad blob changes nothing.
        Attributes a root has now but the image lacks (and that are not wiring) are removed.
        """
        objects = self.objects
        try:
            unpickler = pickle.Unpickler(io.BytesIO(zlib.decompress(blob)))
            unpickler.persistent_load = lambda pid: objects[pid]  # type: ignore[method-assign]
            states = unpickler.load()
        except (
            pickle.UnpicklingError,
            zlib.error,
            EOFError,
            IndexError,
            AttributeError,
            TypeError,
        ) as exc:
            raise SnapshotError(
                f"the snapshot does not decode ({exc})",
                field="snapshot",
                value=type(exc).__name__,
                allowed="a snapshot of this code and config",
            ) from None
        if not isinstance(states, list) or len(states) != len(self.roots):
            raise SnapshotError(
                "the snapshot has another layout than this service",
                field="snapshot",
                value=len(states) if isinstance(states, list) else type(states).__name__,
                allowed=f"{len(self.roots)} roots",
            )
        for index, state in enumerate(states):
            root = self.roots[index]
            current = self._state(index)
            for name in current.keys() - state.keys():
                delattr(root, name)
            for name, value in state.items():
                setattr(root, name, value)
