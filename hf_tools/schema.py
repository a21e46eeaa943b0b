"""Argument schemas every function-calling API accepts, and their OpenAI strict form.

One schema serves OpenAI (strict or not), Gemini's function-declaration subset and Anthropic:
everything inline (no ``$ref``/``$defs``), an optional argument is ``anyOf [T, {"type":
"null"}]`` (the one nullable form all three read; Gemini takes no ``type`` arrays), bounds are
``minimum``/``maximum`` (Gemini has no ``exclusiveMinimum``), no open maps, no property-less
objects. The rules, with their sources, are written down in ``tests/schema_rules.py``.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["portable_schema", "strict_schema"]

# What an LLM pays for on every call and gains nothing from: the tool description already says
# what the model is for; unknown keys are refused on validation anyway.
_TOP_DROPPED = ("title", "description", "additionalProperties")


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by a copy of its definition."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]), defs)
        target.pop("description", None)  # a class docstring, for Python readers
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {k: _inline(v, defs) for k, v in node.items()}


def _compact(node: dict[str, Any]) -> None:
    """Trim one sub-schema (and its children) to what every API reads."""
    node.pop("title", None)
    node.pop("additionalProperties", None)  # validation refuses unknown keys
    if node.get("default", 0) is None:
        node.pop("default")  # null means absent: nothing to say
    if node.get("minLength") == 1:
        node.pop("minLength")  # no one sends an empty required text; validation refuses it
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in node:  # Gemini has no exclusive bounds; validation keeps the strict one
            value = node.pop(bound)
            step = 1 if node.get("type") == "integer" else 0
            node[inclusive] = value + step if bound == "exclusiveMinimum" else value - step
    for child in node.get("properties", {}).values():
        _compact(child)
    for key in ("items", "anyOf"):
        children = node.get(key)
        for child in children if isinstance(children, list) else [children]:
            if isinstance(child, dict):
                _compact(child)


def portable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic argument schema made compact and portable (see the module docstring)."""
    defs = schema.pop("$defs", {})
    out: dict[str, Any] = _inline(schema, defs)
    for key in _TOP_DROPPED:
        out.pop(key, None)
    _compact(out)
    return out


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict form of a JSON schema (a copy), as LangChain's ``strict=True`` makes it.

    Every object lists all its properties as required and refuses unknown keys
    (``additionalProperties: false``). An optional argument keeps its meaning only when its
    schema allows null (ours do: null means absent); otherwise the model must give a value.
    """
    node = copy.deepcopy(schema)
    properties = node.get("properties")
    if isinstance(properties, dict):
        node["properties"] = {name: strict_schema(prop) for name, prop in properties.items()}
        node["required"] = list(properties)
    if node.get("type") == "object" or isinstance(properties, dict):
        node["additionalProperties"] = False
    for key in ("items", "anyOf", "$defs"):
        child = node.get(key)
        if isinstance(child, dict) and key == "$defs":
            node[key] = {name: strict_schema(sub) for name, sub in child.items()}
        elif isinstance(child, dict):
            node[key] = strict_schema(child)
        elif isinstance(child, list):
            node[key] = [strict_schema(sub) if isinstance(sub, dict) else sub for sub in child]
    return node
