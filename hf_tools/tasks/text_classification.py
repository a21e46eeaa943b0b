"""text-classification: labels with scores for a text or a text pair (sentiment, NLI...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks._base import (
    HFInferenceWire,
    Label,
    Media,
    OptionalText,
    Payload,
    TaskSpec,
    ToolInput,
    labels_from,
    render_labels,
    wire_parameters,
)
from hf_tools.tasks._parameters import TextClassificationParameters, TextClassificationPythonOnly


class TextClassificationInput(ToolInput, TextClassificationPythonOnly):
    """Arguments of the text_classification tool."""

    text: str = Field(min_length=1, description="Text to classify.")
    text_pair: OptionalText = Field(default=None, description="Second text, for pair models (NLI).")
    top_k: int | None = Field(default=None, ge=1, description="How many labels.")
    # Python callers only: left out of the LLM schema (paid on every call), still accepted.
    function_to_apply: SkipJsonSchema[Literal["sigmoid", "softmax", "none"] | None] = Field(
        default=None, description="Score function; default is the model's own."
    )


class TextClassificationOutput(BaseModel):
    """Labels, best first."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]


def build(args: TextClassificationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text | {text, text_pair}, "parameters": {...}}``."""
    inputs: Any = args.text
    if args.text_pair is not None:
        inputs = {"text": args.text, "text_pair": args.text_pair}
    params = wire_parameters(TextClassificationParameters, args)
    return Payload(json={"inputs": inputs, "parameters": params})


def parse(data: Any, args: TextClassificationInput) -> TextClassificationOutput:
    """Flat ``[{label, score}]`` or the serverless nested ``[[...]]``."""
    return TextClassificationOutput(labels=labels_from(data, "text-classification"))


def render(out: TextClassificationOutput) -> str:
    """``POSITIVE 0.9999, NEGATIVE 0.0001``."""
    return render_labels(out.labels)


SPEC = TaskSpec(
    task="text-classification",
    description="Classify a text, e.g. sentiment. Returns labels with scores, best first.",
    input_model=TextClassificationInput,
    output_model=TextClassificationOutput,
    render=render,
    default_model="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    serving=(("hf-inference", "distilbert/distilbert-base-uncased-finetuned-sst-2-english"),),
    family="text",
    example={"text": "I like you"},
    hf_inference=HFInferenceWire(build, parse),
)
