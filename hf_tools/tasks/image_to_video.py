"""image-to-video: animate an image (as a prompt says); the video goes to the artifact.

Only Inference Providers serve it (hf-inference never did): the adapters in
:mod:`hf_tools.providers` send it as a job they poll; ``build`` refuses hf-inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from hf_tools.tasks._base import Media, MediaRef, OptionalText, Payload, TaskSpec, ToolInput
from hf_tools.tasks._generated import PROVIDER_ONLY, not_on_hf_inference
from hf_tools.tasks.image_classification import IMAGE_FIELD
from hf_tools.tasks.text_to_video import TextToVideoOutput, render, video_bytes

_TASK = "image-to-video"


class ImageToVideoInput(ToolInput):
    """Arguments of the image_to_video tool."""

    image: MediaRef = IMAGE_FIELD
    prompt: OptionalText = Field(default=None, description="How it should move.")
    negative_prompt: OptionalText = Field(default=None, description="What to avoid.")
    num_frames: int | None = Field(default=None, ge=1, description="Length in frames.")
    num_inference_steps: int | None = Field(default=None, ge=1, description="More: better, slower.")
    guidance_scale: float | None = Field(default=None, ge=0, description="Prompt adherence.")
    seed: int | None = Field(default=None, description="Random seed.")


class ImageToVideoOutput(TextToVideoOutput):
    """The video (as text-to-video's: bytes and type; ``save`` writes it)."""


def build(args: ImageToVideoInput, media: Mapping[str, Media]) -> Payload:
    """hf-inference serves no image-to-video model: refuse, naming the way out."""
    not_on_hf_inference(_TASK)


def parse(data: Any, args: ImageToVideoInput) -> ImageToVideoOutput:
    """Video bytes -> the video with its type."""
    video, mime = video_bytes(data, _TASK)
    return ImageToVideoOutput(video=video, mime=mime)


SPEC = TaskSpec(
    task=_TASK,
    description="Animate an image into a short video (slow: a minute or more). Returns its"
    " format, size and saved path.",
    input_model=ImageToVideoInput,
    output_model=ImageToVideoOutput,
    build=build,
    parse=parse,
    render=render,
    default_model="Wan-AI/Wan2.2-I2V-A14B",
    example={"image": "tests/fixtures/small.png", "prompt": "The cat turns its head."},
    media_fields=("image",),
    response="bytes",
    tags=(PROVIDER_ONLY,),
)
