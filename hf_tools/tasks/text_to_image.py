"""text-to-image: generate an image from a prompt; the bytes go to the artifact, never content."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.artifacts import Base64Bytes, save_output
from hf_tools.errors import ResponseFormatError
from hf_tools.mime import detect_mime, image_size
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    OptionalText,
    Payload,
    TaskSpec,
    ToolInput,
    wire_parameters,
)
from hf_tools.tasks._parameters import TextToImageParameters, TextToImagePythonOnly

_TASK = "text-to-image"


class TextToImageInput(ToolInput, TextToImagePythonOnly):
    """Arguments of the text_to_image tool."""

    prompt: str = Field(min_length=1, description="What the image shows.")
    negative_prompt: OptionalText = Field(default=None, description="What to avoid.")
    width: int | None = Field(default=None, ge=64, le=2048, description="Pixels.")
    height: int | None = Field(default=None, ge=64, le=2048, description="Pixels.")
    # Diffusion knobs and the seed, for Python callers; left out of the schema an LLM pays for
    # on every call (the whole toolset stays under 16 KB).
    num_inference_steps: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    guidance_scale: SkipJsonSchema[float | None] = Field(default=None, ge=0)
    seed: SkipJsonSchema[int | None] = None


class TextToImageOutput(BaseModel):
    """The generated image; ``save`` writes it to the output directory."""

    model_config = ConfigDict(extra="allow")

    image: Base64Bytes = Field(repr=False)
    mime: str
    width: int | None = None
    height: int | None = None
    path: Path | None = None

    @property
    def format(self) -> str:
        """``PNG``, ``JPEG``...: the subtype of the MIME type."""
        return self.mime.split("/")[-1].upper()

    def save(self, directory: Path) -> list[Path]:
        """Write the binary parts under content-addressed names (:mod:`hf_tools.artifacts`)."""
        return save_output(self, directory)


def build(args: TextToImageInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": prompt, "parameters": {...}}`` (unset parameters left out)."""
    params = wire_parameters(TextToImageParameters, args)
    return Payload(json={"inputs": args.prompt, "parameters": params})


def _image_bytes(data: Any) -> bytes:
    """Raw bytes, or the base64 image some endpoints wrap in JSON (``{"image": b64}``, lists)."""
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, Mapping):
        data = next((data[k] for k in ("image", "images", "blob") if k in data), None)
        if isinstance(data, list) and data:
            data = data[0]
    if isinstance(data, str):
        try:
            return base64.b64decode(data.split(",")[-1], validate=True)
        except (binascii.Error, ValueError):
            pass
    if isinstance(data, bytes):
        return data
    msg = "expected image bytes from the server"
    raise ResponseFormatError(msg, task=_TASK)


def parse(data: Any, args: TextToImageInput) -> TextToImageOutput:
    """Image bytes -> the image with its type and size, read from the header."""
    image = _image_bytes(data)
    mime = detect_mime(image)
    if mime is None or not mime.startswith("image/"):
        msg = f"the server answered {len(image)} bytes that are not an image"
        raise ResponseFormatError(msg, task=_TASK)
    width, height = image_size(image) or (None, None)
    return TextToImageOutput(image=image, mime=mime, width=width, height=height)


def render(out: TextToImageOutput) -> str:
    """``Generated a JPEG image, 512x512, 25 KB, saved to PATH``; never the bytes."""
    size = f", {out.width}x{out.height}" if out.width and out.height else ""
    saved = f", saved to {out.path}" if out.path else ""
    kb = max(1, round(len(out.image) / 1024))
    return f"Generated a {out.format} image{size}, {kb} KB{saved}"


SPEC = TaskSpec(
    task=_TASK,
    description="Generate an image from a text prompt. Returns its format, size and saved path.",
    input_model=TextToImageInput,
    output_model=TextToImageOutput,
    render=render,
    default_model="black-forest-labs/FLUX.1-schnell",
    serving=(
        ("hf-inference", "black-forest-labs/FLUX.1-schnell"),
        ("fal-ai", "black-forest-labs/FLUX.1-schnell"),
        ("replicate", "black-forest-labs/FLUX.1-schnell"),
        ("nebius", "black-forest-labs/FLUX.1-schnell"),
        ("together", "stabilityai/stable-diffusion-xl-base-1.0"),
        ("black-forest-labs", "black-forest-labs/FLUX.1-dev"),
        ("hyperbolic", "stabilityai/stable-diffusion-2"),
    ),
    family="generation",
    example={"prompt": "An astronaut riding a horse on the moon."},
    hf_inference=HFInferenceWire(build, parse, accept="image/png", response="bytes"),
)
