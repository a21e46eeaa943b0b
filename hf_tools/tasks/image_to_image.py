"""image-to-image: change an image as a prompt says; the new image goes to the artifact.

Only Inference Providers serve it (hf-inference has had no image-to-image model since July
2025): the adapters in :mod:`hf_tools.providers` send it; ``build`` refuses hf-inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from hf_tools.tasks import text_to_image
from hf_tools.tasks._base import Media, MediaRef, OptionalText, Payload, TaskSpec, ToolInput
from hf_tools.tasks._generated import PROVIDER_ONLY, not_on_hf_inference
from hf_tools.tasks.image_classification import IMAGE_FIELD
from hf_tools.tasks.text_to_image import TextToImageOutput

_TASK = "image-to-image"


class ImageToImageInput(ToolInput):
    """Arguments of the image_to_image tool."""

    image: MediaRef = IMAGE_FIELD
    prompt: str = Field(min_length=1, description="What to change or make of it.")
    negative_prompt: OptionalText = Field(default=None, description="What to avoid.")
    num_inference_steps: int | None = Field(default=None, ge=1, description="More: better, slower.")
    guidance_scale: float | None = Field(default=None, ge=0, description="Prompt adherence.")
    seed: int | None = Field(default=None, description="Random seed.")


class ImageToImageOutput(TextToImageOutput):
    """The new image (as text-to-image's: bytes, type, size; ``save`` writes it)."""


def parameters(args: ImageToImageInput) -> dict[str, Any]:
    """The prompt and the parameters that are set (our names; adapters rename)."""
    return args.model_dump(exclude={"image"}, exclude_none=True)


def build(args: ImageToImageInput, media: Mapping[str, Media]) -> Payload:
    """hf-inference serves no image-to-image model: refuse, naming the way out."""
    not_on_hf_inference(_TASK)


def parse(data: Any, args: ImageToImageInput) -> ImageToImageOutput:
    """Image bytes (or a base64 image in JSON) -> the image with its type and size."""
    out = text_to_image.parse(data, text_to_image.TextToImageInput(prompt=args.prompt))
    return ImageToImageOutput.model_validate(out.model_dump())


SPEC = TaskSpec(
    task=_TASK,
    description="Edit or restyle an image as a prompt says. Returns the new image's format,"
    " size and saved path.",
    input_model=ImageToImageInput,
    output_model=ImageToImageOutput,
    build=build,
    parse=parse,
    render=text_to_image.render,
    default_model="black-forest-labs/FLUX.1-Kontext-dev",
    example={"image": "tests/fixtures/small.png", "prompt": "Turn the cat into a tiger."},
    media_fields=("image",),
    response="bytes",
    tags=(PROVIDER_ONLY,),
)
