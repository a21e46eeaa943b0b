"""text-generation: continue a prompt with a language model (TGI or transformers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    first_field,
    parse_as,
)


class TextGenerationInput(ToolInput):
    """Arguments of the text_generation tool."""

    prompt: str = Field(min_length=1, description="Text to continue.")
    max_new_tokens: int | None = Field(default=None, ge=1, description="Max tokens to generate.")
    temperature: float | None = Field(
        default=None, ge=0, description="Sampling temperature; 0: greedy (no sampling)."
    )
    stop: list[str] | None = Field(
        default=None, max_length=4, description="Stop at any of these strings (up to 4)."
    )
    # Python callers only: left out of the LLM schema (paid on every call), still accepted.
    top_p: SkipJsonSchema[float | None] = Field(default=None, gt=0, le=1)
    top_k: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    repetition_penalty: SkipJsonSchema[float | None] = Field(default=None, gt=0)
    do_sample: SkipJsonSchema[bool | None] = None
    return_full_text: SkipJsonSchema[bool | None] = None
    seed: SkipJsonSchema[int | None] = Field(default=None, ge=0)
    # TGI only: the finish reason and tokens come back (the content then says a cut by length).
    details: SkipJsonSchema[bool | None] = None


class TextGenerationParameters(BaseModel):
    """Wire ``parameters`` of text-generation (TGI names)."""

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    do_sample: bool | None = None
    return_full_text: bool | None = None
    stop: list[str] | None = None
    seed: int | None = None
    details: bool | None = None


class TextGenerationOutput(BaseModel):
    """The generated text; TGI ``details`` (finish reason, tokens) when the server sent them.

    ``dropped_parameters``: parameters the server said the model does not use (a transformers
    model, not TGI: "The following `model_kwargs` are not used by the model: [...]"); the call
    was sent again once without them.
    """

    model_config = ConfigDict(extra="allow")

    generated_text: str
    details: dict[str, Any] | None = None
    dropped_parameters: list[str] | None = None


class TextGenerationStreamOutput(BaseModel):
    """One chunk of a text-generation stream.

    ``text`` is the new text (a token's); TGI's last chunk also carries the whole
    ``generated_text`` and ``details``; ``finish_reason`` is set on the last chunk
    (``"length"``, ``"eos_token"``, ``"stop"``...). ``special`` marks a special token
    (``</s>``), which is not part of the answer.
    """

    model_config = ConfigDict(extra="allow")

    text: str
    token_id: int | None = None
    logprob: float | None = None
    special: bool = False
    generated_text: str | None = None
    finish_reason: str | None = None
    details: dict[str, Any] | None = None


def parameters(args: BaseModel) -> dict[str, Any]:
    """The generation parameters set on ``args`` (shared with text2text-generation).

    ``temperature=0`` means greedy decoding. TGI refuses it ("`temperature` must be strictly
    positive"), so it is sent the way TGI and transformers both read as greedy:
    ``do_sample: false`` and no temperature.
    """
    fields = TextGenerationParameters.model_fields
    params = {k: v for k in fields if (v := getattr(args, k, None)) is not None}
    if params.get("temperature") == 0:
        del params["temperature"]
        params["do_sample"] = False
    return params


def build(args: TextGenerationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": prompt, "parameters": {...}}``."""
    return Payload(json={"inputs": args.prompt, "parameters": parameters(args)})


def parse(data: Any, args: BaseModel) -> TextGenerationOutput:
    """``[{generated_text, details?}]`` or the TGI object ``{generated_text, details?}``."""
    _, raw = first_field(data, "generated_text", "text-generation")
    return parse_as(TextGenerationOutput, raw, "text-generation", "generation")


def render(out: TextGenerationOutput) -> str:
    """The generated text; notes a cut by length and parameters the model did not use."""
    reason = (out.details or {}).get("finish_reason")
    note = " [stopped: max_new_tokens reached]" if reason == "length" else ""
    if out.dropped_parameters:
        note += f" [not used by this model, dropped: {', '.join(out.dropped_parameters)}]"
    return (out.generated_text or "(empty generation)") + note


SPEC = TaskSpec(
    task="text-generation",
    description=(
        "Continue a prompt with a raw (non-chat) language model. Returns the generated text."
    ),
    input_model=TextGenerationInput,
    output_model=TextGenerationOutput,
    render=render,
    default_model="mistralai/Mixtral-8x7B-v0.1",
    # together /v1/completions (tapes #94570e88ad7c); hf-inference serves no text generation.
    serving=(("together", "mistralai/Mixtral-8x7B-v0.1"),),
    family="text",
    example={"prompt": "test", "max_new_tokens": 1, "do_sample": False},
    hf_inference=HFInferenceWire(build, parse),
)
