"""What three function-calling APIs accept as a tool's parameter schema, one validator each.

Each validator returns the violations it finds (``"<path>: <rule>"``), empty when the schema
passes. The rules are written from the public docs cited next to each; they are the subset
our tools rely on, not a full reimplementation of any API's checker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["RULE_SETS", "anthropic", "gemini", "openai_strict"]

Node = tuple[str, dict[str, Any]]


def _walk(schema: dict[str, Any], path: str = "$") -> Iterator[Node]:
    """Every sub-schema with its path: properties, items, anyOf branches, $defs."""
    yield path, schema
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            yield from _walk(prop, f"{path}.{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _walk(items, f"{path}[]")
    for i, branch in enumerate(schema.get("anyOf") or []):
        if isinstance(branch, dict):
            yield from _walk(branch, f"{path}|{i}")
    for name, sub in (schema.get("$defs") or {}).items():
        yield from _walk(sub, f"{path}$defs.{name}")


def _depth(schema: dict[str, Any]) -> int:
    children = [*(schema.get("properties") or {}).values(), *(schema.get("anyOf") or [])]
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    nested = [_depth(c) for c in children if isinstance(c, dict)]
    return 1 + max(nested, default=0) if schema.get("type") == "object" else max(nested, default=0)


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" or "properties" in node


# --------------------------------------------------------------------------- OpenAI strict
# https://platform.openai.com/docs/guides/structured-outputs#supported-schemas (strict
# function calling uses the same subset: https://platform.openai.com/docs/guides/function-calling#strict-mode)

_OPENAI_TYPES = {"string", "number", "boolean", "integer", "object", "array", "null"}
# "Supported properties": the keywords listed per type, plus the structural ones the page uses.
_OPENAI_KEYWORDS = {
    "type", "description", "properties", "required", "additionalProperties", "items", "anyOf",
    "enum", "const", "$ref", "$defs", "title",
    "pattern", "format",  # strings
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",  # numbers
    "minItems", "maxItems",  # arrays
}  # fmt: skip


def openai_strict(schema: dict[str, Any]) -> list[str]:
    """Violations of OpenAI's strict-mode schema rules."""
    found: list[str] = []
    # "Root objects must not be anyOf and must be an object."
    if schema.get("type") != "object" or "anyOf" in schema:
        found.append("$: the root must be an object, not anyOf")
    # "A schema may have up to 10 levels of nesting" (objects).
    if _depth(schema) > 10:
        found.append("$: more than 10 levels of nested objects")
    for path, node in _walk(schema):
        kind = node.get("type")
        for k in kind if isinstance(kind, list) else [kind]:
            if k is not None and k not in _OPENAI_TYPES:
                found.append(f"{path}: type {k!r} is not supported")
        # Unsupported keywords make the request fail (e.g. minLength, default, oneOf).
        found += [
            f"{path}: keyword {k!r} is not supported" for k in node if k not in _OPENAI_KEYWORDS
        ]
        if _is_object(node):
            props = node.get("properties") or {}
            # "additionalProperties: false must always be set in objects".
            if node.get("additionalProperties") is not False:
                found.append(f"{path}: an object needs additionalProperties: false")
            # "All fields must be required" (optional = a union with null).
            missing = sorted(set(props) - set(node.get("required", [])))
            if missing:
                found.append(f"{path}: properties not required: {missing}")
            # With no properties and additionalProperties false, only {} is valid: a property-
            # less object can carry nothing (an open map has no strict form at all).
            if not props:
                found.append(f"{path}: an object without properties accepts only {{}}")
    return found


# --------------------------------------------------------------------------- Gemini
# Function declarations take "a select subset of an OpenAPI 3.0 schema object":
# https://ai.google.dev/gemini-api/docs/function-calling#function_declarations and the Schema
# reference https://ai.google.dev/api/caching#Schema (fields below; Type enum, one value each).

_GEMINI_FIELDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
    # Not a Schema field, but the function-declaration docs' JSON Schema example
    # (parametersJsonSchema, https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/FunctionDeclaration)
    # carries additionalProperties: false; only false is taken here (no open maps).
    "additionalProperties",
}  # fmt: skip
_GEMINI_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}


def gemini(schema: dict[str, Any]) -> list[str]:
    """Violations of Gemini's function-declaration schema subset."""
    found: list[str] = []
    for path, node in _walk(schema):
        # No $ref/$defs, oneOf/allOf/const, exclusiveMinimum/Maximum: not Schema fields.
        found += [
            f"{path}: field {k!r} is not in Gemini's Schema"
            for k in node
            if k not in _GEMINI_FIELDS
        ]
        kind = node.get("type")
        # Schema.type is one Type value; there are no type arrays.
        if kind is not None and (not isinstance(kind, str) or kind.lower() not in _GEMINI_TYPES):
            found.append(f"{path}: type must be one of {sorted(_GEMINI_TYPES)}, got {kind!r}")
        if "additionalProperties" in node and node["additionalProperties"] is not False:
            found.append(f"{path}: additionalProperties maps are not supported")
        # The API refuses an OBJECT with no properties ("properties: should be non-empty for
        # OBJECT type").
        if kind == "object" and not node.get("properties"):
            found.append(f"{path}: an object needs properties")
        # anyOf only to make a value nullable: clients map [T, null] to the nullable field,
        # and older versions of the subset had no anyOf at all.
        branches = node.get("anyOf")
        if branches is not None and (len(branches) != 2 or {"type": "null"} not in branches):
            found.append(f"{path}: anyOf other than [T, null]")
    return found


# --------------------------------------------------------------------------- Anthropic
# Tool use: input_schema is "a JSON Schema object defining the expected parameters"
# https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use#specifying-client-tools

_ANTHROPIC_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def anthropic(schema: dict[str, Any]) -> list[str]:
    """Violations of Anthropic's tool ``input_schema`` rules."""
    found: list[str] = []
    if schema.get("type") != "object":
        found.append("$: input_schema must have type object")
    # The API answers 400 "input_schema does not support oneOf, allOf, or anyOf at the top level".
    found += [f"$: {k} at the top level" for k in ("oneOf", "allOf", "anyOf") if k in schema]
    for path, node in _walk(schema):
        # 400 "Property keys should match pattern '^[a-zA-Z0-9_.-]{1,64}$'".
        found += [
            f"{path}: property name {name!r} does not match {_ANTHROPIC_NAME.pattern}"
            for name in node.get("properties") or {}
            if not _ANTHROPIC_NAME.match(name)
        ]
        # Only local references resolve (structured outputs: "external $ref" unsupported):
        # https://docs.claude.com/en/docs/build-with-claude/structured-outputs#json-schema-limitations
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.append(f"{path}: external $ref {ref!r}")
    return found


RULE_SETS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "openai_strict": openai_strict,
    "gemini": gemini,
    "anthropic": anthropic,
}
