"""image-classification: what an image shows, as labels with scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Label,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    labels_from,
    render_labels,
    wire_parameters,
)
from hf_tools.tasks._parameters import ImageClassificationParameters, ImageClassificationPythonOnly

IMAGE_FIELD = Field(description="Image path, http(s) URL, data URI or base64.")


class ImageClassificationInput(ToolInput, ImageClassificationPythonOnly):
    """Arguments of the image_classification tool."""

    image: MediaRef = IMAGE_FIELD
    top_k: int | None = Field(default=None, ge=1, description="How many labels.")


class ImageClassificationOutput(BaseModel):
    """Labels, best first."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]


def build(args: ImageClassificationInput, media: Mapping[str, Media]) -> Payload:
    """Raw image bytes, or ``{"inputs": b64, "parameters": {"top_k"}}``."""
    return binary_payload(media["image"], wire_parameters(ImageClassificationParameters, args))


def parse(data: Any, args: ImageClassificationInput) -> ImageClassificationOutput:
    """``[{label, score}]``."""
    return ImageClassificationOutput(labels=labels_from(data, "image-classification"))


def render(out: ImageClassificationOutput) -> str:
    """``sombrero 0.0957, ...``."""
    return render_labels(out.labels)


SPEC = TaskSpec(
    task="image-classification",
    description="Say what an image shows (ImageNet classes). Returns labels with scores.",
    input_model=ImageClassificationInput,
    output_model=ImageClassificationOutput,
    render=render,
    default_model="google/vit-base-patch16-224",
    serving=(("hf-inference", "google/vit-base-patch16-224"),),
    family="vision",
    example={"image": "tests/fixtures/image.png"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
