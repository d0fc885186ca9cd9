"""The URL rewrite documented in docs/bots.md, loaded from that page so tests use exactly it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_DOC = Path(__file__).resolve().parents[2] / "docs" / "bots.md"


def _snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", _DOC.read_text(), flags=re.S)
    (code,) = [b for b in blocks if "def point_at_venue" in b]
    return code


_namespace: dict[str, Any] = {}
exec(compile(_snippet(), str(_DOC), "exec"), _namespace)
point_at_venue = _namespace["point_at_venue"]
