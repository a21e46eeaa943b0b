"""text2text-generation: an instruction-following encoder-decoder (T5-style) answers a text."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from hf_tools.tasks._base import HFInferenceWire, Media, Payload, TaskSpec, ToolInput
from hf_tools.tasks.text_generation import TextGenerationOutput, parameters, parse, render


class Text2TextGenerationInput(ToolInput):
    """Arguments of the text2text_generation tool."""

    text: str = Field(min_length=1, description="Instruction or input text.")
    max_new_tokens: int | None = Field(default=None, ge=1, description="Max tokens to generate.")
    temperature: float | None = Field(default=None, gt=0, description="Sampling temperature.")


def build(args: Text2TextGenerationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {...}}``: served as text-generation on the model."""
    return Payload(json={"inputs": args.text, "parameters": parameters(args)})


SPEC = TaskSpec(
    task="text2text-generation",
    description=(
        "Run a T5-style instruction model (answer, rewrite, extract). Returns the generated text."
    ),
    input_model=Text2TextGenerationInput,
    output_model=TextGenerationOutput,
    render=render,
    default_model="google/flan-t5-xxl",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="text",
    example={"text": "one plus two equals"},
    hf_inference=HFInferenceWire(build, parse),
)
