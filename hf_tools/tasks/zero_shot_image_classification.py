"""zero-shot-image-classification: score an image against labels the caller chooses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from hf_tools.tasks._base import (
    CandidateLabels,
    HFInferenceWire,
    Label,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    labels_from,
    render_labels,
    wire_parameters,
)
from hf_tools.tasks._parameters import (
    ZeroShotImageClassificationParameters,
    ZeroShotImageClassificationPythonOnly,
)
from hf_tools.tasks.image_classification import IMAGE_FIELD


class ZeroShotImageClassificationInput(ToolInput, ZeroShotImageClassificationPythonOnly):
    """Arguments of the zero_shot_image_classification tool."""

    image: MediaRef = IMAGE_FIELD
    candidate_labels: CandidateLabels


class ZeroShotImageClassificationOutput(BaseModel):
    """Candidate labels with scores, best first."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]


def build(args: ZeroShotImageClassificationInput, media: Mapping[str, Media]) -> Payload:
    """Always JSON: ``{"inputs": b64, "parameters": {"candidate_labels": [...]}}``."""
    params = wire_parameters(ZeroShotImageClassificationParameters, args)
    return Payload(json={"inputs": media["image"].b64(), "parameters": params})


def parse(data: Any, args: ZeroShotImageClassificationInput) -> ZeroShotImageClassificationOutput:
    """``[{label, score}]`` (or the ``{labels, scores}`` form)."""
    return ZeroShotImageClassificationOutput(
        labels=labels_from(data, "zero-shot-image-classification")
    )


def render(out: ZeroShotImageClassificationOutput) -> str:
    """``woman 0.9986, cat 0.0012, tree 0.0002``."""
    return render_labels(out.labels)


SPEC = TaskSpec(
    task="zero-shot-image-classification",
    description="Classify an image into labels you choose. Returns each label's score, best first.",
    input_model=ZeroShotImageClassificationInput,
    output_model=ZeroShotImageClassificationOutput,
    render=render,
    default_model="openai/clip-vit-base-patch32",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="vision",
    example={"image": "tests/fixtures/image.png", "candidate_labels": ["tree", "woman", "cat"]},
    media_fields=("image",),
    hf_inference=HFInferenceWire(build, parse),
)
