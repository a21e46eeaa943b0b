"""object-detection: objects in an image with their boxes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    expect_list,
    fmt_score,
    parse_list_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import ObjectDetectionParameters, ObjectDetectionPythonOnly
from hf_tools.tasks.image_classification import IMAGE_FIELD


class ObjectDetectionInput(ToolInput, ObjectDetectionPythonOnly):
    """Arguments of the object_detection tool."""

    image: MediaRef = IMAGE_FIELD
    threshold: float | None = Field(default=None, ge=0, le=1, description="Min score to keep.")


class Box(BaseModel):
    """Pixel corners of a detection."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int


class Detection(BaseModel):
    """One detected object."""

    model_config = ConfigDict(extra="allow")

    label: str
    score: FiniteFloat
    box: Box


class ObjectDetectionOutput(BaseModel):
    """Detections, best first."""

    model_config = ConfigDict(extra="allow")

    detections: list[Detection]


def build(args: ObjectDetectionInput, media: Mapping[str, Media]) -> Payload:
    """Raw image bytes, or base64 JSON with ``{"threshold"}``."""
    return binary_payload(media["image"], wire_parameters(ObjectDetectionParameters, args))


def parse(data: Any, args: ObjectDetectionInput) -> ObjectDetectionOutput:
    """``[{score, label, box: {xmin, ymin, xmax, ymax}}]``."""
    items = expect_list(data, "object-detection", "a list of detections")
    found = parse_list_as(Detection, items, "object-detection", "detection")
    return ObjectDetectionOutput(detections=sorted(found, key=lambda d: d.score, reverse=True))


def render(out: ObjectDetectionOutput) -> str:
    """``person 0.9487 [59,39,420,510]`` per object (box as xmin,ymin,xmax,ymax)."""
    if not out.detections:
        return "no objects detected"
    return "\n".join(
        f"{d.label} {fmt_score(d.score)} [{d.box.xmin},{d.box.ymin},{d.box.xmax},{d.box.ymax}]"
        for d in out.detections
    )


SPEC = TaskSpec(
    task="object-detection",
    description=(
        "Find objects in an image. Returns each label, score and box "
        "[xmin,ymin,xmax,ymax] in pixels."
    ),
    input_model=ObjectDetectionInput,
    output_model=ObjectDetectionOutput,
    render=render,
    default_model="facebook/detr-resnet-50",
    serving=(("hf-inference", "facebook/detr-resnet-50"),),
    family="vision",
    example={"image": "tests/fixtures/image.png"},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
