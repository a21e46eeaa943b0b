"""translation: a text in another language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    OptionalText,
    Payload,
    TaskSpec,
    ToolInput,
    first_field,
    parse_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import TranslationParameters, TranslationPythonOnly


class TranslationInput(ToolInput, TranslationPythonOnly):
    """Arguments of the translation tool."""

    text: str = Field(min_length=1, description="Text to translate.")
    # The default model (t5-small) translates English to German only and ignores both codes.
    src_lang: OptionalText = Field(
        default=None, description="Source language code; only for a multilingual model."
    )
    tgt_lang: OptionalText = Field(
        default=None, description="Target language code, e.g. fr_XX; only for a multilingual model."
    )


class TranslationOutput(BaseModel):
    """The translation."""

    model_config = ConfigDict(extra="allow")

    translation_text: str


def build(args: TranslationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {"src_lang", "tgt_lang"}}``."""
    params = wire_parameters(TranslationParameters, args)
    return Payload(json={"inputs": args.text, "parameters": params})


def parse(data: Any, args: TranslationInput) -> TranslationOutput:
    """``[{translation_text}]`` or ``{translation_text}``."""
    _, raw = first_field(data, "translation_text", "translation")
    return parse_as(TranslationOutput, raw, "translation", "translation")


def render(out: TranslationOutput) -> str:
    """The translated text."""
    return out.translation_text


SPEC = TaskSpec(
    task="translation",
    description=(
        "Translate a text. The default model (t5-small) translates English to German only;"
        " other languages need a multilingual model and src_lang/tgt_lang. Returns the translation."
    ),
    input_model=TranslationInput,
    output_model=TranslationOutput,
    render=render,
    default_model="google-t5/t5-small",
    serving=(("hf-inference", "google-t5/t5-small"),),
    family="text",
    example={"text": "Hello world"},
    hf_inference=HFInferenceWire(build, parse),
)
