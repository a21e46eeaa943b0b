"""feature-extraction: embedding vectors for one or more texts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.errors import ResponseFormatError
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    Texts,
    ToolInput,
    expect_list,
    snippet,
    wire_parameters,
)
from hf_tools.tasks._parameters import FeatureExtractionParameters, FeatureExtractionPythonOnly

TASK = "feature-extraction"


class FeatureExtractionInput(ToolInput, FeatureExtractionPythonOnly):
    """Arguments of the feature_extraction tool."""

    texts: Texts
    normalize: bool | None = Field(default=None, description="Unit-length vectors.")
    truncate: bool | None = Field(default=None, description="Cut texts over the model's limit.")


class FeatureExtractionOutput(BaseModel):
    """One entry per text: a vector (pooled) or a tokens x hidden matrix (token-level)."""

    model_config = ConfigDict(extra="allow")

    vectors: list[Any]
    pooled: bool = Field(description="True when each text got one vector.")
    shape: list[int] = Field(description="Shape of one entry: [dim] or [tokens, dim].")


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        depth += 1
        value = value[0]
    return depth


def _finite_rows(rows: list[Any]) -> bool:
    """Whether every row is a list of finite numbers (NaN and strings are not embeddings)."""
    try:
        return all(isinstance(r, list) and all(map(math.isfinite, r)) for r in rows)
    except (TypeError, OverflowError):  # a string, null or list inside; a 400-digit integer
        return False


def build_body(args: FeatureExtractionInput) -> Payload:
    """``{"inputs": str | [str], "normalize"?, ...}``: the spec puts the options at the root."""
    return Payload(
        json={"inputs": args.texts, **wire_parameters(FeatureExtractionParameters, args)}
    )


def build(args: FeatureExtractionInput, media: Mapping[str, Media]) -> Payload:
    """See :func:`build_body`."""
    return build_body(args)


def parse(data: Any, args: FeatureExtractionInput) -> FeatureExtractionOutput:
    """Accept ``[f]``, ``[[f]]``, ``[[[f]]]`` and ``[[[[f]]]]`` for one or several texts.

    sentence-transformers models answer one vector per text; plain transformers models answer
    ``1 x tokens x hidden`` per text (the leading 1 is dropped here).
    """
    expect_list(data, TASK, "a list of vectors")
    count = 1 if isinstance(args.texts, str) else len(args.texts)
    items = [data] if isinstance(args.texts, str) else data
    if isinstance(args.texts, str) and _depth(data) == 2 and len(data) == 1:
        items = data  # one pooled vector, batched: [[f]]
    if len(items) != count:
        msg = f"expected {count} embedding(s), got {len(items)}"
        raise ResponseFormatError(msg, task=TASK)
    entries = []
    for item in items:
        if _depth(item) == 3 and len(item) == 1:
            item = item[0]
        entries.append(item)
    depths = {_depth(e) for e in entries}
    if not depths <= {1, 2} or len(depths) != 1:
        msg = f"unexpected embedding nesting {sorted(depths)}"
        raise ResponseFormatError(msg, task=TASK)
    rows = entries if depths == {1} else [row for e in entries for row in e]
    if not _finite_rows(rows):
        msg = f"embeddings must hold finite numbers only, got {snippet(entries)}"
        raise ResponseFormatError(msg, task=TASK)
    first = entries[0]
    shape = [len(first)] if _depth(first) == 1 else [len(first), len(first[0])]
    return FeatureExtractionOutput(vectors=entries, pooled=depths == {1}, shape=shape)


def render(out: FeatureExtractionOutput) -> str:
    """Counts and dimensions, a few leading values; never whole vectors."""
    n = len(out.vectors)
    if out.pooled:
        head = ", ".join(f"{v:.4f}" for v in out.vectors[0][:3])
        return f"{n} vector(s), dim {out.shape[0]}; first: [{head}, ...] (vectors in the artifact)"
    return (
        f"{n} token-level embedding(s), {out.shape[0]} tokens x {out.shape[1]} dims each "
        "(full values in the artifact; a sentence-transformers model gives one vector per text)"
    )


SPEC = TaskSpec(
    task=TASK,
    description=(
        "Embed texts as vectors (search, clustering). "
        "Returns their count and shape; vectors are in the artifact."
    ),
    input_model=FeatureExtractionInput,
    output_model=FeatureExtractionOutput,
    render=render,
    default_model="sentence-transformers/paraphrase-xlm-r-multilingual-v1",
    serving=(
        ("hf-inference", "sentence-transformers/paraphrase-xlm-r-multilingual-v1"),
        ("sambanova", "intfloat/e5-mistral-7b-instruct"),
    ),
    family="text",
    example={"texts": "That is a happy person"},
    hf_inference=HFInferenceWire(build, parse, pipeline=TASK),
)
