"""summarization: a shorter version of a long text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    first_field,
    parse_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import SummarizationParameters, SummarizationPythonOnly


class SummarizationInput(ToolInput, SummarizationPythonOnly):
    """Arguments of the summarization tool."""

    text: str = Field(min_length=1, description="Text to summarize.")
    max_length: int | None = Field(default=None, ge=1, description="Max summary tokens.")
    min_length: int | None = Field(default=None, ge=1, description="Min summary tokens.")


class SummarizationOutput(BaseModel):
    """The summary."""

    model_config = ConfigDict(extra="allow")

    summary_text: str


def build(args: SummarizationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {..., "generate_parameters": {"max_length", ...}}}``.

    The spec has no length limits of its own: ``max_length``/``min_length`` are generation
    parameters, so they go inside ``generate_parameters`` (over the same keys given there).
    """
    params = wire_parameters(SummarizationParameters, args)
    lengths = args.model_dump(include={"max_length", "min_length"}, exclude_none=True)
    if lengths:
        params["generate_parameters"] = {**params.get("generate_parameters", {}), **lengths}
    return Payload(json={"inputs": args.text, "parameters": params})


def parse(data: Any, args: SummarizationInput) -> SummarizationOutput:
    """``[{summary_text}]`` (serverless) or ``{summary_text}`` (task spec)."""
    text, raw = first_field(data, "summary_text", "summarization")
    return parse_as(
        SummarizationOutput, {**raw, "summary_text": text.strip()}, "summarization", "summary"
    )


def render(out: SummarizationOutput) -> str:
    """The summary text."""
    return out.summary_text


SPEC = TaskSpec(
    task="summarization",
    description="Summarize a long text (articles, reports). Returns the summary.",
    input_model=SummarizationInput,
    output_model=SummarizationOutput,
    render=render,
    default_model="facebook/bart-large-cnn",
    serving=(("hf-inference", "facebook/bart-large-cnn"),),
    family="text",
    example={"text": "The sky is blue, the tree is green."},
    hf_inference=HFInferenceWire(build, parse),
)
