"""zero-shot-classification: score a text against labels the caller chooses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks._base import (
    CandidateLabels,
    HFInferenceWire,
    Label,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    labels_from,
    render_labels,
    wire_parameters,
)
from hf_tools.tasks._parameters import (
    ZeroShotClassificationParameters,
    ZeroShotClassificationPythonOnly,
)


class ZeroShotClassificationInput(ToolInput, ZeroShotClassificationPythonOnly):
    """Arguments of the zero_shot_classification tool."""

    text: str = Field(min_length=1, description="Text to classify.")
    candidate_labels: CandidateLabels
    multi_label: bool | None = Field(default=None, description="Several labels can be true.")
    # Python callers only: left out of the LLM schema (paid on every call), still accepted.
    hypothesis_template: SkipJsonSchema[str | None] = Field(
        default=None, description='Template with {}, e.g. "This text is about {}."'
    )


class ZeroShotClassificationOutput(BaseModel):
    """Candidate labels with scores, best first."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]
    sequence: str | None = None


def build(args: ZeroShotClassificationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {"candidate_labels": [...], ...}}``."""
    params = wire_parameters(ZeroShotClassificationParameters, args)
    return Payload(json={"inputs": args.text, "parameters": params})


def parse(data: Any, args: ZeroShotClassificationInput) -> ZeroShotClassificationOutput:
    """Legacy ``{sequence, labels, scores}`` (also in a list) or flat ``[{label, score}]``."""
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], Mapping):
        data = data[0] if "labels" in data[0] else data
    sequence = data.get("sequence") if isinstance(data, Mapping) else None
    labels = labels_from(data, "zero-shot-classification")
    # Other keys of the legacy object (warnings...) are kept, as everywhere.
    extra = (
        {k: v for k, v in data.items() if k not in ("sequence", "labels", "scores")}
        if isinstance(data, Mapping)
        else {}
    )
    return ZeroShotClassificationOutput(labels=labels, sequence=sequence, **extra)


def render(out: ZeroShotClassificationOutput) -> str:
    """``scientific discovery 0.9829, space & cosmos 0.0152``."""
    return render_labels(out.labels)


SPEC = TaskSpec(
    task="zero-shot-classification",
    description="Classify a text into labels you choose. Returns each label's score, best first.",
    input_model=ZeroShotClassificationInput,
    output_model=ZeroShotClassificationOutput,
    render=render,
    default_model="facebook/bart-large-mnli",
    serving=(("hf-inference", "facebook/bart-large-mnli"),),
    family="text",
    example={
        "text": "A new model offers an explanation for how the Galilean satellites formed.",
        "candidate_labels": ["space & cosmos", "scientific discovery", "microbiology"],
    },
    hf_inference=HFInferenceWire(build, parse),
)
