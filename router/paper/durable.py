"""The snapshot layout of the paper service: parts of declared state, each with its genesis.

Part 0 is the service's own state (the desk's and the views' records, the simulator, the margin
ledger, the journal, the venues); the venue server adds part 1 when it is mounted. Each part keeps
the image of its state when it was attached, at tick 0 (its genesis): recovery without a snapshot
starts from there. A snapshot is the list of every part's image; a snapshot with fewer parts (one
written before the venue server was mounted) loads the missing parts at genesis.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from router.paper.snapshot import Declaration, SnapshotError, StateImage

__all__ = ["Snapshots"]


class Snapshots:
    """Dumps and loads the declared state of every attached part. O(state) both ways."""

    def __init__(self, declared: Mapping[type, Declaration]) -> None:
        self._declared = declared
        self.parts: list[tuple[StateImage, bytes]] = []

    def attach(self, roots: Sequence[Any], *, keep: Sequence[Any] = ()) -> None:
        """Add a part (its roots fresh, at tick 0); references to earlier parts' roots and to
        ``keep`` objects stay references to the live objects."""
        shared = [obj for image, _ in self.parts for obj in image.roots]
        image = StateImage(roots, self._declared, keep=[*shared, *keep])
        self.parts.append((image, image.dumps()))

    def dump(self) -> bytes:
        return pickle.dumps(
            [image.dumps() for image, _ in self.parts], protocol=pickle.HIGHEST_PROTOCOL
        )

    def load(self, blob: bytes) -> None:
        """Restore every part from a snapshot blob; SnapshotError if it does not fit. A blob that
        does not decode changes nothing; one whose parts decode is applied part by part."""
        try:
            images = pickle.loads(blob)
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as exc:
            raise SnapshotError(
                f"the snapshot does not decode ({exc})",
                field="snapshot",
                value=type(exc).__name__,
                allowed="a snapshot of this code and config",
            ) from None
        if not isinstance(images, list) or not images or len(images) > len(self.parts):
            raise SnapshotError(
                "the snapshot has more parts than this service",
                field="snapshot",
                value=len(images) if isinstance(images, list) else type(images).__name__,
                allowed=f"1 to {len(self.parts)} parts",
            )
        for index, (image, genesis) in enumerate(self.parts):
            image.loads(images[index] if index < len(images) else genesis)

    def load_genesis(self) -> None:
        for image, genesis in self.parts:
            image.loads(genesis)
