"""token-classification: named entities (people, places, organisations...) in a text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from pydantic.json_schema import SkipJsonSchema

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
from hf_tools.tasks._parameters import TokenClassificationParameters, TokenClassificationPythonOnly


class TokenClassificationInput(ToolInput, TokenClassificationPythonOnly):
    """Arguments of the token_classification tool."""

    text: str = Field(min_length=1, description="Text to tag.")
    aggregation_strategy: Literal["none", "simple", "first", "average", "max"] | None = Field(
        default=None, description="How tokens merge into entities; default simple."
    )
    # Python callers only: left out of the LLM schema (paid on every call), still accepted.
    ignore_labels: SkipJsonSchema[list[str] | None] = Field(
        default=None, description="Labels to drop, e.g. O."
    )


class Entity(BaseModel):
    """One entity; ``entity_group`` holds ``entity`` when the server did not aggregate."""

    model_config = ConfigDict(extra="allow")

    entity_group: str
    word: str
    score: FiniteFloat
    start: int | None = None
    end: int | None = None


class TokenClassificationOutput(BaseModel):
    """Entities in text order."""

    model_config = ConfigDict(extra="allow")

    entities: list[Entity]


def build(args: TokenClassificationInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": text, "parameters": {...}}``."""
    params = wire_parameters(TokenClassificationParameters, args)
    return Payload(json={"inputs": args.text, "parameters": params})


def parse(data: Any, args: TokenClassificationInput) -> TokenClassificationOutput:
    """``[{entity_group|entity, word, score, start?, end?}]``."""
    items = expect_list(data, "token-classification", "a list of entities")
    if len(items) == 1 and isinstance(items[0], list):
        items = items[0]
    # Unaggregated answers name the label "entity" instead of "entity_group".
    items = [
        {"entity_group": e.get("entity"), **e}
        if isinstance(e, Mapping) and "entity_group" not in e
        else e
        for e in items
    ]
    entities = parse_list_as(Entity, items, "token-classification", "entity")
    return TokenClassificationOutput(entities=entities)


def render(out: TokenClassificationOutput) -> str:
    """One entity per line: ``PER: Sarah Jessica Parker (0.9991) [11-31]``."""
    if not out.entities:
        return "no entities found"
    lines = []
    for e in out.entities:
        span = f" [{e.start}-{e.end}]" if e.start is not None and e.end is not None else ""
        lines.append(f"{e.entity_group}: {e.word} ({fmt_score(e.score)}){span}")
    return "\n".join(lines)


SPEC = TaskSpec(
    task="token-classification",
    description=(
        "Find named entities (people, places, organisations) in a text. "
        "Returns each with type, score and span."
    ),
    input_model=TokenClassificationInput,
    output_model=TokenClassificationOutput,
    render=render,
    default_model="dbmdz/bert-large-cased-finetuned-conll03-english",
    serving=(("hf-inference", "dbmdz/bert-large-cased-finetuned-conll03-english"),),
    family="text",
    example={"text": "My name is Sarah Jessica Parker but you can call me Jessica"},
    hf_inference=HFInferenceWire(build, parse),
)
