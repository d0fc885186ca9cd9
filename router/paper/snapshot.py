"""In-place state images of the paper service: the bytes of a snapshot, and restoring them.

State is *declared*: every stateful object (a root) has a :class:`Declaration` naming the
attributes that are its state (saved and restored) and the ones that are wiring (references set
when the service is built: the market, a ledger a simulator marks, a clock; never saved, never
touched). A dataclass record declares itself: its fields are its state. An attribute that a root
carries but its declaration does not name makes the image refuse (:class:`SnapshotError`, naming
the class and the attribute), when the service is built and at every snapshot: a new attribute
cannot silently become state, or silently be left out of it.

The paper market is a web of long-lived objects that other objects hold references to (the venue
server's markets hold the very order books the adapters trade on), so an image keeps object
*identity* and replaces declared *contents*: a reference to a root (or to a ``keep`` object)
inside the state is pickled as its position in ``roots + keep`` and restored as the live object.
Objects reachable only through declared state (subaccounts, resting orders, order docs) are
copied, shared copies staying shared (one pickle memo). O(size of the state) both ways.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.model.errors import CrossrouteError

__all__ = ["Declaration", "SnapshotError", "StateImage", "attribute_names"]


class SnapshotError(CrossrouteError):
    """A snapshot cannot be taken or does not fit the live objects (another code or config)."""


@dataclass(frozen=True, slots=True)
class Declaration:
    """What of an object is state (saved, restored) and what is wiring (left alone)."""

    state: tuple[str, ...]
    wiring: tuple[str, ...] = ()


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


def attribute_names(obj: Any) -> set[str]:
    """Every instance attribute ``obj`` carries now (``__dict__`` and set ``__slots__``)."""
    names = set(getattr(obj, "__dict__", {}))
    names.update(name for name in _slot_names(type(obj)) if hasattr(obj, name))
    return names


def declaration_of(obj: Any, declared: Mapping[type, Declaration]) -> Declaration:
    """The declaration of ``obj``'s exact type, or its dataclass fields."""
    found = declared.get(type(obj))
    if found is not None:
        return found
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return Declaration(tuple(f.name for f in dataclasses.fields(obj)))
    raise SnapshotError(
        f"{type(obj).__qualname__} has no state declaration; declare it in "
        "router/paper/declared.py",
        field="roots",
        value=type(obj).__qualname__,
        allowed="declared types or dataclass records",
    )


class StateImage:
    """Saves and restores the declared state of ``roots`` in place (see the module docstring).

    The lists must be built in the same order wherever an image is loaded (they are, from the
    same config).
    """

    def __init__(
        self,
        roots: Sequence[Any],
        declared: Mapping[type, Declaration],
        keep: Iterable[Any] = (),
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
        self._declarations = [declaration_of(root, declared) for root in self.roots]
        self.check()

    def check(self) -> None:
        """Refuse a root carrying an attribute its declaration does not name. O(attributes)."""
        for root, declaration in zip(self.roots, self._declarations, strict=True):
            extra = attribute_names(root) - set(declaration.state) - set(declaration.wiring)
            if extra:
                name = sorted(extra)[0]
                raise SnapshotError(
                    f"{type(root).__qualname__}.{name} is neither declared state nor wiring; "
                    "declare it in router/paper/declared.py",
                    field=f"{type(root).__qualname__}.{name}",
                    value=name,
                    allowed="declared attributes",
                )

    def _state(self, index: int) -> dict[str, Any]:
        root = self.roots[index]
        return {
            name: getattr(root, name)
            for name in self._declarations[index].state
            if hasattr(root, name)
        }

    def dumps(self) -> bytes:
        """The declared state of every root, pickled and compressed. O(state)."""
        self.check()
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
        """Restore every root's declared state from ``blob`` (made by :meth:`dumps`).

        The blob is decoded and checked against the declarations completely before any root is
        touched, so a bad blob changes nothing. A declared attribute the image lacks is removed.
        """
        objects = self.objects
        try:
            unpickler = pickle.Unpickler(io.BytesIO(zlib.decompress(blob)))
            unpickler.persistent_load = lambda pid: objects[pid]  # type: ignore[method-assign]
            states = unpickler.load()
        except (
            # PickleError, not only UnpicklingError: a compiled class pickled by an older build
            # (another field layout) raises the base class from its checksum test.
            pickle.PickleError,
            zlib.error,
            EOFError,
            IndexError,
            AttributeError,
            TypeError,
            ValueError,
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
            declared = set(self._declarations[index].state)
            if not isinstance(state, dict) or not set(state) <= declared:
                raise SnapshotError(
                    f"the snapshot holds undeclared state of {type(self.roots[index]).__qualname__}",
                    field="snapshot",
                    value=sorted(set(state) - declared)[:3] if isinstance(state, dict) else state,
                    allowed="a snapshot of this code",
                )
        for index, state in enumerate(states):
            root = self.roots[index]
            for name in self._declarations[index].state:
                if name in state:
                    setattr(root, name, state[name])
                elif hasattr(root, name):
                    delattr(root, name)
