"""sentence-embeddings: one vector per text from a sentence-transformers model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from hf_tools.errors import ResponseFormatError
from hf_tools.tasks import feature_extraction as fe
from hf_tools.tasks._base import HFInferenceWire, Media, Payload, TaskSpec, Texts, ToolInput


class SentenceEmbeddingsInput(ToolInput):
    """Arguments of the sentence_embeddings tool."""

    texts: Texts


class SentenceEmbeddingsOutput(BaseModel):
    """One vector per text, in input order."""

    model_config = ConfigDict(extra="allow")

    embeddings: list[list[float]]
    dim: int


def build(args: SentenceEmbeddingsInput, media: Mapping[str, Media]) -> Payload:
    """Same wire as feature-extraction: ``{"inputs": str | [str]}``."""
    return fe.build_body(fe.FeatureExtractionInput(texts=args.texts))


def parse(data: Any, args: SentenceEmbeddingsInput) -> SentenceEmbeddingsOutput:
    """Pooled vectors only; token-level answers mean the model is the wrong kind."""
    out = fe.parse(data, fe.FeatureExtractionInput(texts=args.texts))
    if not out.pooled:
        msg = (
            "the model returned token-level vectors; configure a sentence-transformers model "
            "for sentence-embeddings"
        )
        raise ResponseFormatError(msg, task="sentence-embeddings")
    return SentenceEmbeddingsOutput(embeddings=out.vectors, dim=out.shape[0])


def render(out: SentenceEmbeddingsOutput) -> str:
    """``2 embedding(s), dim 768; first: [...]``."""
    head = ", ".join(f"{v:.4f}" for v in out.embeddings[0][:3])
    n = len(out.embeddings)
    return f"{n} embedding(s), dim {out.dim}; first: [{head}, ...] (vectors in the artifact)"


SPEC = TaskSpec(
    task="sentence-embeddings",
    description=(
        "Embed sentences as one vector each for semantic search. Returns count and "
        "dimension; vectors are in the artifact."
    ),
    input_model=SentenceEmbeddingsInput,
    output_model=SentenceEmbeddingsOutput,
    render=render,
    default_model="sentence-transformers/distilbert-base-nli-mean-tokens",
    serving=(("hf-inference", "sentence-transformers/distilbert-base-nli-mean-tokens"),),
    family="text",
    example={"texts": "That is a happy person"},
    hf_inference=HFInferenceWire(build, parse, pipeline="feature-extraction"),
)
