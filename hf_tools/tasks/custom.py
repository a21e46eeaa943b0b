"""custom: one configured endpoint, called with a JSON payload the LLM writes.

For a dedicated Inference Endpoint (or any server speaking the ``{"inputs", "parameters"}``
convention) whose task the registry does not model: the toolkit's ``models={"custom": URL}``
binds the tool and ``custom_description`` tells the LLM what the endpoint does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from hf_tools.tasks._base import HFInferenceWire, Media, Payload, TaskSpec, ToolInput

MAX_JSON_DEPTH = 64
"""Deepest nesting a payload may have: real bodies are a few levels; 2,000 broke the encoder."""
MAX_JSON_CHARS = 1_000_000
"""Largest payload, counted as the characters of its strings plus one per value."""
_TOO_DEEP = f"payload nests deeper than {MAX_JSON_DEPTH} levels; send a flatter object"
_TOO_LARGE = f"payload is larger than {MAX_JSON_CHARS} characters; send less"
_JSON_KINDS = "strings, numbers, true/false, null, lists and objects with string keys"


def _json_problem(value: Any) -> str | None:
    """Why ``value`` cannot go out as a JSON payload (too deep, too large, not JSON), or None.

    Walked with an explicit stack: recursion is what a deep payload would break.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    size = 0
    while stack:
        item, depth = stack.pop()
        size += 1
        if depth > MAX_JSON_DEPTH:
            return _TOO_DEEP
        if isinstance(item, str):
            size += len(item)
            if not _utf8(item):
                return "payload holds a lone surrogate, which is not valid Unicode text"
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 1024:
            return "payload holds an integer too large for JSON numbers (over ~300 digits)"
        elif isinstance(item, Mapping):
            if not all(isinstance(key, str) for key in item):
                return f"payload object keys must be strings; JSON carries {_JSON_KINDS}"
            size += sum(len(key) for key in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
        elif item is not None and not isinstance(item, bool | int | float):
            return f"payload holds a {type(item).__name__}, not JSON; JSON carries {_JSON_KINDS}"
        if size > MAX_JSON_CHARS:
            return _TOO_LARGE
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class CustomInput(ToolInput):
    """Arguments of the custom tool."""

    # A JSON string for the LLM: the body is an open object by nature, which OpenAI strict mode
    # and Gemini's subset cannot describe. A dict (Python, lax models) is taken as well.
    payload: Annotated[dict[str, Any], WithJsonSchema({"type": "string"})] = Field(
        description='The JSON body as a string: {"inputs": ..., "parameters"?: {...}}.'
    )

    @field_validator("payload", mode="before")
    @classmethod
    def _object_with_inputs(cls, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > MAX_JSON_CHARS:
                raise ValueError(_TOO_LARGE)
            # Models sometimes send the object JSON-encoded; decode it rather than refuse.
            try:
                value = json.loads(value)
            except RecursionError:
                raise ValueError(_TOO_DEEP) from None
            except ValueError:
                pass
        if not isinstance(value, Mapping) or "inputs" not in value:
            msg = 'payload must be a JSON object with an "inputs" key, e.g. {"inputs": "..."}'
            raise ValueError(msg)
        problem = _json_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class CustomOutput(BaseModel):
    """The endpoint's answer: decoded JSON, or bytes for a binary answer."""

    model_config = ConfigDict(extra="allow")

    data: Any = Field(repr=False)


def build(args: CustomInput, media: Mapping[str, Media]) -> Payload:
    """The payload, as given."""
    return Payload(json=args.payload)


def parse(data: Any, args: CustomInput) -> CustomOutput:
    """Any JSON is valid: the endpoint defines its own answer."""
    return CustomOutput(data=data)


def render(out: CustomOutput) -> str:
    """Compact JSON (the tool bounds its length); binary answers only by size."""
    if isinstance(out.data, bytes):
        return f"The endpoint answered {len(out.data)} bytes of binary data (in the artifact)"
    return json.dumps(out.data, ensure_ascii=False, separators=(",", ":"))


SPEC = TaskSpec(
    task="custom",
    description="Call the configured model endpoint with a JSON payload. Returns its JSON answer.",
    input_model=CustomInput,
    output_model=CustomOutput,
    render=render,
    default_model="",
    family="custom",
    example={"payload": '{"inputs": "I like you", "parameters": {}}'},
    example_endpoint="https://my-sentiment.us-east-1.aws.endpoints.huggingface.cloud",
    needs_endpoint=True,
    hf_inference=HFInferenceWire(build, parse),
)
