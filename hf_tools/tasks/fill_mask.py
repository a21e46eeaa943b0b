"""fill-mask: the most likely words for a masked position in a text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    expect_list,
    fmt_score,
    parse_list_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import FillMaskParameters, FillMaskPythonOnly

MASK_TOKENS = ("[MASK]", "<mask>")


class FillMaskInput(ToolInput, FillMaskPythonOnly):
    """Arguments of the fill_mask tool."""

    text: str = Field(description="Text with exactly one mask token: <mask> or [MASK].")
    top_k: int | None = Field(default=None, ge=1, le=50, description="How many guesses.")
    targets: list[str] | None = Field(default=None, description="Only score these words.")

    @field_validator("text")
    @classmethod
    def _has_mask(cls, text: str) -> str:
        masks = sum(text.count(token) for token in MASK_TOKENS)
        if masks == 0:
            msg = "the text must contain the mask token <mask> (or [MASK] for BERT models)"
            raise ValueError(msg)
        if masks > 1:  # the server answers per mask; one question, one answer
            msg = f"the text has {masks} mask tokens; use exactly one per call"
            raise ValueError(msg)
        return text


class MaskFill(BaseModel):
    """One candidate for the mask."""

    model_config = ConfigDict(extra="allow")

    token_str: str
    score: FiniteFloat
    sequence: str | None = None
    token: int | None = None


class FillMaskOutput(BaseModel):
    """Candidates, best first."""

    model_config = ConfigDict(extra="allow")

    fills: list[MaskFill]


def build(args: FillMaskInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {...}}``."""
    params = wire_parameters(FillMaskParameters, args)
    return Payload(json={"inputs": args.text, "parameters": params})


def parse(data: Any, args: FillMaskInput) -> FillMaskOutput:
    """``[{score, token, token_str, sequence}]`` (nested once for several masks)."""
    items = expect_list(data, "fill-mask", "a list of candidates")
    if items and isinstance(items[0], list):
        items = items[0]  # several masks: keep the first mask's candidates
    fills = parse_list_as(MaskFill, items, "fill-mask", "candidate")
    fills.sort(key=lambda f: f.score, reverse=True)
    return FillMaskOutput(fills=fills)


def render(out: FillMaskOutput) -> str:
    """``happiness 0.0690: The goal of life is happiness.`` per line."""
    if not out.fills:
        return "no candidates returned"
    return "\n".join(
        f"{f.token_str.strip()} {fmt_score(f.score)}" + (f": {f.sequence}" if f.sequence else "")
        for f in out.fills
    )


SPEC = TaskSpec(
    task="fill-mask",
    description=(
        "Guess the word hidden by a mask token in a text. Returns candidate words with scores."
    ),
    input_model=FillMaskInput,
    output_model=FillMaskOutput,
    render=render,
    default_model="distilbert/distilroberta-base",
    serving=(("hf-inference", "distilbert/distilroberta-base"),),
    family="text",
    example={"text": "The goal of life is <mask>."},
    hf_inference=HFInferenceWire(build, parse),
)
