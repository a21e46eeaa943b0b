"""image-to-video: animate an image (as a prompt says); the video goes to the artifact.

Only Inference Providers serve it (hf-inference never did): the adapters in
:mod:`hf_tools.providers` send it as a job they poll (``SPEC.hf_inference`` is None).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks._base import GuardedParse, MediaRef, OptionalText, TaskSpec, ToolInput
from hf_tools.tasks.image_classification import IMAGE_FIELD
from hf_tools.tasks.text_to_video import TextToVideoOutput, render, video_bytes

_TASK = "image-to-video"


class ImageToVideoInput(ToolInput):
    """Arguments of the image_to_video tool."""

    image: MediaRef = IMAGE_FIELD
    prompt: OptionalText = Field(default=None, description="How it should move.")
    # What to avoid, length, diffusion knobs and seed, for Python callers; left out of the
    # schema an LLM pays for on every call (the whole toolset stays under 16 KB).
    negative_prompt: SkipJsonSchema[OptionalText] = None
    num_frames: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    num_inference_steps: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    guidance_scale: SkipJsonSchema[float | None] = Field(default=None, ge=0)
    seed: SkipJsonSchema[int | None] = None


class ImageToVideoOutput(TextToVideoOutput):
    """The video (as text-to-video's: bytes and type; ``save`` writes it)."""


def parse(data: Any, args: ImageToVideoInput) -> ImageToVideoOutput:
    """Video bytes -> the video with its type."""
    video, mime = video_bytes(data, _TASK)
    return ImageToVideoOutput(video=video, mime=mime)


read = GuardedParse(parse, _TASK)
""":func:`parse` as the adapters call it: any failure is a ResponseFormatError naming the task."""

SPEC = TaskSpec(
    task=_TASK,
    description="Animate an image into a short video (takes minutes). Returns its format,"
    " size and saved path.",
    input_model=ImageToVideoInput,
    output_model=ImageToVideoOutput,
    render=render,
    default_model="Wan-AI/Wan2.2-I2V-A14B",
    # The model ids huggingface_hub 2.x's provider docs and tests name ("from docs").
    serving=(
        ("fal-ai", "Wan-AI/Wan2.2-I2V-A14B"),
        ("together", "Wan-AI/Wan2.2-I2V-A14B"),
        ("wavespeed", "Wan-AI/Wan2.1-I2V-14B-480P"),
    ),
    family="generation",
    example={"image": "tests/fixtures/small.png", "prompt": "The cat turns its head."},
    media_fields=("image",),
)
