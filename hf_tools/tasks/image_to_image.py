"""image-to-image: change an image as a prompt says; the new image goes to the artifact.

Inference Providers serve it by default (hf-inference has had no image-to-image model since
July 2025; their adapters are in :mod:`hf_tools.providers`). A model named on hf-inference is
sent the image as base64 JSON with the spec's parameters (``prompt``, ``negative_prompt``,
``num_inference_steps``, ``guidance_scale``; no seed) and answers the image itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks import text_to_image
from hf_tools.tasks._base import (
    GuardedParse,
    HFInferenceWire,
    Media,
    MediaRef,
    OptionalText,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    wire_parameters,
)
from hf_tools.tasks._parameters import ImageToImageParameters, ImageToImagePythonOnly
from hf_tools.tasks.image_classification import IMAGE_FIELD
from hf_tools.tasks.text_to_image import TextToImageOutput

_TASK = "image-to-image"


class ImageToImageInput(ToolInput, ImageToImagePythonOnly):
    """Arguments of the image_to_image tool."""

    image: MediaRef = IMAGE_FIELD
    prompt: str = Field(min_length=1, description="What to change or make of it.")
    negative_prompt: OptionalText = Field(default=None, description="What to avoid.")
    # Diffusion knobs and seed, for Python callers; left out of the schema an LLM pays for.
    num_inference_steps: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    guidance_scale: SkipJsonSchema[float | None] = Field(default=None, ge=0)
    seed: SkipJsonSchema[int | None] = None


class ImageToImageOutput(TextToImageOutput):
    """The new image (as text-to-image's: bytes, type, size; ``save`` writes it)."""


def parameters(args: ImageToImageInput) -> dict[str, Any]:
    """The prompt and the parameters that are set (our names; adapters rename)."""
    return args.model_dump(exclude={"image"}, exclude_none=True)


def build(args: ImageToImageInput, media: Mapping[str, Media]) -> Payload:
    """hf-inference's body: ``{"inputs": b64 image, "parameters": {"prompt", ...}}``."""
    return binary_payload(media["image"], wire_parameters(ImageToImageParameters, args))


def parse(data: Any, args: ImageToImageInput) -> ImageToImageOutput:
    """Image bytes (or a base64 image in JSON) -> the image with its type and size."""
    out = text_to_image.parse(data, text_to_image.TextToImageInput(prompt=args.prompt))
    return ImageToImageOutput.model_validate(out.model_dump())


read = GuardedParse(parse, _TASK)
""":func:`parse` as the adapters call it: any failure is a ResponseFormatError naming the task."""

SPEC = TaskSpec(
    task=_TASK,
    description="Edit or restyle an image as a prompt says. Returns the new image's format,"
    " size and saved path.",
    input_model=ImageToImageInput,
    output_model=ImageToImageOutput,
    render=text_to_image.render,
    default_model="black-forest-labs/FLUX.1-Kontext-dev",
    # The model ids huggingface_hub 2.x's provider docs and tests name ("from docs").
    serving=(
        ("fal-ai", "black-forest-labs/FLUX.1-Kontext-dev"),
        ("replicate", "black-forest-labs/FLUX.1-Kontext-dev"),
        ("together", "black-forest-labs/FLUX.1-Kontext-dev"),
        ("wavespeed", "black-forest-labs/FLUX.1-Kontext-dev"),
    ),
    family="generation",
    example={"image": "tests/fixtures/small.png", "prompt": "Turn the cat into a tiger."},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse, response="bytes"),
)
