"""A small validator for the JSON-schema subset openapi.json uses (the tests check every response).

Supports ``$ref`` (local), ``type`` (a name or a list of names; "integer" excludes bools),
``enum``, ``pattern``, ``minimum``/``maximum``, ``properties``/``required``/
``additionalProperties`` (bool or schema), ``items``/``minItems``/``maxItems`` and ``oneOf``.
Returns the list of problems (empty when valid), each naming the JSON path. O(size of value).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["load_document", "operations", "response_schema", "validate"]

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def load_document(path: str | Path | None = None) -> dict[str, Any]:
    return json.loads(
        Path(path or Path(__file__).with_name("openapi.json")).read_text(encoding="utf-8")
    )


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(doc: dict[str, Any], schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """Problems of ``value`` against ``schema`` (resolved inside ``doc``)."""
    if "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return validate(doc, node, value, path)
    problems: list[str] = []
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not validate(doc, s, value, path)]
        if len(matches) != 1:
            problems.append(f"{path}: matches {len(matches)} of the oneOf schemas, not exactly one")
        return problems
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is(value, n) for n in names):
            return [f"{path}: {type(value).__name__} is not {names}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                problems.append(f"{path}: missing {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                problems += validate(doc, props[key], item, f"{path}.{key}")
            elif extra is False:
                problems.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                problems += validate(doc, extra, item, f"{path}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(doc, schema["items"], item, f"{path}[{i}]")
    return problems


def operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every documented operation."""
    return [(method.upper(), path) for path, item in doc["paths"].items() for method in item]


def response_schema(
    doc: dict[str, Any], method: str, template: str, status: int
) -> dict[str, Any] | None:
    """The JSON schema of a documented response, or None when the operation or status is not documented."""
    op = doc["paths"].get(template, {}).get(method.lower())
    if op is None:
        return None
    response = op["responses"].get(str(status))
    if response is None:
        return None
    return response.get("content", {}).get("application/json", {}).get("schema", {})
