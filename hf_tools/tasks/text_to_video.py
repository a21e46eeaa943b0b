"""text-to-video: make a short video from a prompt; the video goes to the artifact (and a file).

Only Inference Providers serve it (hf-inference never did): the adapters in
:mod:`hf_tools.providers` send it, most as a job they poll (``SPEC.hf_inference`` is None).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.artifacts import Base64Bytes, save_output
from hf_tools.errors import ResponseFormatError
from hf_tools.tasks._base import GuardedParse, OptionalText, TaskSpec, ToolInput
from hf_tools.tasks._generated import (
    kilobytes,
    require_mime,
    saved_to,
    video_mime,
)

_TASK = "text-to-video"


class TextToVideoInput(ToolInput):
    """Arguments of the text_to_video tool."""

    prompt: str = Field(min_length=1, description="What the video shows.")
    # What to avoid, length, diffusion knobs and seed, for Python callers; left out of the
    # schema an LLM pays for on every call (the whole toolset stays under 16 KB).
    negative_prompt: SkipJsonSchema[OptionalText] = None
    num_frames: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    num_inference_steps: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    guidance_scale: SkipJsonSchema[float | None] = Field(default=None, ge=0)
    seed: SkipJsonSchema[int | None] = None


class TextToVideoParameters(BaseModel):
    """The provider-side parameters of the video tasks (unset ones are not sent)."""

    negative_prompt: str | None = None
    num_frames: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None


class TextToVideoOutput(BaseModel):
    """The generated video; ``save`` writes it to the output directory."""

    model_config = ConfigDict(extra="allow")

    video: Base64Bytes = Field(repr=False)
    mime: str
    path: Path | None = None

    def save(self, directory: Path) -> list[Path]:
        """Write the binary parts under content-addressed names (:mod:`hf_tools.artifacts`)."""
        return save_output(self, directory)


def parameters(args: BaseModel) -> dict[str, Any]:
    """The video parameters that are set (text- and image-to-video share them)."""
    values = TextToVideoParameters.model_validate(args.model_dump(include=_PARAMETERS))
    return values.model_dump(exclude_none=True)


_PARAMETERS = set(TextToVideoParameters.model_fields)


def video_bytes(data: Any, task: str) -> tuple[bytes, str]:
    """The bytes of a video answer and their MIME type (from the magic bytes)."""
    if not isinstance(data, bytes | bytearray):
        msg = "expected video bytes from the server"
        raise ResponseFormatError(msg, task=task)
    video = bytes(data)
    return video, require_mime(video_mime(video), "video/", video, task)


def parse(data: Any, args: BaseModel) -> TextToVideoOutput:
    """Video bytes -> the video with its type."""
    video, mime = video_bytes(data, _TASK)
    return TextToVideoOutput(video=video, mime=mime)


def render(out: TextToVideoOutput) -> str:
    """``Generated an MP4 video, 854 KB, saved to PATH``; never the bytes."""
    kind = out.mime.split("/")[-1].upper().replace("QUICKTIME", "MOV")
    return f"Generated a {kind} video, {kilobytes(out.video)}{saved_to(out.path)}"


read = GuardedParse(parse, _TASK)
""":func:`parse` as the adapters call it: any failure is a ResponseFormatError naming the task."""

SPEC = TaskSpec(
    task=_TASK,
    description="Make a short video from a text prompt (takes minutes). Returns its format,"
    " size and saved path.",
    input_model=TextToVideoInput,
    output_model=TextToVideoOutput,
    render=render,
    default_model="genmo/mochi-1-preview",
    # replicate's and fal's mochi answers are recorded (huggingface.js tapes); the others
    # "from docs".
    serving=(
        ("replicate", "genmo/mochi-1-preview"),
        ("fal-ai", "genmo/mochi-1-preview"),
        ("together", "Wan-AI/Wan2.2-T2V-A14B"),
        ("novita", "Wan-AI/Wan2.1-T2V-14B"),
        ("wavespeed", "Wan-AI/Wan2.1-T2V-14B"),
    ),
    family="generation",
    example={"prompt": "A running dog"},
)
