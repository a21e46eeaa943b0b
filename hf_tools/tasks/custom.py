"""custom: one configured endpoint, called with a JSON payload the LLM writes.

For a dedicated Inference Endpoint (or any server speaking the ``{"inputs", "parameters"}``
convention) whose task the registry does not model: the toolkit's ``models={"custom": URL}``
binds the tool and ``custom_description`` tells the LLM what the endpoint does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from hf_tools.tasks._base import Media, Payload, TaskSpec, ToolInput


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
            # Models sometimes send the object JSON-encoded; decode it rather than refuse.
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if not isinstance(value, Mapping) or "inputs" not in value:
            msg = 'payload must be a JSON object with an "inputs" key, e.g. {"inputs": "..."}'
            raise ValueError(msg)
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
    build=build,
    parse=parse,
    render=render,
    default_model="",
    example={"payload": '{"inputs": "I like you", "parameters": {}}'},
    example_endpoint="https://my-sentiment.us-east-1.aws.endpoints.huggingface.cloud",
    needs_endpoint=True,
)
