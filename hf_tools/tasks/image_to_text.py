"""image-to-text: a caption describing an image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    first_field,
    parse_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import ImageToTextParameters, ImageToTextPythonOnly
from hf_tools.tasks.image_classification import IMAGE_FIELD


class ImageToTextInput(ToolInput, ImageToTextPythonOnly):
    """Arguments of the image_to_text tool."""

    image: MediaRef = IMAGE_FIELD
    max_new_tokens: int | None = Field(default=None, ge=1, description="Max caption tokens.")


class ImageToTextOutput(BaseModel):
    """The caption."""

    model_config = ConfigDict(extra="allow")

    generated_text: str


def build(args: ImageToTextInput, media: Mapping[str, Media]) -> Payload:
    """Raw image bytes, or base64 JSON with ``{"max_new_tokens"}``."""
    return binary_payload(media["image"], wire_parameters(ImageToTextParameters, args))


def parse(data: Any, args: ImageToTextInput) -> ImageToTextOutput:
    """``[{generated_text}]`` or ``{generated_text}``."""
    _, raw = first_field(data, "generated_text", "image-to-text")
    return parse_as(ImageToTextOutput, raw, "image-to-text", "caption")


def render(out: ImageToTextOutput) -> str:
    """The caption."""
    return out.generated_text


SPEC = TaskSpec(
    task="image-to-text",
    description="Describe an image in one sentence (captioning). Returns the caption.",
    input_model=ImageToTextInput,
    output_model=ImageToTextOutput,
    render=render,
    default_model="Salesforce/blip-image-captioning-base",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="vision",
    example={"image": "tests/fixtures/image.png"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
