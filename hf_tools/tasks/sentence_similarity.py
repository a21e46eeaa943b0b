"""sentence-similarity: how close each sentence is in meaning to a source sentence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from hf_tools.errors import ResponseFormatError, excerpt
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    Payload,
    TaskSpec,
    ToolInput,
    expect_list,
    fmt_score,
)


class SentenceSimilarityInput(ToolInput):
    """Arguments of the sentence_similarity tool."""

    source_sentence: str = Field(min_length=1, description="Sentence to compare against.")
    sentences: list[str] = Field(min_length=1, description="Sentences to score.")


class SentenceScore(BaseModel):
    """A compared sentence and its similarity."""

    index: int
    sentence: str
    score: FiniteFloat


class SentenceSimilarityOutput(BaseModel):
    """One score per sentence, in input order."""

    model_config = ConfigDict(extra="allow")

    scores: list[SentenceScore]


def build(args: SentenceSimilarityInput, media: Mapping[str, Media]) -> Payload:
    """``{"inputs": {"source_sentence", "sentences"}, "parameters": {}}``."""
    inputs = {"source_sentence": args.source_sentence, "sentences": args.sentences}
    return Payload(json={"inputs": inputs, "parameters": {}})


def parse(data: Any, args: SentenceSimilarityInput) -> SentenceSimilarityOutput:
    """``[f, ...]`` (serverless) or ``{"similarities": [f, ...]}`` (Inference Endpoints)."""
    if isinstance(data, Mapping):
        data = data.get("similarities")
    values = expect_list(data, "sentence-similarity", "a list of scores")
    if len(values) != len(args.sentences) or not all(isinstance(v, int | float) for v in values):
        msg = f"expected {len(args.sentences)} scores, got {excerpt(str(values), 80)}"
        raise ResponseFormatError(msg, task="sentence-similarity")
    scores = [
        SentenceScore(index=i, sentence=s, score=float(v))
        for i, (s, v) in enumerate(zip(args.sentences, values, strict=True))
    ]
    return SentenceSimilarityOutput(scores=scores)


def render(out: SentenceSimilarityOutput) -> str:
    """``0.7786  Deep learning is so straightforward.`` per line, most similar first."""
    ranked = sorted(out.scores, key=lambda s: s.score, reverse=True)
    return "\n".join(f"{fmt_score(s.score)}  {s.sentence}" for s in ranked)


SPEC = TaskSpec(
    task="sentence-similarity",
    description=(
        "Score how similar in meaning sentences are to a source sentence. "
        "Returns scores, most similar first."
    ),
    input_model=SentenceSimilarityInput,
    output_model=SentenceSimilarityOutput,
    render=render,
    default_model="sentence-transformers/all-MiniLM-L6-v2",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="text",
    example={
        "source_sentence": "Machine learning is so easy.",
        "sentences": [
            "Deep learning is so straightforward.",
            "This is so difficult, like rocket science.",
            "I can't believe how much I struggled with this.",
        ],
    },
    hf_inference=HFInferenceWire(build, parse, pipeline="sentence-similarity"),
)
